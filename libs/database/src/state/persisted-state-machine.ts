/**
 * The one owner of the persisted-model state machine: the states, every allowed transition, and who may make
 * it. Every write of `persisted_info.state` goes through PersistedInfoRepository, which guards it in SQL with
 * `state = ANY(<from>)` taken from here, so an illegal transition fails instead of silently winning.
 * docs/ARCHITECTURE.md's diagram is checked against `stateDiagram()` by a unit test.
 */
export const PERSISTED_STATES = ['creating', 'refreshing', 'persisted', 'error', 'deletable', 'off'] as const;
export type PersistedState = (typeof PERSISTED_STATES)[number];

/** Who makes a transition: the admin (API), a refresher's run, or prune. */
export type StateActor = 'admin' | 'refresher' | 'prune';

/** States whose model is kept fresh (scheduled, counted as persisted models). */
export const LIVE_STATES = [
  'creating',
  'refreshing',
  'persisted',
  'error',
] as const satisfies readonly PersistedState[];
/** States of a model turned off: no refresh; prune drops the table. */
export const INACTIVE_STATES = ['deletable', 'off'] as const satisfies readonly PersistedState[];
/** States a refresh may start from (plus `refreshing` whose lease expired: left behind by a dead run). */
export const REFRESHABLE_STATES = [
  'creating',
  'persisted',
  'error',
] as const satisfies readonly PersistedState[];

export interface TransitionRule {
  by: StateActor;
  from: readonly PersistedState[];
  /** Target state(s); `removed` deletes the row. */
  to: readonly (PersistedState | 'removed')[];
  /** Why, in a few words (shown on the diagram). */
  label: string;
}

export const TRANSITIONS = {
  /** Admin persists a model that was turned off. */
  persist: { by: 'admin', from: INACTIVE_STATES, to: ['creating'], label: 'persist' },
  /** Admin changed the model SQL: the old table no longer matches. */
  rebuild: { by: 'admin', from: LIVE_STATES, to: ['creating'], label: 'sql changed' },
  /** Admin unpersists one model; wins over a refresh in flight (its lease is cleared). */
  unpersist: { by: 'admin', from: [...LIVE_STATES, 'deletable'], to: ['off'], label: 'unpersist' },
  /** Database unpersisted, persistence disabled globally, model archived or turned into a question. */
  disable: { by: 'admin', from: LIVE_STATES, to: ['deletable'], label: 'disable / archive' },
  /** The model's card is deleted. */
  delete: { by: 'admin', from: [...LIVE_STATES, 'off'], to: ['deletable'], label: 'card deleted' },
  /** A refresh takes the row (a `refreshing` row only when its lease expired). */
  claim: {
    by: 'refresher',
    from: [...REFRESHABLE_STATES, 'refreshing'],
    to: ['refreshing'],
    label: 'claim',
  },
  succeed: { by: 'refresher', from: ['refreshing'], to: ['persisted'], label: 'swap done' },
  fail: { by: 'refresher', from: ['refreshing'], to: ['error'], label: 'failed' },
  /** A skipped refresh puts the row back as it was. */
  release: { by: 'refresher', from: ['refreshing'], to: REFRESHABLE_STATES, label: 'skipped' },
  /** A dead run's row (lease expired): persisted while its old table serves, else error. */
  takeOver: { by: 'refresher', from: ['refreshing'], to: ['persisted', 'error'], label: 'lease expired' },
  /** Prune drops the table and the row: deletable past the grace period, or its card gone (any state but off). */
  prune: { by: 'prune', from: [...LIVE_STATES, 'deletable'], to: ['removed'], label: 'prune' },
} as const satisfies Record<string, TransitionRule>;

export type TransitionName = keyof typeof TRANSITIONS;

/** The states a refresh ends in (success or failure). */
export const FINISHED_STATES = [
  ...TRANSITIONS.succeed.to,
  ...TRANSITIONS.fail.to,
] as const satisfies readonly PersistedState[];

export function isFinished(state: PersistedState): boolean {
  return (FINISHED_STATES as readonly PersistedState[]).includes(state);
}

export function isPersistedState(value: unknown): value is PersistedState {
  return typeof value === 'string' && (PERSISTED_STATES as readonly string[]).includes(value);
}

/** The friendly early check; the SQL guard in the repository is the one that holds. */
export function canTransition(name: TransitionName, from: PersistedState): boolean {
  return (TRANSITIONS[name].from as readonly PersistedState[]).includes(from);
}

export function isLive(state: PersistedState): boolean {
  return (LIVE_STATES as readonly PersistedState[]).includes(state);
}

export function isInactive(state: PersistedState): boolean {
  return (INACTIVE_STATES as readonly PersistedState[]).includes(state);
}

/** The state diagram (mermaid) of TRANSITIONS, as docs/ARCHITECTURE.md shows it. */
export function stateDiagram(): string {
  const lines = ['stateDiagram-v2', '    [*] --> creating: persist (new row)'];
  for (const [name, rule] of Object.entries(TRANSITIONS) as [TransitionName, TransitionRule][]) {
    for (const from of rule.from) {
      for (const to of rule.to) {
        if (from === to && name !== 'claim') continue;
        lines.push(`    ${from} --> ${to === 'removed' ? '[*]' : to}: ${rule.label} (${rule.by})`);
      }
    }
  }
  return lines.join('\n');
}
