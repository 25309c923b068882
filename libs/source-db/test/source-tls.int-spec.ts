import { PrivateMariadb, PrivatePostgres } from '@model-persistence/testing';
import { openSourceDriver } from '../src/open-source-driver';
import { SourceError } from '../src/source-error';
import type { SourceConnectionInfo, SourceDriver } from '../src/types';
import type { SourceTlsSettings } from '../src/tls-options';

/**
 * TLS of source connections against a private PostgreSQL cluster that accepts only TLS (plain TCP is rejected
 * by its pg_hba.conf), with a certificate for IP 127.0.0.1 signed by a CA made for this test.
 */
describe('source connections over TLS (private PostgreSQL, ssl=on, hostssl only)', () => {
  let pg: PrivatePostgres;
  const drivers: SourceDriver[] = [];

  beforeAll(async () => {
    pg = await PrivatePostgres.create('tls', { tls: true });
  }, 120_000);

  afterAll(async () => {
    for (const d of drivers) await d.close().catch(() => undefined);
    await pg?.destroy();
  }, 60_000);

  function driver(tls: SourceTlsSettings | undefined, host = '127.0.0.1'): SourceDriver {
    const conn: SourceConnectionInfo = {
      engine: 'postgres',
      host,
      port: pg.port,
      dbName: 'postgres',
      username: 'postgres',
      password: null,
      statementTimeoutMs: 10_000,
      tls,
    };
    const d = openSourceDriver(conn, { connectTimeoutMs: 5_000 });
    drivers.push(d);
    return d;
  }

  const ctx = { schemaName: 'mp_cache_tls_1', instanceUuid: 'u', settingsVersion: '1' };

  async function failure(d: SourceDriver): Promise<SourceError> {
    try {
      await d.tableExists('public', 'nothing');
    } catch (e) {
      return e as SourceError;
    }
    throw new Error('expected the connection to be refused');
  }

  it('verify-full with the right CA connects (and the server accepts only TLS)', async () => {
    const d = driver({ mode: 'verify-full', caCert: pg.requireTls().caCert });
    await expect(d.tableExists('public', 'nothing')).resolves.toBe(false);
    await expect(d.checkCanPersist(ctx)).resolves.toMatchObject({ ok: true });
  });

  it('verify-full with a wrong CA is refused with a classified TLS error', async () => {
    const e = await failure(driver({ mode: 'verify-full', caCert: pg.requireTls().otherCaCert }));
    expect(e).toBeInstanceOf(SourceError);
    expect(e.errorClass).toBe('connection');
    expect(e.details).toMatchObject({ tls: true });
    expect(e.message).toMatch(/TLS failed: .*(certificate|self-signed)/i);
    expect(e.message).toMatch(/tls_mode and tls_ca_cert/);
    // the can-persist check reports the same, at its first step
    const check = await driver({ mode: 'verify-full', caCert: pg.requireTls().otherCaCert }).checkCanPersist(
      ctx,
    );
    expect(check).toMatchObject({ ok: false, step: 'create-schema', errorClass: 'connection' });
    expect(!check.ok && check.message).toMatch(/TLS failed/);
  });

  it('verify-full checks the host name; verify-ca does not', async () => {
    // the certificate names IP 127.0.0.1 only
    const e = await failure(driver({ mode: 'verify-full', caCert: pg.requireTls().caCert }, 'localhost'));
    expect(e.details).toMatchObject({ tls: true, code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    await expect(
      driver({ mode: 'verify-ca', caCert: pg.requireTls().caCert }, 'localhost').tableExists('public', 'x'),
    ).resolves.toBe(false);
    const wrongCa = await failure(driver({ mode: 'verify-ca', caCert: pg.requireTls().otherCaCert }));
    expect(wrongCa.details).toMatchObject({ tls: true });
  });

  it('require encrypts without verifying; disable is plain TCP (refused by this server)', async () => {
    await expect(driver({ mode: 'require', caCert: null }).tableExists('public', 'x')).resolves.toBe(false);
    const plain = await failure(driver({ mode: 'disable', caCert: null }));
    expect(plain.message).toMatch(/no encryption|pg_hba/);
    const none = await failure(driver(undefined));
    expect(none.message).toMatch(/no encryption|pg_hba/);
  });
});

describe('source connections over TLS (private MariaDB, require_secure_transport)', () => {
  let maria: PrivateMariadb;
  const drivers: SourceDriver[] = [];

  beforeAll(async () => {
    maria = await PrivateMariadb.create('tls', { tls: true });
  }, 120_000);

  afterAll(async () => {
    for (const d of drivers) await d.close().catch(() => undefined);
    await maria?.destroy();
  }, 60_000);

  function driver(tls: SourceTlsSettings | undefined, host = '127.0.0.1'): SourceDriver {
    const d = openSourceDriver(
      {
        engine: 'mysql',
        host,
        port: maria.port,
        dbName: 'mysql',
        username: 'root',
        password: null,
        statementTimeoutMs: 10_000,
        tls,
      },
      { connectTimeoutMs: 5_000 },
    );
    drivers.push(d);
    return d;
  }

  async function failure(d: SourceDriver): Promise<SourceError> {
    try {
      await d.tableExists('mysql', 'nothing');
    } catch (e) {
      return e as SourceError;
    }
    throw new Error('expected the connection to be refused');
  }

  it('verify-full with the right CA connects and passes the check', async () => {
    const d = driver({ mode: 'verify-full', caCert: maria.requireTls().caCert }, 'localhost');
    await expect(d.tableExists('mysql', 'nothing')).resolves.toBe(false);
    await expect(
      d.checkCanPersist({ schemaName: 'mp_cache_tls_2', instanceUuid: 'u', settingsVersion: '1' }),
    ).resolves.toMatchObject({ ok: true });
  });

  it('a wrong CA is refused with a classified TLS error; no TLS is refused by the server', async () => {
    const e = await failure(driver({ mode: 'verify-ca', caCert: maria.requireTls().otherCaCert }));
    expect(e.errorClass).toBe('connection');
    expect(e.details).toMatchObject({ tls: true });
    expect(e.message).toMatch(/TLS failed: .*certificate/i);
    await expect(driver({ mode: 'require', caCert: null }).tableExists('mysql', 'x')).resolves.toBe(false);
    const plain = await failure(driver({ mode: 'disable', caCert: null }));
    expect(plain.errorClass).not.toBe('query');
  });
});
