import { ConfigError } from '@model-persistence/config';
import { loadNotifierConfig } from './config';

describe('notifier config', () => {
  it('has working defaults', () => {
    const c = loadNotifierConfig({});
    expect(c.consumerGroup).toBe('notifier');
    expect(c.mail).toEqual({
      from: 'Model Persistence <model-persistence@localhost>',
      appName: 'Model Persistence',
      baseUrl: 'http://localhost:3000',
      timeZone: 'UTC',
    });
    expect(c.alerts).toEqual({
      repeatWindowMs: 86_400_000,
      recoveryEmails: true,
      runGraceMs: 30_000,
      orphanRunMs: 7_200_000,
    });
    expect(c.outbox).toEqual({ retryMinMs: 1000, retryMaxMs: 300_000, pollIntervalMs: 1000 });
    expect(c.purge).toEqual({
      alertRunRetentionMs: 7 * 86_400_000,
      notificationRetentionMs: 30 * 86_400_000,
      intervalMs: 3_600_000,
    });
    expect(c.inboxPurge).toEqual({
      consumer: 'notifier',
      retentionMs: 7 * 86_400_000,
      intervalMs: 3_600_000,
    });
    expect(c.smtp).toEqual({
      host: '127.0.0.1',
      port: 25,
      secure: false,
      auth: undefined,
      timeoutMs: 30_000,
    });
  });

  it('reads SMTP and alert settings', () => {
    const c = loadNotifierConfig({
      SMTP_HOST: 'smtp.example.com',
      SMTP_PORT: '465',
      SMTP_SECURE: 'true',
      SMTP_USER: 'u',
      SMTP_PASSWORD: 'p',
      APP_BASE_URL: 'https://mp.example.com/',
      ALERT_TIME_ZONE: 'Europe/Paris',
      RECOVERY_EMAILS: 'false',
    });
    expect(c.smtp).toMatchObject({
      host: 'smtp.example.com',
      port: 465,
      secure: true,
      auth: { user: 'u', pass: 'p' },
    });
    expect(c.mail.baseUrl).toBe('https://mp.example.com');
    expect(c.mail.timeZone).toBe('Europe/Paris');
    expect(c.alerts.recoveryEmails).toBe(false);
  });

  it('rejects bad values, naming each variable', () => {
    let error: unknown;
    try {
      loadNotifierConfig({
        ALERT_TIME_ZONE: 'Mars/Olympus',
        SMTP_PORT: '0',
        SMTP_USER: 'u',
        EMAIL_RETRY_MIN_MS: '5000',
        EMAIL_RETRY_MAX_MS: '1000',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('ALERT_TIME_ZONE');
    expect(message).toContain('SMTP_PORT');
  });
});
