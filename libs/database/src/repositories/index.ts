export * from './card.repository';
export * from './inbox.repository';
export * from './persisted-info.repository';
export * from './setting.repository';
export * from './source-database.repository';
export * from './task-history.repository';
