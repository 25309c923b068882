import { QuartzSchedule } from '@model-persistence/cron';
import { errorMessage } from '@model-persistence/errors';
import { firstFreshnessFire, nextFreshnessFire, PreviousCronFire } from './freshness-plan';
import { ScheduleHeap } from './schedule-heap';
import { ScheduleDef } from './schedule-plan';

export interface DueFire {
  def: ScheduleDef;
  /** Planned fire time, epoch ms. */
  fireTime: number;
}

export interface ApplyResult {
  added: number;
  changed: number;
  removed: number;
  invalid: { key: string; error: string }[];
}

export interface TakeResult {
  due: DueFire[];
  /** Recurring fires skipped because the scheduler was late past them (Quartz misfire: do nothing). */
  missed: { def: ScheduleDef; fireTime: number }[];
}

const freshnessSignature = (d: ScheduleDef) =>
  d.freshness
    ? `|${d.freshness.since}|${d.freshness.anchor}|${d.freshness.every}|${d.freshness.cron ?? ''}`
    : '';

const signature = (d: ScheduleDef) =>
  `${d.kind}|${d.cron ?? ''}|${d.at ?? ''}|${d.timeZone}|${d.databaseId ?? ''}|${d.cardId ?? ''}${freshnessSignature(d)}`;

/**
 * Quartz schedules by (cron, zone), and memoized next-fire computations: 10,000 databases on the global cron
 * fire at the same instant and need one calendar call. A schedule is small (its parsed pattern, a 225-byte
 * table, is shared by text across zones), so all are kept: 10,000 distinct per-model crons cost a few MB.
 */
export class CalendarCache {
  private readonly schedules = new Map<string, QuartzSchedule>();
  private readonly next = new Map<string, number | null>();

  constructor(private readonly maxMemo = 20_000) {}

  get(cron: string, timeZone: string): QuartzSchedule {
    const k = `${cron}\u0000${timeZone}`;
    let s = this.schedules.get(k);
    if (!s) {
      s = new QuartzSchedule(cron, timeZone);
      this.schedules.set(k, s);
    }
    return s;
  }

  /** Drops schedules no longer in use (after a reload), keeping the ones `inUse` names. */
  retain(inUse: Set<string>): void {
    for (const k of this.schedules.keys()) if (!inUse.has(k)) this.schedules.delete(k);
  }

  get parsedCount(): number {
    return this.schedules.size;
  }

  nextAfter(cron: string, timeZone: string, after: number): number | null {
    const k = `${cron}\u0000${timeZone}\u0000${after}`;
    const hit = this.next.get(k);
    if (hit !== undefined) return hit;
    const n = this.get(cron, timeZone).nextAfter(new Date(after))?.getTime() ?? null;
    if (this.next.size >= this.maxMemo) this.next.clear();
    this.next.set(k, n);
    return n;
  }

  previousAtOrBefore(cron: string, timeZone: string, at: number): number | null {
    return this.get(cron, timeZone).previousAtOrBefore(new Date(at))?.getTime() ?? null;
  }

  /** previousAtOrBefore in one zone, null for a cron that does not parse (a freshness grid's cover check). */
  previousIn(timeZone: string): PreviousCronFire {
    return (cron, at) => {
      try {
        return this.previousAtOrBefore(cron, timeZone, at);
      } catch {
        return null;
      }
    };
  }
}

/**
 * The schedule table in memory: one heap entry per schedule, keyed by its next fire time. `apply` reconciles
 * with a new plan (unchanged schedules keep their pending fire, so a reload never double-fires or skips);
 * `take` pops only what is due and computes those schedules' next fire. No timers here: the service drives it.
 */
export class ScheduleEngine {
  private readonly heap = new ScheduleHeap();
  private readonly defs = new Map<string, { def: ScheduleDef; sig: string }>();

  constructor(readonly calendars = new CalendarCache()) {}

  get size(): number {
    return this.defs.size;
  }

  /** Schedules waiting in the heap (one-shots that fired stay known but are no longer pending). */
  get pending(): number {
    return this.heap.size;
  }

