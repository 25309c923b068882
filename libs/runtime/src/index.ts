export * from './logger';
export * from './bootstrap';
