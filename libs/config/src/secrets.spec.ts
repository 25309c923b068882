import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import {
  ConfigError,
  decodeSecretsKey,
  describeValue,
  isSecretVariable,
  loadBaseConfig,
  loadServiceConfig,
  redactUrlCredentials,
} from './index';

/** The stringData placeholders of the shipped k8s Secret. */
function k8sSecretPlaceholders(): Record<string, string> {
  const text = readFileSync(join(__dirname, '../../../deploy/k8s/secret.yaml'), 'utf8');
  const data = text.split('stringData:')[1] ?? '';
  const out: Record<string, string> = {};
  for (const line of data.split('\n')) {
    const m = /^\s+([A-Z0-9_]+):\s*(.+?)\s*$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

const serviceSchema = z.object({
  API_BOOTSTRAP_TOKEN: z.string().min(16).optional(),
  SMTP_USER: z.string().optional(),
  SMTP_PASSWORD: z.string().optional(),
});

function problemsOf(env: Record<string, string>): string {
  try {
    loadServiceConfig('api', serviceSchema, (e) => e, env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).message;
  }
  throw new Error('expected a ConfigError');
}

const GOOD_KEY = randomBytes(32).toString('hex');
const GOOD_TOKEN = randomBytes(32).toString('base64url');

describe('production secrets', () => {
  it('refuses every placeholder of deploy/k8s/secret.yaml, without printing any of them', () => {
    const placeholders = k8sSecretPlaceholders();
    expect(Object.keys(placeholders)).toEqual(
      expect.arrayContaining(['DATABASE_URL', 'SECRETS_KEY', 'API_BOOTSTRAP_TOKEN', 'SMTP_PASSWORD']),
    );
    const msg = problemsOf({ NODE_ENV: 'production', ...placeholders });
    for (const name of ['DATABASE_URL', 'SECRETS_KEY', 'API_BOOTSTRAP_TOKEN', 'SMTP_PASSWORD']) {
      expect(msg).toMatch(new RegExp(`${name} \\(.*\\): holds a placeholder`));
    }
    expect(msg).not.toMatch(/CHANGE-ME/i);
    // user names (SMTP_USER, KAFKA_SASL_USERNAME) are not secret; every secret value stays hidden
    for (const [name, value] of Object.entries(placeholders)) {
      if (isSecretVariable(name) || name === 'DATABASE_URL') expect(msg).not.toContain(value);
    }
  });

  it('the same values start in development (placeholders are a production concern)', () => {
    const { SMTP_USER, SMTP_PASSWORD, API_BOOTSTRAP_TOKEN } = k8sSecretPlaceholders();
    expect(() =>
      loadServiceConfig('api', serviceSchema, (e) => e, { SMTP_USER, SMTP_PASSWORD, API_BOOTSTRAP_TOKEN }),
    ).not.toThrow();
  });

  it('accepts real secrets in production', () => {
    const c = loadServiceConfig('api', serviceSchema, (e) => e, {
      NODE_ENV: 'production',
      SECRETS_KEY: GOOD_KEY,
      API_BOOTSTRAP_TOKEN: GOOD_TOKEN,
      DATABASE_URL: 'postgres://mp:s3cr3t-Pa55@db:5432/mp',
    });
    expect(c.secretsKey).toBe(GOOD_KEY);
    expect(() =>
      loadBaseConfig('api', { NODE_ENV: 'production', SECRETS_KEY: randomBytes(32).toString('base64') }),
    ).not.toThrow();
  });

  it.each([
    ['unset', undefined],
    ['the development key', 'dev-only-secrets-key-change-me'],
    ['16 characters', 'abcdefghijklmnop'],
    ['63 hex digits', GOOD_KEY.slice(1)],
    ['hex of a repeated byte', 'ab'.repeat(32)],
    ['base64 of 31 bytes', randomBytes(31).toString('base64')],
    ['a long passphrase', 'correct horse battery staple correct horse battery'],
  ])('refuses a SECRETS_KEY that is not 32 random bytes: %s', (_label, key) => {
    const env: Record<string, string> = { NODE_ENV: 'production' };
    if (key !== undefined) env.SECRETS_KEY = key;
    const msg = problemsOf(env);
    expect(msg).toMatch(/SECRETS_KEY \((unset|set, hidden)\): (must be|holds a placeholder)/);
    if (key) expect(msg).not.toContain(key);
  });

  it('refuses short or empty bearer tokens in production, without printing them', () => {
    const short = 'abcdefghijklmnopqrst';
    const msg = problemsOf({ NODE_ENV: 'production', SECRETS_KEY: GOOD_KEY, API_BOOTSTRAP_TOKEN: short });
    expect(msg).toMatch(/API_BOOTSTRAP_TOKEN \(set, hidden\): must be at least 32/);
    expect(msg).not.toContain(short);
    const empty = problemsOf({ NODE_ENV: 'production', SECRETS_KEY: GOOD_KEY, API_BOOTSTRAP_TOKEN: '' });
    expect(empty).toContain('API_BOOTSTRAP_TOKEN (set, empty)');
  });

  it('decodes SECRETS_KEY as hex or base64 of exactly 32 bytes', () => {
    const bytes = randomBytes(32);
    expect(decodeSecretsKey(bytes.toString('hex'))).toEqual(bytes);
    expect(decodeSecretsKey(bytes.toString('base64'))).toEqual(bytes);
    expect(decodeSecretsKey(bytes.toString('base64url'))).toEqual(bytes);
    expect(decodeSecretsKey(randomBytes(33).toString('base64'))).toBeNull();
  });
});

describe('config errors never print secret values', () => {
  it('masks the password inside an invalid DATABASE_URL and hides secret variables', () => {
    const msg = problemsOf({
      DATABASE_URL: 'mysql://admin:hunter2-pw@db.internal/mp?password=other-pw',
      SECRETS_KEY: 'short-key',
      API_BOOTSTRAP_TOKEN: 'tiny-token',
    });
    expect(msg).toContain('DATABASE_URL ("mysql://admin:***@db.internal/mp?password=***")');
    expect(msg).toContain('SECRETS_KEY (set, hidden)');
    expect(msg).toContain('API_BOOTSTRAP_TOKEN (set, hidden)');
    for (const secret of ['hunter2-pw', 'other-pw', 'short-key', 'tiny-token'])
      expect(msg).not.toContain(secret);
  });

  it('keeps ordinary values readable', () => {
    expect(describeValue('KAFKA_BROKERS', 'nope')).toBe('"nope"');
    expect(describeValue('SMTP_PASSWORD', 'x')).toBe('set, hidden');
    expect(describeValue('KAFKA_SASL_PASSWORD', undefined)).toBe('unset');
    expect(redactUrlCredentials('postgres://u@h/db')).toBe('postgres://u@h/db');
    expect(redactUrlCredentials('postgres://u:p%40ss@h/db')).toBe('postgres://u:***@h/db');
  });
});