  nextDue(): number | undefined {
    return this.heap.peek()?.due;
  }

  dueOf(key: string): number | undefined {
    return this.heap.dueOf(key);
  }

  definition(key: string): ScheduleDef | undefined {
    return this.defs.get(key)?.def;
  }

  definitions(): ScheduleDef[] {
    return [...this.defs.values()].map((d) => d.def);
  }

  /**
   * Reconciles the schedules `inScope` selects (all by default) with `plan`: the freshness poll re-plans only
   * the `freshness:` schedules, a full reload everything.
   */
  apply(plan: ScheduleDef[], now: number, inScope: (key: string) => boolean = () => true): ApplyResult {
    const result: ApplyResult = { added: 0, changed: 0, removed: 0, invalid: [] };
    const wanted = new Map<string, ScheduleDef>();
    for (const d of plan) wanted.set(d.key, d);
    for (const key of [...this.defs.keys()]) {
      if (inScope(key) && !wanted.has(key)) {
        this.defs.delete(key);
        this.heap.remove(key);
        result.removed++;
      }
    }
    for (const [key, def] of wanted) {
      const sig = signature(def);
      const existing = this.defs.get(key);
      if (existing?.sig === sig) continue;
      let due: number | null;
      try {
        due = def.freshness
          ? firstFreshnessFire(def.freshness, now, this.calendars.previousIn(def.timeZone))
          : (def.at ?? (def.cron ? this.calendars.nextAfter(def.cron, def.timeZone, now) : null));
      } catch (e) {
        result.invalid.push({ key, error: errorMessage(e) });
        if (existing) {
          this.defs.delete(key);
          this.heap.remove(key);
          result.removed++;
        }
        continue;
      }
      this.defs.set(key, { def, sig });
      if (due === null) this.heap.remove(key);
      else this.heap.upsert(key, due);
      if (existing) result.changed++;
      else result.added++;
    }
    const inUse = new Set<string>();
    for (const { def } of this.defs.values()) {
      const cron = def.cron ?? def.freshness?.cron;
      if (cron) inUse.add(`${cron}\u0000${def.timeZone}`);
    }
    this.calendars.retain(inUse);
    return result;
  }

  /**
   * Pops the fires due by `horizon` (the service looks a little ahead, to prepare them) and queues each
   * recurring schedule's next fire; a next fire already past `now` was missed.
   */
  take(horizon: number, now = horizon): TakeResult {
    const out: TakeResult = { due: [], missed: [] };
    for (const { key, due } of this.heap.popDue(horizon)) {
      const entry = this.defs.get(key);
      if (!entry) continue;
      const { def } = entry;
      out.due.push({ def, fireTime: due });
      if (def.freshness) {
        // the next grid point; when the scheduler was late past it, the first one ahead (no burst of top-ups)
        this.heap.upsert(
          key,
          nextFreshnessFire(def.freshness, Math.max(due, now), this.calendars.previousIn(def.timeZone)),
        );
        continue;
      }
      if (!def.cron) continue; // one-shot: stays known (so a reload does not re-add it) but never re-queued
      let next = this.calendars.nextAfter(def.cron, def.timeZone, due);
      if (next !== null && next <= now) {
        out.missed.push({ def, fireTime: next });
        next = this.calendars.nextAfter(def.cron, def.timeZone, now);
      }
      if (next !== null) this.heap.upsert(key, next);
    }
    return out;
  }

  /** The latest planned fire at or before `now` of every recurring schedule (missed-fire recovery). */
  previousFires(now: number): DueFire[] {
    const out: DueFire[] = [];
    const memo = new Map<string, number | null>();
    for (const { def } of this.defs.values()) {
      if (!def.cron) continue;
      const k = `${def.cron}\u0000${def.timeZone}`;
      if (!memo.has(k)) memo.set(k, this.calendars.previousAtOrBefore(def.cron, def.timeZone, now));
      const prev = memo.get(k)!;
      if (prev !== null) out.push({ def, fireTime: prev });
    }
    return out;
  }
}
