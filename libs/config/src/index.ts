export * from './env';
export * from './base-config';
