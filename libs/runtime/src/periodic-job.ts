import { Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';

/**
 * A service's own housekeeping job: runs shortly after start-up and then every `intervalMs`, never two passes
 * at once, stopped (and awaited) on shutdown. A failed pass is logged and tried again at the next interval.
 */
export abstract class PeriodicJob implements OnApplicationBootstrap, OnApplicationShutdown {
  protected readonly logger: Logger;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  protected constructor(
    readonly jobName: string,
    private readonly intervalMs: number,
    private readonly firstDelayMs = 0,
  ) {
    this.logger = new Logger(jobName);
  }

  /** One pass; returns a line to log when it changed something. */
  protected abstract work(): Promise<string | null>;

  onApplicationBootstrap(): void {
    this.stopped = false;
    this.schedule(this.firstDelayMs);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.runOnce().finally(() => {
        this.running = null;
        this.schedule(this.intervalMs);
      });
    }, delayMs);
  }

  async runOnce(): Promise<void> {
    try {
      const done = await this.work();
      if (done) this.logger.log(done);
    } catch (e) {
      this.logger.error(
        `${this.jobName} failed, retried in ${this.intervalMs} ms: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
