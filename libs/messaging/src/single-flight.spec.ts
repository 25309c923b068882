import { SingleFlight } from './single-flight';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('SingleFlight', () => {
  it('runs tasks of one key one after the other, other keys at once', async () => {
    const flight = new SingleFlight();
    const log: string[] = [];
    const task = (name: string, ms: number) => async () => {
      log.push(`start ${name}`);
      await tick(ms);
      log.push(`end ${name}`);
      return name;
    };
    const results = await Promise.all([
      flight.run('run-1', task('a', 30)),
      flight.run('run-1', task('b', 1)),
      flight.run('run-2', task('c', 1)),
    ]);
    expect(results).toEqual(['a', 'b', 'c']);
    expect(log.indexOf('start b')).toBeGreaterThan(log.indexOf('end a'));
    expect(log.indexOf('start c')).toBeLessThan(log.indexOf('end a'));
    expect(flight.size).toBe(0);
  });

  it('a failed first task still lets the waiting one run, and the failure goes to its own caller', async () => {
    const flight = new SingleFlight();
    const first = flight.run('k', async () => {
      await tick(5);
      throw new Error('boom');
    });
    const second = flight.run('k', () => Promise.resolve('ok'));
    await expect(first).rejects.toThrow('boom');
    await expect(second).resolves.toBe('ok');
    expect(flight.size).toBe(0);
  });

  it('three deliveries of one key never overlap', async () => {
    const flight = new SingleFlight();
    let inside = 0;
    let most = 0;
    await Promise.all(
      [1, 2, 3].map(() =>
        flight.run('k', async () => {
          most = Math.max(most, ++inside);
          await tick(3);
          inside--;
        }),
      ),
    );
    expect(most).toBe(1);
  });
});
