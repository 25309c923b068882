import { PeriodicJob } from './periodic-job';

class CountingJob extends PeriodicJob {
  passes = 0;
  active = 0;
  maxRunning = 0;
  constructor(private readonly failFirst: boolean) {
    super('CountingJob', 20);
  }
  protected async work(): Promise<string | null> {
    this.passes++;
    this.active++;
    this.maxRunning = Math.max(this.maxRunning, this.active);
    await new Promise((r) => setTimeout(r, 30));
    this.active--;
    if (this.failFirst && this.passes === 1) throw new Error('boom');
    return null;
  }
}

describe('PeriodicJob', () => {
  it('runs at start and then periodically, never two passes at once, and goes on after a failed pass', async () => {
    const job = new CountingJob(true);
    job.onApplicationBootstrap();
    await new Promise((r) => setTimeout(r, 250));
    await job.onApplicationShutdown();
    const passes = job.passes;
    expect(passes).toBeGreaterThanOrEqual(3);
    expect(job.maxRunning).toBe(1);
    // stopped: no pass after shutdown, and shutdown waited for the running one
    expect(job.active).toBe(0);
    await new Promise((r) => setTimeout(r, 100));
    expect(job.passes).toBe(passes);
  });
});
