export * from './app-database';
export * from './kafka';
export * from './wait';
