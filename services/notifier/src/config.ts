import { envBool, envInt, envString, loadServiceConfig } from '@model-persistence/config';
import { inboxPurgeEnv, InboxPurgeOptions, inboxPurgeOptions } from '@model-persistence/runtime';
import { ConsumerGroups } from '@model-persistence/contracts';
import { z } from 'zod';
import { NOTIFIER_CONSUMER } from './notifier.constants';

const DAY_MS = 24 * 60 * 60 * 1000;

const timeZone = z
  .string()
  .min(1)
  .default('UTC')
  .refine((tz) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  }, 'must be an IANA time zone such as UTC or Europe/Paris');

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v === '' ? undefined : v));

/** notifier configuration: base variables plus this service's own (README "Configuration"). */
export const notifierEnvSchema = z
  .object({
    SMTP_HOST: envString('127.0.0.1'),
    SMTP_PORT: envInt(25, 1, 65535),
    /** true: TLS from the first byte (port 465); false: plain, upgraded with STARTTLS when offered. */
    SMTP_SECURE: envBool(false),
    SMTP_USER: optionalText,
    SMTP_PASSWORD: optionalText,
    SMTP_TIMEOUT_MS: envInt(30_000, 1_000, 600_000),
    MAIL_FROM: envString('Model Persistence <model-persistence@localhost>'),
    APP_NAME: envString('Model Persistence'),
    APP_BASE_URL: z.url().default('http://localhost:3000'),
    ALERT_TIME_ZONE: timeZone,
    ALERT_REPEAT_WINDOW_MS: envInt(24 * 60 * 60 * 1000, 0),
    RECOVERY_EMAILS: envBool(true),
    /** How long a completed run waits for its per-model events before it is decided with what arrived. */
    ALERT_RUN_GRACE_MS: envInt(30_000, 0, 3_600_000),
    /** Failures of a run that never completes (its refresher died) are announced after this long. */
    ALERT_ORPHAN_RUN_MS: envInt(2 * 60 * 60 * 1000, 1_000, 7 * 24 * 60 * 60 * 1000),
    EMAIL_RETRY_MIN_MS: envInt(1_000, 10, 3_600_000),
    EMAIL_RETRY_MAX_MS: envInt(300_000, 10, 86_400_000),
    EMAIL_POLL_INTERVAL_MS: envInt(1_000, 10, 60_000),
    /** Decided alert runs (alert_run, alert_run_result) are kept this long, then purged. */
    ALERT_RUN_RETENTION_DAYS: envInt(7, 1, 3650),
    /** Sent or dropped emails (notification_outbox) are kept this long, then purged. */
    NOTIFICATION_RETENTION_DAYS: envInt(30, 1, 3650),
    /** How often the notifier's purge job runs. */
    NOTIFIER_PURGE_INTERVAL_MS: envInt(60 * 60 * 1000, 1_000, 24 * 60 * 60 * 1000),
    ...inboxPurgeEnv,
  })
  .refine((e) => e.EMAIL_RETRY_MAX_MS >= e.EMAIL_RETRY_MIN_MS, {
    path: ['EMAIL_RETRY_MAX_MS'],
    message: 'must be at least EMAIL_RETRY_MIN_MS',
  })
  .refine((e) => (e.SMTP_USER === undefined) === (e.SMTP_PASSWORD === undefined), {
    path: ['SMTP_PASSWORD'],
    message: 'SMTP_USER and SMTP_PASSWORD must be set together',
  });

export interface NotifierSettings {
  consumerGroup: string;
  smtp: {
    host: string;
    port: number;
    secure: boolean;
    auth?: { user: string; pass: string };
    timeoutMs: number;
  };
  mail: { from: string; appName: string; baseUrl: string; timeZone: string };
  alerts: { repeatWindowMs: number; recoveryEmails: boolean; runGraceMs: number; orphanRunMs: number };
  outbox: { retryMinMs: number; retryMaxMs: number; pollIntervalMs: number };
  purge: { alertRunRetentionMs: number; notificationRetentionMs: number; intervalMs: number };
  inboxPurge: InboxPurgeOptions;
}

export type NotifierConfig = ReturnType<typeof loadNotifierConfig>;

export function loadNotifierConfig(env = process.env) {
  return loadServiceConfig(
    'notifier',
    notifierEnvSchema,
    (e): NotifierSettings => ({
      consumerGroup: ConsumerGroups.notifier.group,
      smtp: {
        host: e.SMTP_HOST,
        port: e.SMTP_PORT,
        secure: e.SMTP_SECURE,
        auth:
          e.SMTP_USER !== undefined && e.SMTP_PASSWORD !== undefined
            ? { user: e.SMTP_USER, pass: e.SMTP_PASSWORD }
            : undefined,
        timeoutMs: e.SMTP_TIMEOUT_MS,
      },
      mail: {
        from: e.MAIL_FROM,
        appName: e.APP_NAME,
        baseUrl: e.APP_BASE_URL.replace(/\/+$/, ''),
        timeZone: e.ALERT_TIME_ZONE,
      },
      alerts: {
        repeatWindowMs: e.ALERT_REPEAT_WINDOW_MS,
        recoveryEmails: e.RECOVERY_EMAILS,
        runGraceMs: e.ALERT_RUN_GRACE_MS,
        orphanRunMs: e.ALERT_ORPHAN_RUN_MS,
      },
      outbox: {
        retryMinMs: e.EMAIL_RETRY_MIN_MS,
        retryMaxMs: e.EMAIL_RETRY_MAX_MS,
        pollIntervalMs: e.EMAIL_POLL_INTERVAL_MS,
      },
      purge: {
        alertRunRetentionMs: e.ALERT_RUN_RETENTION_DAYS * DAY_MS,
        notificationRetentionMs: e.NOTIFICATION_RETENTION_DAYS * DAY_MS,
        intervalMs: e.NOTIFIER_PURGE_INTERVAL_MS,
      },
      inboxPurge: inboxPurgeOptions(NOTIFIER_CONSUMER, e),
    }),
    env,
  );
}
