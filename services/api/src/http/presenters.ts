import { formatIsoDuration } from '@model-persistence/cron';
import {
  AdminUserEntity,
  CardEntity,
  SourceDatabaseEntity,
  TaskHistoryEntity,
} from '@model-persistence/database';
import { PersistedInfoItem } from '../model-persistence/persisted-info-query.use-case';

/* JSON shapes of the API (snake_case, like the reference API). Passwords never leave the service. */

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function presentPersistedInfo(i: PersistedInfoItem) {
  return {
    id: i.id,
    database_id: i.databaseId,
    database_name: i.databaseName,
    card_id: i.cardId,
    card_name: i.cardName,
    question_slug: i.questionSlug,
    schema_name: i.schemaName,
    table_name: i.tableName,
    state: i.state,
    active: i.active,
    error: i.error,
    query_hash: i.queryHash,
    definition: i.definition,
    refresh_begin: i.refreshBegin,
    refresh_end: i.refreshEnd,
    state_change_at: i.stateChangeAt,
    last_success_at: i.lastSuccessAt,
    created_at: i.createdAt,
    creator: i.creator,
    refresh_cron: i.cardRefreshCron,
    next_fire_time: iso(i.nextFireTime),
    staleness_seconds: i.stalenessSeconds,
    max_staleness: i.cardMaxStalenessSeconds === null ? null : formatIsoDuration(i.cardMaxStalenessSeconds),
    max_staleness_seconds: i.cardMaxStalenessSeconds,
    staleness_limit_seconds: i.stalenessLimitSeconds,
    // why `stale`: beyond the model's max_staleness, or beyond twice its schedule interval (null: no limit)
    staleness_limit_source: i.stalenessLimitSource,
    stale: i.stale,
    // change detection: a model verified unchanged is fresh (staleness) without being rebuilt
    last_built_at: i.lastBuiltAt,
    since_last_build_seconds: i.sinceLastBuildSeconds,
  };
}

export function presentDatabase(d: SourceDatabaseEntity) {
  return {
    id: d.id,
    name: d.name,
    engine: d.engine,
    host: d.host,
    port: d.port,
    db_name: d.dbName,
    user: d.username,
    has_password: d.passwordEncrypted !== null,
    statement_timeout_ms: d.statementTimeoutMs,
    tls_mode: d.tlsMode,
    tls_ca_cert: d.tlsCaCert,
    privilege_warning: d.privilegeWarning,
    privilege_checked_at: iso(d.privilegeCheckedAt),
    persist_models_enabled: d.persistModelsEnabled,
    created_at: iso(d.createdAt),
    updated_at: iso(d.updatedAt),
  };
}

export function presentCard(c: CardEntity) {
  return {
    id: c.id,
    name: c.name,
    database_id: c.databaseId,
    sql: c.sql,
    type: c.type,
    archived: c.archived,
    refresh_cron: c.refreshCron,
    indexes: c.indexes ?? null,
    incremental: c.incremental
      ? {
          checkpoint_column: c.incremental.checkpointColumn,
          unique_key: c.incremental.uniqueKey,
          lookback: c.incremental.lookback,
          full_rebuild_cron: c.incremental.fullRebuildCron,
        }
      : null,
    max_staleness: c.maxStalenessSeconds === null ? null : formatIsoDuration(c.maxStalenessSeconds),
    max_staleness_seconds: c.maxStalenessSeconds,
    refresh_key: c.refreshKey ?? null,
    created_at: iso(c.createdAt),
    updated_at: iso(c.updatedAt),
  };
}

export function presentTask(t: TaskHistoryEntity) {
  return {
    id: Number(t.id),
    task: t.task,
    db_id: t.dbId,
    run_id: t.runId,
    started_at: iso(t.startedAt),
    ended_at: iso(t.endedAt),
    duration: t.duration,
    status: t.status,
    task_details: t.taskDetails,
  };
}

export function presentAdmin(a: AdminUserEntity) {
  return { id: a.id, email: a.email, name: a.name, active: a.active };
}
