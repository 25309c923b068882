import { ModelOutcome } from './model-refresh.service';
import { OutcomeBatcher } from './outcome-batcher';

const outcome = (n: number) => ({ kind: 'success', event: { cardId: n } }) as unknown as ModelOutcome;
const ids = (batch: ModelOutcome[]) => batch.map((o) => o.event.cardId);

describe('OutcomeBatcher', () => {
  it('sends the outcomes of one linger in one request, in order; drain sends the rest and waits', async () => {
    const sent: number[][] = [];
    const b = new OutcomeBatcher(async (batch) => void sent.push(ids(batch)), 30, 100);
    b.add(outcome(1));
    b.add(outcome(2));
    await new Promise((r) => setTimeout(r, 10));
    expect(sent).toEqual([]); // still lingering
    b.add(outcome(3));
    await new Promise((r) => setTimeout(r, 40));
    expect(sent).toEqual([[1, 2, 3]]);
    b.add(outcome(4));
    await b.drain();
    expect(sent).toEqual([[1, 2, 3], [4]]);
  });

  it('sends a full batch at once, and never more than the cap in one request', async () => {
    const sent: number[][] = [];
    let release!: () => void;
    const first = new Promise<void>((r) => (release = r));
    const b = new OutcomeBatcher(
      async (batch) => {
        sent.push(ids(batch));
        if (sent.length === 1) await first; // the first request is slow: more outcomes pile up
      },
      60_000,
      2,
    );
    b.add(outcome(1));
    b.add(outcome(2)); // full: sent without the linger
    expect(sent).toEqual([[1, 2]]);
    for (const n of [3, 4, 5]) b.add(outcome(n));
    release();
    await b.drain();
    expect(sent).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('drain throws the first publish failure', async () => {
    const b = new OutcomeBatcher(async () => Promise.reject(new Error('broker down')), 5, 10);
    b.add(outcome(1));
    await expect(b.drain()).rejects.toThrow('broker down');
  });
});
