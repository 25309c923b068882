import fc from 'fast-check';
import { ScheduleHeap } from './schedule-heap';

describe('ScheduleHeap', () => {
  it('pops in due order and only what is due', () => {
    const h = new ScheduleHeap();
    h.upsert('c', 30);
    h.upsert('a', 10);
    h.upsert('b', 20);
    expect(h.popDue(20).map((e) => e.key)).toEqual(['a', 'b']);
    expect(h.size).toBe(1);
    expect(h.popDue(29)).toEqual([]);
    expect(h.peek()).toEqual({ key: 'c', due: 30 });
  });

  it('moves and removes keys', () => {
    const h = new ScheduleHeap();
    for (let i = 0; i < 10; i++) h.upsert(`k${i}`, i * 10);
    h.upsert('k9', 1);
    h.upsert('k0', 95);
    expect(h.remove('k5')).toBe(true);
    expect(h.remove('nope')).toBe(false);
    expect(h.dueOf('k9')).toBe(1);
    expect(h.popDue(1000).map((e) => e.key)).toEqual(['k9', 'k1', 'k2', 'k3', 'k4', 'k6', 'k7', 'k8', 'k0']);
  });

  it('behaves like a sorted map under random upserts and removals', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.constantFrom('up', 'rm'),
            fc.integer({ min: 0, max: 20 }),
            fc.integer({ min: 0, max: 1000 }),
          ),
        ),
        (ops) => {
          const h = new ScheduleHeap();
          const model = new Map<string, number>();
          for (const [op, k, due] of ops) {
            const key = `k${k}`;
            if (op === 'up') {
              h.upsert(key, due);
              model.set(key, due);
            } else {
              expect(h.remove(key)).toBe(model.delete(key));
            }
          }
          const popped = h.popDue(Infinity);
          expect(popped.map((e) => e.due)).toEqual([...model.values()].sort((a, b) => a - b));
          expect(new Set(popped.map((e) => e.key))).toEqual(new Set(model.keys()));
        },
      ),
    );
  });
});
