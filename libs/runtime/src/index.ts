export * from './logger';
export * from './bootstrap';
export * from './ops-server';
export * from './ops-gauges';
export * from './core.module';
export * from './periodic-job';
export * from './inbox-purge.job';
