import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { errorMessage } from '@model-persistence/errors';
import { HISTORY_OPTIONS, HistoryOptions } from './history-options';
import { SweepStaleRunsUseCase } from './sweep-stale-runs.use-case';

/** Runs the stale-run sweep at start-up and then every HISTORY_SWEEP_INTERVAL_MS, never two at once. */
@Injectable()
export class StaleRunSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(StaleRunSweeper.name);
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly sweep: SweepStaleRunsUseCase,
    @Inject(HISTORY_OPTIONS) private readonly options: HistoryOptions,
  ) {}

  onApplicationBootstrap(): void {
    this.stopped = false;
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.runOnce().finally(() => {
        this.running = null;
        this.schedule(this.options.sweepIntervalMs);
      });
    }, delayMs);
  }

  /** One sweep; failures are logged and retried at the next interval. */
  async runOnce(): Promise<void> {
    try {
      const closed = await this.sweep.execute();
      if (closed > 0) this.logger.warn(`closed ${closed} stale run(s) as failed`);
    } catch (e) {
      this.logger.error(`stale-run sweep failed: ${errorMessage(e)}`);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
