export * from './metrics';
export * from './sdk';
export * from './gauges';
export * from './process-metrics';
export * from './trace-context';
