import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { SourceConnectionInfo } from './types';

/**
 * TLS of a source connection, one meaning for both engines (libpq's sslmode names):
 * - disable: plain TCP (also when no setting is stored);
 * - require: encrypted, the server certificate is not checked (protects against eavesdropping only);
 * - verify-ca: the certificate must chain to `caCert` (or the system CAs when none is given);
 * - verify-full: verify-ca plus the host name (or IP) must match the certificate.
 * The stored values are owned by the app database (SOURCE_TLS_MODES + a CHECK constraint); the compiler keeps
 * this type in step where stored settings are passed to openSourceDriver.
 */
export type SourceTlsMode = 'disable' | 'require' | 'verify-ca' | 'verify-full';

export interface SourceTlsSettings {
  mode: SourceTlsMode;
  /** PEM CA certificate(s) the server certificate must chain to; null: the system CAs. */
  caCert: string | null;
}

const skipIdentity = () => undefined;

/** pg's `ssl` option. `false` (not undefined) so PGSSLMODE in the environment cannot change it. */
export function pgSslOptions(conn: SourceConnectionInfo): false | TlsConnectionOptions {
  const tls = conn.tls;
  if (!tls || tls.mode === 'disable') return false;
  if (tls.mode === 'require') return { rejectUnauthorized: false };
  return {
    rejectUnauthorized: true,
    ...(tls.caCert ? { ca: tls.caCert } : {}),
    ...(tls.mode === 'verify-ca' ? { checkServerIdentity: skipIdentity } : {}),
  };
}

/** mysql2's `ssl` option (its `verifyIdentity` checks the host name, as libpq's verify-full). */
export function mysqlSslOptions(
  conn: SourceConnectionInfo,
): undefined | { ca?: string; rejectUnauthorized: boolean; verifyIdentity: boolean } {
  const tls = conn.tls;
  if (!tls || tls.mode === 'disable') return undefined;
  if (tls.mode === 'require') return { rejectUnauthorized: false, verifyIdentity: false };
  return {
    rejectUnauthorized: true,
    verifyIdentity: tls.mode === 'verify-full',
    ...(tls.caCert ? { ca: tls.caCert } : {}),
  };
}
