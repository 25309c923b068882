import { classifySourceError } from './source-error';
import { mysqlSslOptions, pgSslOptions } from './tls-options';
import type { SourceConnectionInfo } from './types';

const base: SourceConnectionInfo = {
  engine: 'postgres',
  host: 'db',
  port: 5432,
  dbName: 'd',
  username: 'u',
  password: null,
  statementTimeoutMs: 1000,
};
const CA = '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----';

describe('TLS connect options', () => {
  it('PostgreSQL: disable is an explicit false; verify modes reject unknown certificates', () => {
    expect(pgSslOptions(base)).toBe(false);
    expect(pgSslOptions({ ...base, tls: { mode: 'disable', caCert: null } })).toBe(false);
    expect(pgSslOptions({ ...base, tls: { mode: 'require', caCert: null } })).toEqual({
      rejectUnauthorized: false,
    });
    const full = pgSslOptions({ ...base, tls: { mode: 'verify-full', caCert: CA } });
    expect(full).toEqual({ rejectUnauthorized: true, ca: CA });
    const ca = pgSslOptions({ ...base, tls: { mode: 'verify-ca', caCert: CA } }) as {
      checkServerIdentity?: unknown;
    };
    expect(ca).toMatchObject({ rejectUnauthorized: true, ca: CA });
    expect(typeof ca.checkServerIdentity).toBe('function');
  });

  it('MySQL/MariaDB: the same four modes', () => {
    const my = { ...base, engine: 'mysql' as const };
    expect(mysqlSslOptions(my)).toBeUndefined();
    expect(mysqlSslOptions({ ...my, tls: { mode: 'require', caCert: null } })).toEqual({
      rejectUnauthorized: false,
      verifyIdentity: false,
    });
    expect(mysqlSslOptions({ ...my, tls: { mode: 'verify-ca', caCert: CA } })).toEqual({
      rejectUnauthorized: true,
      verifyIdentity: false,
      ca: CA,
    });
    expect(mysqlSslOptions({ ...my, tls: { mode: 'verify-full', caCert: null } })).toEqual({
      rejectUnauthorized: true,
      verifyIdentity: true,
    });
  });

  it('classifies certificate and negotiation failures as TLS connection errors', () => {
    const bad = Object.assign(new Error('self-signed certificate in certificate chain'), {
      code: 'SELF_SIGNED_CERT_IN_CHAIN',
    });
    const e = classifySourceError(bad, 'postgres');
    expect(e.errorClass).toBe('connection');
    expect(e.details).toMatchObject({ tls: true, code: 'SELF_SIGNED_CERT_IN_CHAIN' });
    expect(e.message).toMatch(/^TLS failed: self-signed certificate/);
    const noTls = classifySourceError(new Error('The server does not support SSL connections'), 'postgres');
    expect(noTls.details).toMatchObject({ tls: true });
    const mysql = classifySourceError(
      Object.assign(new Error('Server does not support secure connection'), {
        code: 'HANDSHAKE_NO_SSL_SUPPORT',
      }),
      'mysql',
    );
    expect(mysql.details).toMatchObject({ tls: true });
  });
});
