import { describeQuartz } from './quartz-description';

describe('describeQuartz', () => {
  it.each([
    ['0 0 0/6 * * ? *', 'At minute 0, every 6 hours starting at hour 0, every day'],
    ['0 0/5 * * * ? *', 'Every 5 minutes starting at minute 0, every day'],
    ['0 30 2 * * ? *', 'At 02:30:00, every day'],
    ['0 0 9 ? * MON-FRI *', 'At 09:00:00, on Monday to Friday'],
    ['0 15 10 L * ? *', 'At 10:15:00, on the last day of the month'],
    ['0 0 12 ? * 6#3 *', 'At 12:00:00, on the third Friday of the month'],
    ['0 0 8 1,15 JAN,JUL ? *', 'At 08:00:00, on day 1 and day 15 of the month, in January and July'],
    ['* * * * * ? *', 'Every second, every minute, every day'],
    ['0 * * * * ? *', 'Every minute, every day'],
    ['0 0 * * * ? *', 'At minute 0, every hour, every day'],
  ])('%s → %s', (cron, words) => {
    expect(describeQuartz(cron)).toBe(words);
  });
});
