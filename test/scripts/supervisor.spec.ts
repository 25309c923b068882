/* eslint-disable @typescript-eslint/no-require-imports */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface SupervisorLike {
  add(name: string, args: string[], options: object): { restarts: number; child: { pid?: number } | null };
  delayFor(attempt: number): number;
  stopAll(timeoutMs?: number): Promise<void>;
}
const { Supervisor } = require('../../scripts/supervisor.js') as {
  Supervisor: new (o: object) => SupervisorLike;
};

const waitFor = async (probe: () => boolean, ms = 10_000) => {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('npm start supervision (scripts/supervisor.js)', () => {
  it('backs off exponentially, capped', () => {
    const s = new Supervisor({ baseMs: 1000, maxMs: 30_000 });
    expect([1, 2, 3, 4, 5, 6, 7].map((a) => s.delayFor(a))).toEqual([
      1000, 2000, 4000, 8000, 16000, 30000, 30000,
    ]);
  });

  it('restarts a service that exits, saying which, its exit code and the next attempt; the others keep running', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mp-sup-'));
    const crashy = join(dir, 'crashy.js');
    writeFileSync(crashy, `console.log('up'); setTimeout(() => process.exit(3), 50);`);
    const steady = join(dir, 'steady.js');
    writeFileSync(steady, `console.log('steady up'); setInterval(() => undefined, 1000);`);
    const logs: string[] = [];
    const out: string[] = [];
    const sup = new Supervisor({
      baseMs: 100,
      maxMs: 400,
      log: (l: string) => logs.push(l),
      out: (l: string) => out.push(l),
    });
    const c = sup.add('crashy', [crashy], {});
    const st = sup.add('steady', [steady], {});
    const steadyPid = st.child?.pid;
    try {
      await waitFor(() => c.restarts >= 3);
      expect(logs[0]).toBe(
        '[start] crashy exited with code 3; restarting it in 0.1 s (attempt 1); the other services keep running',
      );
      expect(logs).toContain(
        '[start] crashy exited with code 3; restarting it in 0.2 s (attempt 2); the other services keep running',
      );
      expect(logs).toContain('[start] restarting crashy');
      expect(out.filter((l) => l === '[crashy] up').length).toBeGreaterThanOrEqual(3);
      expect(out).toContain('[steady] steady up');
      expect(st.restarts).toBe(0);
      expect(st.child?.pid).toBe(steadyPid);
    } finally {
      await sup.stopAll(5_000);
    }
    // stopped for good: no restart after stopAll
    const restarts = c.restarts;
    await new Promise((r) => setTimeout(r, 600));
    expect(c.restarts).toBe(restarts);
    expect(logs.filter((l) => /steady exited/.test(l))).toEqual([]);
    // three node start-ups plus back-off: seconds on a loaded 2-core machine, not jest's default 5 s
  }, 30_000);
});
