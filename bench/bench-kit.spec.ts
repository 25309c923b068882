import {
  alternate,
  benchRounds,
  commitId,
  fmtSpread,
  LoadMonitor,
  loadThreshold,
  mdTable,
  percentile,
  spread,
} from './bench-kit';

describe('bench-kit', () => {
  it('median, quartiles and min–max of the rounds', () => {
    const s = spread([5, 1, 3, 2, 4]);
    expect(s).toEqual({ n: 5, median: 3, min: 1, max: 5, q1: 2, q3: 4 });
    expect(percentile([10, 20], 50)).toBe(15);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99)).toBeCloseTo(9.91);
    expect(fmtSpread(spread([700, 900, 800, 750, 1100]), 2, 1000)).toBe('0.80 (0.70–1.10)');
  });

  it('alternates the order every round after one warm-up of each side', async () => {
    const calls: string[] = [];
    const side = (name: string, ms: number) => ({
      name,
      run: () => {
        calls.push(name);
        return Promise.resolve(ms);
      },
    });
    const r = await alternate(side('service', 1), side('baseline', 2), 5);
    expect(calls).toEqual([
      'service',
      'baseline',
      'service',
      'baseline',
      'baseline',
      'service',
      'service',
      'baseline',
      'baseline',
      'service',
      'service',
      'baseline',
    ]);
    expect(r.a).toEqual([1, 1, 1, 1, 1]);
    expect(r.b).toEqual([2, 2, 2, 2, 2]);
    expect(r.firstInRound).toEqual(['service', 'baseline', 'service', 'baseline', 'service']);
  });

  it('refuses fewer than 5 rounds', async () => {
    const side = { name: 'x', run: () => Promise.resolve(1) };
    await expect(alternate(side, side, 3)).rejects.toThrow(/at least 5/);
    expect(() => benchRounds({ BENCH_ROUNDS: '3' })).toThrow();
    expect(benchRounds({})).toBe(5);
    expect(benchRounds({ BENCH_ROUNDS: '7' })).toBe(7);
  });

  it('marks a run loaded when the 1-min load average went above 0.75 per core at any sample', () => {
    jest.useFakeTimers();
    try {
      expect(loadThreshold(2, {})).toBe(1.5);
      expect(loadThreshold(2, { BENCH_LOADED_THRESHOLD: '4' })).toBe(4);
      const samples = [0.5, 2.4, 0.9];
      const calm = new LoadMonitor(() => 0.4, 1.5).start();
      expect(calm.stop()).toEqual({ before: 0.4, peak: 0.4, after: 0.4, threshold: 1.5, loaded: false });
      const busy = new LoadMonitor(() => samples.shift() ?? 0.9, 1.5).start();
      jest.advanceTimersByTime(1000);
      const mark = busy.stop();
      expect(mark).toEqual({ before: 0.5, peak: 2.4, after: 0.9, threshold: 1.5, loaded: true });
    } finally {
      jest.useRealTimers();
    }
  });

  it('writes padded Markdown tables', () => {
    expect(mdTable(['a', 'ratio'], [['PostgreSQL', 1.05]])).toBe(
      ['| a          | ratio |', '| ---------- | ----- |', '| PostgreSQL | 1.05  |'].join('\n'),
    );
  });

  it('names the commit, dirty when the tree differs', () => {
    expect(commitId()).toMatch(/^([0-9a-f]{7,}(-dirty)?|unknown)$/);
  });
});
