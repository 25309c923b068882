/*
 * Source-database engine layer (PostgreSQL, MySQL/MariaDB): cache naming, model SQL safety, the atomic
 * build-and-swap refresh, the can-persist check, prune drops and error classification.
 */
export * from './types';
export * from './naming';
export * from './model-sql';
export * from './model-statement';
export * from './model-references';
export * from './source-error';
export * from './postgres-source.driver';
export * from './mysql-source.driver';
export * from './open-source-driver';
export * from './tls-options';
export * from './privilege-audit';
export * from './source-db.port';
export * from './incremental';
export * from './change-signature';
