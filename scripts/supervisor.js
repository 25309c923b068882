'use strict';
/*
 * `npm start`'s supervision of the services: a service that exits is started again after a backoff (1 s, 2 s,
 * 4 s … capped at 30 s; back to 1 s once it stayed up for a minute), saying which service, its exit code and when
 * the next attempt is, instead of stopping the whole stack. `stopAll()` (Ctrl-C) stops everything for good.
 */
const { spawn } = require('node:child_process');

class Supervisor {
  /**
   * @param {{ baseMs?: number, maxMs?: number, healthyMs?: number, log?: (line: string) => void,
   *           out?: (line: string) => void }} [options]
   */
  constructor(options = {}) {
    this.baseMs = options.baseMs ?? 1000;
    this.maxMs = options.maxMs ?? 30_000;
    this.healthyMs = options.healthyMs ?? 60_000;
    this.log = options.log ?? ((line) => console.error(line));
    this.out = options.out ?? ((line) => process.stdout.write(line + '\n'));
    this.services = new Map();
    this.stopping = false;
  }

  /** The delay before restart number `attempt` (1-based): base · 2^(attempt-1), capped. */
  delayFor(attempt) {
    return Math.min(this.maxMs, this.baseMs * 2 ** Math.max(0, attempt - 1));
  }

  /** Starts `name` as `node <args>` (spawn options as given) and keeps it running. */
  add(name, args, spawnOptions) {
    const s = { name, args, spawnOptions, child: null, timer: null, attempt: 0, startedAt: 0, restarts: 0 };
    this.services.set(name, s);
    this.spawn(s);
    return s;
  }

  spawn(s) {
    s.timer = null;
    s.startedAt = Date.now();
    const child = spawn(process.execPath, s.args, { ...s.spawnOptions, stdio: ['ignore', 'pipe', 'pipe'] });
    s.child = child;
    const prefix = `[${s.name}] `;
    for (const stream of [child.stdout, child.stderr]) {
      let buf = '';
      stream.on('data', (d) => {
        buf += d.toString();
        const lines = buf.split('\n');
        buf = lines.pop();
        for (const l of lines) this.out(prefix + l);
      });
    }
    child.on('error', (e) => this.log(`[start] ${s.name} could not be started: ${e.message}`));
    child.on('exit', (code, signal) => this.exited(s, code, signal));
  }

  exited(s, code, signal) {
    if (this.stopping) return;
    // a service that ran for a while before exiting starts the backoff over
    s.attempt = Date.now() - s.startedAt >= this.healthyMs ? 1 : s.attempt + 1;
    s.restarts++;
    const delay = this.delayFor(s.attempt);
    const how = signal ? `signal ${signal}` : `code ${code}`;
    this.log(
      `[start] ${s.name} exited with ${how}; restarting it in ${delay / 1000} s (attempt ${s.attempt}); ` +
        'the other services keep running',
    );
    s.timer = setTimeout(() => {
      if (this.stopping) return;
      this.log(`[start] restarting ${s.name}`);
      this.spawn(s);
    }, delay);
  }

  /** Stops every service (SIGTERM, SIGKILL after `timeoutMs`) and cancels pending restarts. */
  async stopAll(timeoutMs = 20_000) {
    this.stopping = true;
    const waits = [];
    for (const s of this.services.values()) {
      if (s.timer) clearTimeout(s.timer);
      const c = s.child;
      if (!c || c.exitCode !== null || c.signalCode !== null) continue;
      waits.push(
        new Promise((resolve) => {
          const kill = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
          c.once('exit', () => (clearTimeout(kill), resolve()));
          c.kill('SIGTERM');
        }),
      );
    }
    await Promise.all(waits);
  }
}

module.exports = { Supervisor };
