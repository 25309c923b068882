import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { TaskHistoryEntity, TaskStatus } from '../entities';
import { InboxRepository } from './inbox.repository';

/** A task_history row without its serial id: what the history projector computes. */
export type TaskHistoryRow = Omit<TaskHistoryEntity, 'id'>;

/** Computes a run's next row from its current one (null: no row yet); returning null leaves it as it is. */
export type TaskHistoryChange = (current: TaskHistoryRow | null) => TaskHistoryRow | null;

export type ApplyOutcome = 'applied' | 'unchanged' | 'duplicate';

export interface TaskHistoryQuery {
  task?: string;
  status?: TaskStatus;
  dbId?: number;
  limit: number;
  offset: number;
}

@Injectable()
export class TaskHistoryRepository {
  constructor(private readonly ds: DataSource) {}

  repo(manager?: EntityManager) {
    return (manager ?? this.ds.manager).getRepository(TaskHistoryEntity);
  }

  findByRun(task: string, runId: string, manager?: EntityManager): Promise<TaskHistoryEntity | null> {
    return this.repo(manager).findOneBy({ task, runId });
  }

  /** Newest first. */
  async page(q: TaskHistoryQuery): Promise<{ rows: TaskHistoryEntity[]; total: number }> {
    const qb = this.repo().createQueryBuilder('t');
    if (q.task) qb.andWhere('t.task = :task', { task: q.task });
    if (q.status) qb.andWhere('t.status = :status', { status: q.status });
    if (q.dbId !== undefined) qb.andWhere('t.db_id = :dbId', { dbId: q.dbId });
    const [rows, total] = await qb
      .orderBy('t.started_at', 'DESC')
      .addOrderBy('t.id', 'DESC')
      .take(q.limit)
      .skip(q.offset)
      .getManyAndCount();
    return { rows, total };
  }

  /** Keeps the newest `keep` rows; returns how many were deleted. */
  async trimTo(keep: number): Promise<number> {
    const r = await this.ds.query<[unknown, number]>(
      `delete from task_history where id in (
         select id from task_history order by started_at desc, id desc offset $1)`,
      [keep],
    );
    return r[1];
  }

  /**
   * Applies one event to one run's row exactly once: records `eventId` in the inbox of `consumer` and writes
   * the row in the same transaction, under a per-run lock so concurrent events of a run never race.
   * A duplicate event changes nothing. An error thrown by `change` rolls the inbox record back too.
   */
  async applyOnce(
    consumer: string,
    eventId: string,
    task: string,
    runId: string,
    change: TaskHistoryChange,
  ): Promise<ApplyOutcome> {
    return this.ds.transaction(async (m) => {
      if (!(await new InboxRepository(this.ds).record(consumer, eventId, m))) return 'duplicate';
      return this.changeLocked(task, runId, change, m);
    });
  }

  /** Rewrites one run's row under the per-run lock (the stale-run sweep), without an inbox record. */
  async changeRun(task: string, runId: string, change: TaskHistoryChange): Promise<ApplyOutcome> {
    return this.ds.transaction((m) => this.changeLocked(task, runId, change, m));
  }

  private async changeLocked(
    task: string,
    runId: string,
    change: TaskHistoryChange,
    m: EntityManager,
  ): Promise<ApplyOutcome> {
    // the row may not exist yet, so a row lock is not enough: serialize on the (task, run) key
    await m.query('select pg_advisory_xact_lock(hashtextextended($1, 0))', [`task_history:${task}:${runId}`]);
    const existing = await this.repo(m).findOne({
      where: { task, runId },
      lock: { mode: 'pessimistic_write' },
    });
    let current: TaskHistoryRow | null = null;
    if (existing) {
      const { id: _id, ...rest } = existing;
      current = rest;
    }
    const next = change(current);
    if (next === null) return 'unchanged';
    if (next.task !== task || next.runId !== runId) {
      throw new Error(`task history change moved run ${task}/${runId} to ${next.task}/${next.runId}`);
    }
    await m.query(
      `insert into task_history
         (task, run_id, db_id, started_at, ended_at, duration, status, task_details, last_event_at)
       values ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9)
       on conflict (task, run_id) do update set
         db_id = excluded.db_id, started_at = excluded.started_at, ended_at = excluded.ended_at,
         duration = excluded.duration, status = excluded.status, task_details = excluded.task_details,
         last_event_at = excluded.last_event_at`,
      [
        task,
        runId,
        next.dbId,
        next.startedAt,
        next.endedAt,
        next.duration,
        next.status,
        next.taskDetails === null ? null : JSON.stringify(next.taskDetails),
        next.lastEventAt,
      ],
    );
    return 'applied';
  }

  /** Runs still `started` whose newest event is older than `before`, oldest first. */
  async findStale(before: Date, limit: number): Promise<{ task: string; runId: string }[]> {
    return this.repo()
      .createQueryBuilder('t')
      .select(['t.task', 't.runId'])
      .where(`t.status = 'started'`)
      .andWhere('coalesce(t.last_event_at, t.started_at) < :before', { before })
      .orderBy('coalesce(t.last_event_at, t.started_at)', 'ASC')
      .limit(limit)
      .getMany()
      .then((rows) => rows.map((r) => ({ task: r.task, runId: r.runId })));
  }

  /** Rows of task_history and inbox records of `consumer`: both must be empty before a replay. */
  async replayState(consumer: string): Promise<{ rows: number; inbox: number }> {
    const [r] = await this.ds.query<{ rows: number; inbox: number }[]>(
      `select (select count(*)::int from task_history) as rows,
              (select count(*)::int from inbox where consumer = $1) as inbox`,
      [consumer],
    );
    return r;
  }

  /** Empties task_history and forgets the events `consumer` processed, in one transaction (before a replay). */
  async clearForReplay(consumer: string): Promise<void> {
    await this.ds.transaction(async (m) => {
      await m.query('delete from task_history');
      await m.query('delete from inbox where consumer = $1', [consumer]);
    });
  }
}
