import { z } from 'zod';
import type { Env } from './env';

/** Variables whose value is a secret as a whole (never printed, not even in part). */
const SECRET_NAME = /(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|CREDENTIAL|PRIVATE|(^|_)KEY$)/i;

export function isSecretVariable(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** `scheme://user:password@host` → `scheme://user:***@host`; `?password=x` → `?password=***`. */
export function redactUrlCredentials(value: string): string {
  return value
    .replace(/([a-z][a-z0-9+.-]*:\/\/)([^@/?#\s]*)@/gi, (_m, scheme: string, userinfo: string) => {
      const colon = userinfo.indexOf(':');
      return colon < 0 ? `${scheme}${userinfo}@` : `${scheme}${userinfo.slice(0, colon)}:***@`;
    })
    .replace(/([?&;](?:password|pass|pwd|secret|token|sslpassword|sslkey)=)[^&;#\s]*/gi, '$1***');
}

/** How a config problem shows a variable's value: secrets hidden, credentials inside URLs masked. */
export function describeValue(name: string, value: string | undefined): string {
  if (value === undefined) return 'unset';
  if (isSecretVariable(name)) return value === '' ? 'set, empty' : 'set, hidden';
  const shown = redactUrlCredentials(value);
  return JSON.stringify(shown.length > 80 ? `${shown.slice(0, 80)}…` : shown);
}

/** The placeholders of deploy/k8s/secret.yaml (`CHANGE-ME…`) and their usual spellings. */
const PLACEHOLDER = /CHANGE[-_ ]?ME|REPLACE[-_ ]?ME|<\s*(password|secret|token)\s*>/i;

/** Bearer tokens shorter than this are refused in production (a generated token has 43+ characters). */
export const MIN_PRODUCTION_TOKEN_LENGTH = 32;

/**
 * The 32 bytes SECRETS_KEY must encode in production: 64 hex digits or base64/base64url of 32 bytes
 * (`openssl rand -hex 32` / `openssl rand -base64 32`). The secret box derives its AES-256 key from the text
 * with SHA-256 (so development keys of any length keep working), which is only as strong as the text: hence
 * 32 random bytes in production.
 */
export function decodeSecretsKey(value: string): Buffer | null {
  if (/^[0-9a-fA-F]{64}$/.test(value)) return Buffer.from(value, 'hex');
  if (/^[A-Za-z0-9+/]{43}=?$/.test(value) || /^[A-Za-z0-9_-]{43}=?$/.test(value)) {
    const bytes = Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    return bytes.length === 32 ? bytes : null;
  }
  return null;
}

/** 32 random bytes almost surely hold 20+ distinct values; a repeated pattern ("0000…", "abab…") does not. */
function looksRandom(bytes: Buffer): boolean {
  return new Set(bytes).size >= 16;
}

/** The variable names a config schema reads (an object schema, possibly refined or piped). */
export function schemaKeys(schema: z.ZodType): string[] {
  const s = schema as unknown as { shape?: Record<string, unknown>; _zod?: { def?: { in?: z.ZodType } } };
  if (s.shape && typeof s.shape === 'object') return Object.keys(s.shape);
  const inner = s._zod?.def?.in;
  return inner ? schemaKeys(inner) : [];
}

/**
 * Problems that make a production start-up unsafe: a placeholder in any variable the service reads, a
 * SECRETS_KEY that is not 32 random bytes, a short bearer token. Values are never quoted.
 */
export function productionSecretProblems(env: Env, keys: readonly string[]): string[] {
  const problems: string[] = [];
  for (const name of [...new Set(keys)].sort()) {
    const value = env[name];
    if (value === undefined) continue;
    if (PLACEHOLDER.test(value)) {
      problems.push(
        `${name} (${describeValue(name, value)}): holds a placeholder (as in deploy/k8s/secret.yaml); set the real value for production`,
      );
      continue;
    }
    if (/TOKEN$/i.test(name) && value.length < MIN_PRODUCTION_TOKEN_LENGTH) {
      problems.push(
        `${name} (${describeValue(name, value)}): must be at least ${MIN_PRODUCTION_TOKEN_LENGTH} random characters in production`,
      );
    }
  }
  if (keys.includes('SECRETS_KEY')) {
    const key = env.SECRETS_KEY;
    const bytes = key === undefined ? null : decodeSecretsKey(key);
    if (key === undefined) {
      problems.push('SECRETS_KEY (unset): must be set in production (openssl rand -hex 32)');
    } else if (!PLACEHOLDER.test(key) && (!bytes || !looksRandom(bytes))) {
      problems.push(
        `SECRETS_KEY (${describeValue('SECRETS_KEY', key)}): must be 32 random bytes in production, as 64 hex digits or base64 (openssl rand -hex 32)`,
      );
    }
  }
  return problems;
}
