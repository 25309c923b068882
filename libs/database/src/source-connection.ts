import type { SourceDatabaseEntity, SourceTlsMode } from './entities';
import type { SecretBox } from './secret-box';

/** What a source driver needs to connect (structurally the SourceConnectionInfo of @model-persistence/source-db). */
export interface SourceConnectionSettings {
  engine: SourceDatabaseEntity['engine'];
  host: string;
  port: number;
  dbName: string;
  username: string;
  password: string | null;
  statementTimeoutMs: number;
  tls: { mode: SourceTlsMode; caCert: string | null };
}

/**
 * The one place a stored source database becomes connection settings: the password is decrypted here, just
 * before connecting (api's can-persist check and the refresher both use it).
 */
export function sourceConnectionSettings(db: SourceDatabaseEntity, box: SecretBox): SourceConnectionSettings {
  return {
    engine: db.engine,
    host: db.host,
    port: db.port,
    dbName: db.dbName,
    username: db.username,
    password: db.passwordEncrypted ? box.decrypt(db.passwordEncrypted) : null,
    statementTimeoutMs: db.statementTimeoutMs,
    tls: { mode: db.tlsMode ?? 'disable', caCert: db.tlsCaCert ?? null },
  };
}
