export * from './env';
export * from './base-config';
export * from './secrets';
export * from './kafka-security';
