import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  canTransition,
  LIVE_STATES,
  PERSISTED_STATES,
  REFRESHABLE_STATES,
  stateDiagram,
  TRANSITIONS,
} from './persisted-state-machine';

describe('persisted-model state machine', () => {
  it('docs/ARCHITECTURE.md shows the diagram generated from the module', () => {
    const doc = readFileSync(join(__dirname, '..', '..', '..', '..', 'docs', 'ARCHITECTURE.md'), 'utf8');
    const block =
      /<!-- state-diagram:begin -->\s*```mermaid\n([\s\S]*?)```\s*<!-- state-diagram:end -->/.exec(doc);
    expect(block?.[1].trim()).toBe(stateDiagram().trim());
  });

  it('every state is reachable and every transition starts from known states', () => {
    const reached = new Set<string>(['creating']);
    for (const rule of Object.values(TRANSITIONS)) {
      for (const s of rule.from) expect(PERSISTED_STATES).toContain(s);
      for (const t of rule.to) reached.add(t);
    }
    for (const s of PERSISTED_STATES) expect(reached).toContain(s);
  });

  it('the admin wins over a refresh: unpersist and disable leave refreshing; a refresh cannot finish an off row', () => {
    expect(canTransition('unpersist', 'refreshing')).toBe(true);
    expect(canTransition('disable', 'refreshing')).toBe(true);
    for (const s of ['off', 'deletable'] as const) {
      expect(canTransition('succeed', s)).toBe(false);
      expect(canTransition('fail', s)).toBe(false);
      expect(canTransition('claim', s)).toBe(false);
    }
    expect(TRANSITIONS.claim.from).toEqual([...REFRESHABLE_STATES, 'refreshing']);
    expect([...LIVE_STATES].sort()).toEqual([...REFRESHABLE_STATES, 'refreshing'].sort());
  });
});
