import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { LIVE_STATES } from '../state/persisted-state-machine';

export interface ModelStateRow {
  state: string;
  databaseId: number;
  count: number;
}

export interface ModelFreshnessRow {
  persistedInfoId: number;
  cardId: number | null;
  databaseId: number;
  modelName: string;
  /** Seconds since the last successful refresh (since the row was created when it never succeeded). */
  stalenessSeconds: number;
  /** The card's own cron, or null when it follows the global schedule. */
  refreshCron: string | null;
  /** The card's freshness target in seconds (null: none). */
  maxStalenessSeconds: number | null;
}

/** Read-only aggregates for the observable gauges (models by state, staleness); one query each per scrape. */
@Injectable()
export class ObservabilityRepository {
  constructor(private readonly ds: DataSource) {}

  async modelsByState(): Promise<ModelStateRow[]> {
    const rows: { state: string; database_id: number; count: string }[] = await this.ds.query(
      `SELECT state, database_id, count(*) AS count FROM persisted_info GROUP BY state, database_id`,
    );
    return rows.map((r) => ({ state: r.state, databaseId: Number(r.database_id), count: Number(r.count) }));
  }

  /** Models that should be fresh: not off/deletable, card still a live model. Capped so a scrape stays small. */
  async modelFreshness(limit = 2000): Promise<ModelFreshnessRow[]> {
    const rows: {
      id: number;
      card_id: number | null;
      database_id: number;
      name: string | null;
      staleness: string;
      refresh_cron: string | null;
      max_staleness_seconds: number | null;
    }[] = await this.ds.query(
      `SELECT p.id, p.card_id, p.database_id, c.name, c.refresh_cron, c.max_staleness_seconds,
              extract(epoch FROM now() - coalesce(p.last_success_at, p.created_at)) AS staleness
         FROM persisted_info p
         JOIN card c ON c.id = p.card_id AND NOT c.archived AND c.type = 'model'
        WHERE p.state = ANY($2)
        ORDER BY staleness DESC
        LIMIT $1`,
      [limit, [...LIVE_STATES]],
    );
    return rows.map((r) => ({
      persistedInfoId: Number(r.id),
      cardId: r.card_id === null ? null : Number(r.card_id),
      databaseId: Number(r.database_id),
      modelName: r.name ?? '',
      stalenessSeconds: Math.max(0, Number(r.staleness)),
      refreshCron: r.refresh_cron,
      maxStalenessSeconds: r.max_staleness_seconds === null ? null : Number(r.max_staleness_seconds),
    }));
  }
}
