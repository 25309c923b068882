import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { TableDefinition } from '../entities';
import { PersistedState } from '../state/persisted-state-machine';

/** A persisted_info row joined with its card and database, as the admin API lists it (timestamps: ISO-8601 UTC). */
export interface PersistedInfoDetail {
  id: number;
  databaseId: number;
  cardId: number | null;
  questionSlug: string;
  schemaName: string;
  tableName: string;
  definition: TableDefinition | null;
  queryHash: string | null;
  active: boolean;
  state: PersistedState;
  refreshBegin: string | null;
  refreshEnd: string | null;
  stateChangeAt: string | null;
  error: string | null;
  createdAt: string;
  creator: string | null;
  lastSuccessAt: string | null;
  cardName: string | null;
  cardType: string | null;
  cardArchived: boolean | null;
  cardRefreshCron: string | null;
  /** The card's freshness target in seconds (null: none). */
  cardMaxStalenessSeconds: number | null;
  databaseName: string;
  databasePersistEnabled: boolean;
  /**
   * Whole seconds since the cache was last known current (null if never refreshed): since its last build, or its
   * last check that found its inputs unchanged (change detection), whichever is newer.
   */
  stalenessSeconds: number | null;
  /** End of the last real build (or merge) of the cache table. */
  lastBuiltAt: string | null;
  /**
   * Whole seconds since the last build: the cache's content (the data as the model saw it) has not changed since;
   * with change detection, a model is rebuilt only when its data changed.
   */
  sinceLastBuildSeconds: number | null;
  /** Whole seconds since the last success, or since the row was created when it never succeeded (what "stale" measures). */
  ageSeconds: number;
}

/**
 * The `stale` filter: a live model of a live card whose age (since its last success, else since it was created)
 * is beyond its limit: the card's max_staleness, else `limitByCron` of its schedule (own cron, else the global
 * one; limitSeconds = twice the schedule interval, computed by the caller from libs/cron). Same definition as the
 * staleness gauges and the api's `stale` flag.
 */
export interface StaleFilter {
  stale: boolean;
  liveStates: readonly string[];
  globalCron: string;
  limitByCron: { cron: string; limitSeconds: number }[];
}

export const PERSISTED_INFO_SORT_KEYS = [
  'id',
  'name',
  'database',
  'state',
  'last_success_at',
  'state_change_at',
] as const;
export type PersistedInfoSortKey = (typeof PERSISTED_INFO_SORT_KEYS)[number];

export interface PersistedInfoListQuery {
  state?: PersistedState;
  databaseId?: number;
  /** Case-insensitive substring of the model (card) name. */
  search?: string;
  sort?: PersistedInfoSortKey;
  direction?: 'asc' | 'desc';
  stale?: StaleFilter;
  limit: number;
  offset: number;
}

const SORT_COLUMN: Record<PersistedInfoSortKey, string> = {
  id: 'p.id',
  name: 'lower(c.name)',
  database: 'lower(d.name)',
  state: 'p.state',
  last_success_at: 'p.last_success_at',
  state_change_at: 'p.state_change_at',
};

interface Raw {
  id: number;
  database_id: number;
  card_id: number | null;
  question_slug: string;
  schema_name: string;
  table_name: string;
  definition: TableDefinition | null;
  query_hash: string | null;
  active: boolean;
  state: PersistedState;
  refresh_begin: string | null;
  refresh_end: string | null;
  state_change_at: string | null;
  error: string | null;
  created_at: string;
  creator: string | null;
  last_success_at: string | null;
  card_name: string | null;
  card_type: string | null;
  card_archived: boolean | null;
  card_refresh_cron: string | null;
  card_max_staleness_seconds: number | null;
  database_name: string;
  database_persist_enabled: boolean;
  staleness_seconds: string | null;
  last_built_at: string | null;
  since_last_build_seconds: string | null;
  age_seconds: string;
  total?: string;
}

/** Timestamps leave PostgreSQL as ISO-8601 UTC text (what the API returns), sparing a Date round trip per field. */
const iso = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

const SELECT = `
  select p.id, p.database_id, p.card_id, p.question_slug, p.schema_name, p.table_name, p.definition,
         p.query_hash, p.active, p.state, ${iso('p.refresh_begin')} as refresh_begin,
         ${iso('p.refresh_end')} as refresh_end, ${iso('p.state_change_at')} as state_change_at, p.error,
         ${iso('p.created_at')} as created_at, p.creator, ${iso('p.last_success_at')} as last_success_at,
         c.name as card_name, c.type as card_type, c.archived as card_archived, c.refresh_cron as card_refresh_cron,
         c.max_staleness_seconds as card_max_staleness_seconds,
         d.name as database_name, d.persist_models_enabled as database_persist_enabled,
         floor(extract(epoch from (now() - p.last_success_at)))::bigint as staleness_seconds,
         ${iso('p.last_built_at')} as last_built_at,
         floor(extract(epoch from (now() - p.last_built_at)))::bigint as since_last_build_seconds,
         floor(extract(epoch from (now() - coalesce(p.last_success_at, p.created_at))))::bigint as age_seconds`;
const JOINS = `
  join "database" d on d.id = p.database_id
  left join card c on c.id = p.card_id`;
const FROM = `
  from persisted_info p ${JOINS}`;

