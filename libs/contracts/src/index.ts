export * from './topics';
export * from './events';
export * from './validate';
export * from './json-schemas';
export * from './consumer-groups';
