import { AssignerProtocol } from 'kafkajs';
import { balance, partitionForKey, partitionWeights, weightedAssigner } from './weighted-assigner';

describe('partitionForKey', () => {
  it('is murmur2 as the Java client and the service producers use it: databases 6, 10, 12 and 20 share one of 12', () => {
    const p = partitionForKey('6', 12);
    expect(['10', '12', '20'].map((k) => partitionForKey(k, 12))).toEqual([p, p, p]);
  });
});

describe('balance', () => {
  const members = ['b', 'a', 'c'];

  it('assigns every partition exactly once, zero-weight ones included', () => {
    const weights = [0, 9, 0, 0, 4, 0, 1, 0, 0, 3, 0, 2];
    const out = balance(members, weights);
    const all = [...out.values()].flat().sort((x, y) => x - y);
    expect(all).toEqual(weights.map((_, i) => i));
  });

  it('balances weight, not count (longest first to the lightest member)', () => {
    // round-robin by count would give one member partitions 0, 3 (weight 8) and another 2, 5 (weight 0)
    const weights = [4, 2, 0, 4, 2, 0];
    const out = balance(['m1', 'm2'], weights);
    const load = (m: string) => out.get(m)!.reduce((s, p) => s + weights[p], 0);
    expect(load('m1')).toBe(6);
    expect(load('m2')).toBe(6);
  });

  it('is deterministic whatever the member order, and spreads by count when nothing weighs', () => {
    expect(balance(['c', 'a', 'b'], [1, 2, 3])).toEqual(balance(['a', 'b', 'c'], [1, 2, 3]));
    const even = balance(members, new Array(12).fill(0));
    expect([...even.values()].map((p) => p.length)).toEqual([4, 4, 4]);
  });
});

describe('weightedAssigner', () => {
  const cluster = {
    findTopicPartitionMetadata: () => Array.from({ length: 12 }, (_, i) => ({ partitionId: i })),
  };
  const members = [{ memberId: 'x' }, { memberId: 'y' }].map((m) => ({
    ...m,
    memberMetadata: Buffer.alloc(0),
  }));
  const assign = async (weigh: () => Promise<Map<string, number>>) => {
    const assigner = weightedAssigner(weigh)({ cluster, groupId: 'g', logger: console } as never);
    const out = await assigner.assign({ members, topics: ['t'] });
    return out.map((o) => AssignerProtocol.MemberAssignment.decode(o.memberAssignment)!.assignment.t ?? []);
  };

  it('puts the heavy partition alone when its keys outweigh the rest', async () => {
    const weights = new Map([
      ['6', 10],
      ['10', 10],
      ['1', 1],
      ['2', 1],
    ]);
    const [x, y] = await assign(() => Promise.resolve(weights));
    const heavy = partitionForKey('6', 12);
    const [withHeavy, other] = x.includes(heavy) ? [x, y] : [y, x];
    expect(withHeavy).toEqual([heavy]);
    expect(other).toHaveLength(11);
    expect(partitionWeights(weights, 12).reduce((s, w) => s + w)).toBe(22);
  });

  it('balances by count when the weights cannot be read (the rebalance does not fail)', async () => {
    const errors: unknown[] = [];
    const assigner = weightedAssigner(
      () => Promise.reject(new Error('app database down')),
      (e) => errors.push(e),
    )({
      cluster,
      groupId: 'g',
      logger: console,
    } as never);
    const out = await assigner.assign({ members, topics: ['t'] });
    const sizes = out.map(
      (o) => AssignerProtocol.MemberAssignment.decode(o.memberAssignment)!.assignment.t.length,
    );
    expect(sizes).toEqual([6, 6]);
    expect(errors).toHaveLength(1);
  });
});
