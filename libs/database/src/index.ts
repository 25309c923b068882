export * from './entities';
export * from './migrations';
export * from './repositories';
export * from './data-source';
export * from './database.module';
export * from './settings';
export * from './secret-box';
export * from './source-connection';
