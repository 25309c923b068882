export * from './quartz-cron';
