import { AssignerProtocol, Partitioners, PartitionAssigner } from 'kafkajs';

/** Work expected per record key (e.g. a database's persisted models); keys not listed weigh nothing. */
export type KeyWeights = ReadonlyMap<string, number>;

/** The partition the service's producers (and any Java-compatible producer) pick for a key: murmur2. */
export function partitionForKey(key: string, partitions: number): number {
  const partitioner = Partitioners.DefaultPartitioner();
  return partitioner({
    topic: 'weights',
    partitionMetadata: Array.from({ length: partitions }, (_, i) => ({
      partitionId: i,
      leader: 0,
      partitionErrorCode: 0,
      replicas: [0],
      isr: [0],
    })),
    message: { key, value: null },
  });
}

/** Weight of each partition of a topic with `partitions` partitions: the sum of its keys' weights. */
export function partitionWeights(weights: KeyWeights, partitions: number): number[] {
  const out = new Array<number>(partitions).fill(0);
  for (const [key, weight] of weights) out[partitionForKey(key, partitions)] += weight;
  return out;
}

/**
 * Longest-processing-time-first: the heaviest partition goes to the member with the least weight so far (then
 * the fewest partitions, then the lowest id, so every member computes the same answer). Every partition is
 * assigned exactly once, weightless ones included (they spread by count).
 */
export function balance(members: readonly string[], weights: readonly number[]): Map<string, number[]> {
  const sorted = [...members].sort();
  const load = new Map(sorted.map((m) => [m, { weight: 0, count: 0, partitions: [] as number[] }]));
  const order = weights
    .map((w, partition) => ({ w, partition }))
    .sort((a, b) => b.w - a.w || a.partition - b.partition);
  for (const { w, partition } of order) {
    let best: string | undefined;
    for (const m of sorted) {
      const l = load.get(m)!;
      const b = best === undefined ? undefined : load.get(best)!;
      if (!b || l.weight < b.weight || (l.weight === b.weight && l.count < b.count)) best = m;
    }
    const l = load.get(best!)!;
    l.weight += w;
    l.count += 1;
    l.partitions.push(partition);
  }
  return new Map(sorted.map((m) => [m, load.get(m)!.partitions.sort((a, b) => a - b)]));
}

/**
 * A partition assigner for topics keyed by database id. Kafka's murmur2 spreads a few keys unevenly (4 of the
 * databases 1–20 share one of 12 partitions, 5 partitions get none), and the built-in assigners hand out
 * partitions by count, so one replica can hold most of the work while another idles. This one weighs each
 * partition by the keys that hash to it (`weigh`, asked at every rebalance by the group leader) and balances
 * the weight. Keys keep their partition, so a database's requests stay in order whoever produced them.
 * If `weigh` fails, partitions are balanced by count (the rebalance never fails for it).
 */
export function weightedAssigner(
  weigh: () => Promise<KeyWeights>,
  onError: (error: unknown) => void = () => undefined,
): PartitionAssigner {
  return ({ cluster }) => ({
    name: 'DatabaseWeightedAssigner',
    version: 1,
    async assign({ members, topics }) {
      let weights: KeyWeights = new Map();
      try {
        weights = await weigh();
      } catch (error) {
        onError(error);
      }
      const ids = members.map((m) => m.memberId);
      const byMember = new Map<string, Record<string, number[]>>(ids.map((id) => [id, {}]));
      for (const topic of topics) {
        const partitions = cluster.findTopicPartitionMetadata(topic).length;
        for (const [member, assigned] of balance(ids, partitionWeights(weights, partitions))) {
          if (assigned.length > 0) byMember.get(member)![topic] = assigned;
        }
      }
      return ids.map((memberId) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 1,
          assignment: byMember.get(memberId)!,
          userData: Buffer.alloc(0),
        }),
      }));
    },
    protocol({ topics }) {
      return {
        name: 'DatabaseWeightedAssigner',
        metadata: AssignerProtocol.MemberMetadata.encode({
          version: 1,
          topics,
          userData: Buffer.alloc(0),
        }),
      };
    },
  });
}
