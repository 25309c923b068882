import type { SourceConnectionInfo } from '@model-persistence/source-db';
import type { SourceDatabaseEntity } from './entities';
import type { SecretBox } from './secret-box';

/** What a source driver needs to connect: the one SourceConnectionInfo of @model-persistence/source-db. */
export type SourceConnectionSettings = SourceConnectionInfo;

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