function toDetail(r: Raw): PersistedInfoDetail {
  return {
    id: r.id,
    databaseId: r.database_id,
    cardId: r.card_id,
    questionSlug: r.question_slug,
    schemaName: r.schema_name,
    tableName: r.table_name,
    definition: r.definition,
    queryHash: r.query_hash,
    active: r.active,
    state: r.state,
    refreshBegin: r.refresh_begin,
    refreshEnd: r.refresh_end,
    stateChangeAt: r.state_change_at,
    error: r.error,
    createdAt: r.created_at,
    creator: r.creator,
    lastSuccessAt: r.last_success_at,
    cardName: r.card_name,
    cardType: r.card_type,
    cardArchived: r.card_archived,
    cardRefreshCron: r.card_refresh_cron,
    cardMaxStalenessSeconds:
      r.card_max_staleness_seconds === null ? null : Number(r.card_max_staleness_seconds),
    databaseName: r.database_name,
    databasePersistEnabled: r.database_persist_enabled,
    stalenessSeconds: r.staleness_seconds === null ? null : Math.max(0, Number(r.staleness_seconds)),
    lastBuiltAt: r.last_built_at,
    sinceLastBuildSeconds:
      r.since_last_build_seconds === null ? null : Math.max(0, Number(r.since_last_build_seconds)),
    ageSeconds: Math.max(0, Number(r.age_seconds)),
  };
}

/** Read side of persisted_info for the admin API: one SQL statement per page (rows and total). */
@Injectable()
export class PersistedInfoQueryRepository {
  constructor(private readonly ds: DataSource) {}

  async page(q: PersistedInfoListQuery): Promise<{ rows: PersistedInfoDetail[]; total: number }> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.state !== undefined) {
      params.push(q.state);
      where.push(`p.state = $${params.length}`);
    }
    if (q.databaseId !== undefined) {
      params.push(q.databaseId);
      where.push(`p.database_id = $${params.length}`);
    }
    if (q.search !== undefined) {
      params.push(q.search.toLowerCase());
      where.push(`position($${params.length} in lower(coalesce(c.name, ''))) > 0`);
    }
    if (q.stale !== undefined) {
      const f = q.stale;
      // the limits travel as one jsonb object (cron → seconds): a keyed lookup per row, however many crons
      params.push(
        [...f.liveStates],
        f.globalCron,
        JSON.stringify(Object.fromEntries(f.limitByCron.map((l) => [l.cron, l.limitSeconds]))),
      );
      const n = params.length;
      const isStale = `(p.state = any($${n - 2}::text[]) and c.type = 'model' and not c.archived
        and extract(epoch from (now() - coalesce(p.last_success_at, p.created_at))) > coalesce(
          c.max_staleness_seconds::float8,
          ($${n}::jsonb ->> coalesce(nullif(btrim(c.refresh_cron), ''), $${n - 1}::text))::float8))`;
      where.push(f.stale ? `coalesce(${isStale}, false)` : `not coalesce(${isStale}, false)`);
    }
    const filter = where.length ? `where ${where.join(' and ')}` : '';
    params.push(q.limit, q.offset);
    // sorting by id (the default) and filtering by state or database need no join; a name sort, search or the
    // stale filter does
    const sortKey = q.sort ?? 'id';
    const joins = sortKey === 'id' && q.search === undefined && q.stale === undefined ? '' : JOINS;
    const order =
      sortKey === 'id'
        ? `p.id ${q.direction === 'desc' ? 'desc' : 'asc'}`
        : `${SORT_COLUMN[sortKey]} ${q.direction === 'desc' ? 'desc' : 'asc'} nulls last, p.id`;
    // the page's ids come from an index walk on the primary key (or the filter indexes); only those rows are
    // then read and joined (lateral primary-key lookups), and the total is a count in the same statement
    const raw = await this.ds.query<Raw[]>(
      `${SELECT}, (select count(*) from persisted_info p ${joins} ${filter}) as total
       from (select p.id from persisted_info p ${joins} ${filter}
             order by ${order} limit $${params.length - 1} offset $${params.length}) page
       cross join lateral (select * from persisted_info x where x.id = page.id) p
       join "database" d on d.id = p.database_id
       left join card c on c.id = p.card_id
       order by ${order}`,
      params,
    );
    if (raw.length > 0) return { rows: raw.map(toDetail), total: Number(raw[0].total) };
    // past the end (or nothing matches): no row carried the total
    const count = await this.ds.query<{ n: string }[]>(
      `select count(*) as n from persisted_info p ${joins} ${filter}`,
      params.slice(0, -2),
    );
    return { rows: [], total: Number(count[0].n) };
  }

  /** The distinct own crons of cards (the stale filter needs each one's schedule interval). */
  async distinctCardCrons(): Promise<string[]> {
    const rows = await this.ds.query<{ refresh_cron: string }[]>(
      `select distinct btrim(refresh_cron) as refresh_cron from card
        where refresh_cron is not null and btrim(refresh_cron) <> ''`,
    );
    return rows.map((r) => r.refresh_cron);
  }

  async findById(id: number): Promise<PersistedInfoDetail | null> {
    const raw = await this.ds.query<Raw[]>(`${SELECT} ${FROM} where p.id = $1`, [id]);
    return raw[0] ? toDetail(raw[0]) : null;
  }

  async findByCardId(cardId: number): Promise<PersistedInfoDetail | null> {
    const raw = await this.ds.query<Raw[]>(`${SELECT} ${FROM} where p.card_id = $1`, [cardId]);
    return raw[0] ? toDetail(raw[0]) : null;
  }
}
