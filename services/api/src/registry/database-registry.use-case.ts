import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '@model-persistence/config';
import {
  PersistedInfoRepository,
  SecretBox,
  SourceDatabaseEntity,
  SourceDatabaseRepository,
  SourceEngine,
  SourceTlsMode,
} from '@model-persistence/database';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { ApiConfig } from '../config';
import { ChangeNotifier } from '../common/change-notifier';
import { isUniqueViolation } from '../common/pg-errors';
import { assertTlsConsistent } from './tls-settings';

export interface DatabaseInput {
  name: string;
  engine: SourceEngine;
  host: string;
  port: number;
  dbName: string;
  user: string;
  password?: string | null;
  statementTimeoutMs?: number;
  tlsMode?: SourceTlsMode;
  tlsCaCert?: string | null;
}

/** The fields that say which server and account a password is for. */
const TARGET_FIELDS = ['engine', 'host', 'port', 'username'] as const;

/**
 * True when an update points the connection at another server or account: the stored password was given for
 * the old target and must not follow (the database enforces the same rule with a trigger).
 */
export function changesTarget(
  current: SourceDatabaseEntity,
  columns: Partial<SourceDatabaseEntity>,
): boolean {
  return TARGET_FIELDS.some((f) => columns[f] !== undefined && columns[f] !== current[f]);
}

/** Source databases: CRUD with the password encrypted at rest (never returned). */
@Injectable()
export class DatabaseRegistryUseCase {
  private readonly box: SecretBox;

  constructor(
    @Inject(APP_CONFIG) config: ApiConfig,
    private readonly databases: SourceDatabaseRepository,
    private readonly persistedInfo: PersistedInfoRepository,
    private readonly notifier: ChangeNotifier,
  ) {
    this.box = new SecretBox(config.secretsKey);
  }

  list(): Promise<SourceDatabaseEntity[]> {
    return this.databases.findAll();
  }

  async get(id: number): Promise<SourceDatabaseEntity> {
    const db = await this.databases.findById(id);
    if (!db) throw new DomainError(ErrorCode.NotFound, `Database ${id} not found.`);
    return db;
  }

  async create(input: DatabaseInput): Promise<SourceDatabaseEntity> {
    assertTlsConsistent(input.tlsMode ?? 'disable', input.tlsCaCert ?? null, input.engine, input.host);
    const db = await this.conflictAware(input.name, () => this.databases.create(this.columns(input)));
    await this.notifier.send(this.notifier.configChanged('database', db.id, 'created'));
    return db;
  }

  /** `passwordCleared`: the target changed without a new password, so the stored one was dropped. */
  async update(
    id: number,
    input: Partial<DatabaseInput>,
  ): Promise<{ database: SourceDatabaseEntity; passwordCleared: boolean }> {
    const current = await this.get(id);
    const columns = this.columns(input);
    assertTlsConsistent(
      columns.tlsMode ?? current.tlsMode ?? 'disable',
      (columns.tlsCaCert !== undefined ? columns.tlsCaCert : current.tlsCaCert) ?? null,
      columns.engine ?? current.engine,
      columns.host ?? current.host,
    );
    const passwordCleared =
      input.password === undefined && current.passwordEncrypted !== null && changesTarget(current, columns);
    if (passwordCleared) columns.passwordEncrypted = null;
    if (Object.keys(columns).length > 0) {
      await this.conflictAware(input.name, () => this.databases.update(id, columns), id);
    }
    await this.notifier.send(this.notifier.configChanged('database', id, 'updated'));
    return { database: await this.get(id), passwordCleared };
  }

  /**
   * Deleting cascades to cards and persisted rows, which would orphan cache tables in the source database:
   * refused (409) while any row is not yet pruned. Unpersist the database and let prune drop the tables first.
   */
  async delete(id: number): Promise<void> {
    await this.get(id);
    const remaining = (await this.persistedInfo.findByDatabase(id)).filter((r) => r.state !== 'off');
    if (remaining.length > 0) {
      throw new DomainError(
        ErrorCode.Conflict,
        `Database ${id} still has ${remaining.length} persisted model(s) with cache tables; unpersist it and wait for prune before deleting.`,
      );
    }
    await this.databases.delete(id);
    await this.notifier.send(this.notifier.configChanged('database', id, 'deleted'));
  }

  private columns(input: Partial<DatabaseInput>): Partial<SourceDatabaseEntity> {
    const c: Partial<SourceDatabaseEntity> = {};
    if (input.name !== undefined) c.name = input.name;
    if (input.engine !== undefined) c.engine = input.engine;
    if (input.host !== undefined) c.host = input.host;
    if (input.port !== undefined) c.port = input.port;
    if (input.dbName !== undefined) c.dbName = input.dbName;
    if (input.user !== undefined) c.username = input.user;
    if (input.password !== undefined)
      c.passwordEncrypted = input.password === null ? null : this.box.encrypt(input.password);
    if (input.statementTimeoutMs !== undefined) c.statementTimeoutMs = input.statementTimeoutMs;
    if (input.tlsMode !== undefined) c.tlsMode = input.tlsMode;
    if (input.tlsCaCert !== undefined) c.tlsCaCert = input.tlsCaCert;
    return c;
  }

  /** Checks the name first (so the common case never logs a failed INSERT with its parameters). */
  private async conflictAware<T>(name: string | undefined, work: () => Promise<T>, id?: number): Promise<T> {
    const clash = name === undefined ? null : await this.databases.repo().findOneBy({ name });
    if (clash && clash.id !== id) {
      throw new DomainError(ErrorCode.Conflict, `A database named ${JSON.stringify(name)} already exists.`);
    }
    try {
      return await work();
    } catch (e) {
      if (isUniqueViolation(e)) {
        throw new DomainError(ErrorCode.Conflict, `A database named ${JSON.stringify(name)} already exists.`);
      }
      throw e;
    }
  }
}
