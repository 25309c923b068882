import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, IsNull, Not } from 'typeorm';
import { CardEntity } from '../entities';
import { LIVE_STATES } from '../state/persisted-state-machine';

/** A model with a freshness target, as the scheduler plans its top-up refreshes. */
export interface FreshnessTargetRow {
  cardId: number;
  databaseId: number;
  /** The card's own cron (null: it follows the global schedule). */
  refreshCron: string | null;
  maxStalenessSeconds: number;
  /** Fresh as of (null: never succeeded); an `unchanged` outcome advances it too. */
  lastSuccessAt: Date | null;
  createdAt: Date;
  /** Duration of the last successful build (null: unknown). */
  lastBuildMs: number | null;
}

@Injectable()
export class CardRepository {
  constructor(private readonly ds: DataSource) {}

  repo(manager?: EntityManager) {
    return (manager ?? this.ds.manager).getRepository(CardEntity);
  }

  findById(id: number, manager?: EntityManager): Promise<CardEntity | null> {
    return this.repo(manager).findOneBy({ id });
  }

  /** Non-archived models of a database. */
  findModelsOfDatabase(databaseId: number, manager?: EntityManager): Promise<CardEntity[]> {
    return this.repo(manager).find({
      where: { databaseId, type: 'model', archived: false },
      order: { id: 'ASC' },
    });
  }

  /** Models that carry their own refresh cron. */
  findWithCronOverride(manager?: EntityManager): Promise<CardEntity[]> {
    return this.repo(manager).find({
      where: { refreshCron: Not(IsNull()), type: 'model', archived: false },
      order: { id: 'ASC' },
    });
  }

  /**
   * Models with a freshness target that should be kept fresh: a live persisted row (not off / deletable), a live
   * model card, its database persist-enabled. Served by card_max_staleness_idx (only cards with a target).
   */
  async findFreshnessTargets(manager?: EntityManager): Promise<FreshnessTargetRow[]> {
    const rows = await (manager ?? this.ds.manager).query<
      {
        card_id: number;
        database_id: number;
        refresh_cron: string | null;
        max_staleness_seconds: number;
        last_success_at: Date | null;
        created_at: Date;
        last_build_ms: number | null;
      }[]
    >(
      `SELECT c.id AS card_id, c.database_id, c.refresh_cron, c.max_staleness_seconds,
              p.last_success_at, p.created_at, p.last_build_ms
         FROM card c
         JOIN persisted_info p ON p.card_id = c.id AND p.state = ANY($1)
         JOIN "database" d ON d.id = c.database_id AND d.persist_models_enabled
        WHERE c.max_staleness_seconds IS NOT NULL AND c.type = 'model' AND NOT c.archived
        ORDER BY c.id`,
      [[...LIVE_STATES]],
    );
    return rows.map((r) => ({
      cardId: Number(r.card_id),
      databaseId: Number(r.database_id),
      refreshCron: r.refresh_cron,
      maxStalenessSeconds: Number(r.max_staleness_seconds),
      lastSuccessAt: r.last_success_at,
      createdAt: r.created_at,
      lastBuildMs: r.last_build_ms === null ? null : Number(r.last_build_ms),
    }));
  }

  create(values: Partial<CardEntity>, manager?: EntityManager): Promise<CardEntity> {
    const repo = this.repo(manager);
    return repo.save(repo.create(values));
  }

  async update(id: number, values: Partial<CardEntity>, manager?: EntityManager): Promise<void> {
    await this.repo(manager).update({ id }, values);
  }

  async delete(id: number, manager?: EntityManager): Promise<boolean> {
    const r = await this.repo(manager).delete({ id });
    return (r.affected ?? 0) > 0;
  }
}
