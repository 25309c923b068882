import type { KafkaMessage } from 'kafkajs';
import { handleBatchByKey, laneIndexes, Slots } from './key-lanes';

const msg = (offset: number, key: string | null): KafkaMessage => ({
  offset: String(offset),
  key: key === null ? null : Buffer.from(key),
  value: Buffer.from(''),
  timestamp: '0',
  attributes: 0,
  headers: {},
});

const tick = () => new Promise((r) => setImmediate(r));

function controls(messages: KafkaMessage[], running = () => true) {
  const resolved: string[] = [];
  return {
    resolved,
    payload: {
      batch: { topic: 't', partition: 0, messages } as never,
      resolveOffset: (o: string) => void resolved.push(o),
      commitOffsetsIfNecessary: async () => undefined,
      isRunning: running,
      isStale: () => false,
      heartbeat: async () => undefined,
    },
  };
}

/** A handler whose calls finish only when the test says so, recording start order. */
function gatedHandler() {
  const started: string[] = [];
  const gates = new Map<string, { resolve: () => void; reject: (e: unknown) => void }>();
  const handle = (m: KafkaMessage) =>
    new Promise<void>((resolve, reject) => {
      started.push(m.offset);
      gates.set(m.offset, { resolve, reject });
    });
  return { started, gates, handle };
}

describe('laneIndexes', () => {
  it('groups by key in offset order; messages without a key share one lane', () => {
    expect(laneIndexes([msg(0, 'a'), msg(1, 'b'), msg(2, 'a'), msg(3, null), msg(4, null)])).toEqual([
      [0, 2],
      [1],
      [3, 4],
    ]);
  });
});

describe('Slots', () => {
  it('bounds holders and hands a released slot to the next waiter', async () => {
    const slots = new Slots(2);
    await slots.acquire();
    await slots.acquire();
    let third = false;
    const waiting = slots.acquire().then(() => (third = true));
    await tick();
    expect(third).toBe(false);
    slots.release();
    await waiting;
    expect(slots.inUse).toBe(2);
    slots.release();
    slots.release();
    expect(slots.inUse).toBe(0);
  });
});

describe('handleBatchByKey', () => {
  it('runs different keys at once, each key in order, and resolves offsets only up to the first unfinished', async () => {
    const { started, gates, handle } = gatedHandler();
    const c = controls([msg(10, 'a'), msg(11, 'b'), msg(12, 'a'), msg(13, 'c')]);
    const run = handleBatchByKey(c.payload, new Slots(10), handle);
    await tick();
    // a's second message waits for its first; b and c start at once
    expect(started).toEqual(['10', '11', '13']);
    gates.get('11')!.resolve();
    gates.get('13')!.resolve();
    await tick();
    expect(c.resolved).toEqual([]); // 10 is still running
    gates.get('10')!.resolve();
    await tick();
    expect(started).toEqual(['10', '11', '13', '12']);
    expect(c.resolved).toEqual(['10', '11']);
    gates.get('12')!.resolve();
    await run;
    expect(c.resolved).toEqual(['10', '11', '12', '13']);
  });

  it('never runs more handlers than the slots allow', async () => {
    const { started, gates, handle } = gatedHandler();
    const c = controls([msg(0, 'a'), msg(1, 'b'), msg(2, 'c')]);
    const run = handleBatchByKey(c.payload, new Slots(1), handle);
    await tick();
    expect(started).toEqual(['0']);
    gates.get('0')!.resolve();
    await tick();
    await tick();
    expect(started).toEqual(['0', '1']);
    gates.get('1')!.resolve();
    await tick();
    await tick();
    gates.get('2')!.resolve();
    await run;
    expect(c.resolved).toEqual(['0', '1', '2']);
  });

  it('a failing handler stops its lane, leaves its offset unresolved and fails the batch after the others', async () => {
    const { started, gates, handle } = gatedHandler();
    const c = controls([msg(0, 'a'), msg(1, 'b'), msg(2, 'a')]);
    const run = handleBatchByKey(c.payload, new Slots(5), handle);
    await tick();
    gates.get('0')!.reject(new Error('dead-letter write failed'));
    await tick();
    gates.get('1')!.resolve();
    await expect(run).rejects.toThrow('dead-letter write failed');
    expect(started).toEqual(['0', '1']); // a's next message is not run past the failure
    expect(c.resolved).toEqual([]); // 1 finished, but 0 before it did not: both are re-delivered
  });

  it('starts nothing more once the consumer stops (rebalance, shutdown)', async () => {
    let running = true;
    const { started, gates, handle } = gatedHandler();
    const c = controls([msg(0, 'a'), msg(1, 'a')], () => running);
    const run = handleBatchByKey(c.payload, new Slots(5), handle);
    await tick();
    running = false;
    gates.get('0')!.resolve();
    await run;
    expect(started).toEqual(['0']);
    expect(c.resolved).toEqual(['0']);
  });
});
