export * from './quartz-cron';
export * from './model-cron';
