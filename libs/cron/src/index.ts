export * from './quartz-cron';
export * from './model-cron';
export { QuartzPattern } from './quartz-calendar';
export * from './freshness';
