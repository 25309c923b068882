export * from './error-code';
export * from './domain-error';
export * from './http-status';
export * from './disposition';
