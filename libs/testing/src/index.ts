export * from './app-database';
export * from './kafka';
export * from './wait';
export * from './smtp';
export * from './service-process';
export * from './source-database';
export * from './private-broker';
export * from './private-postgres';
