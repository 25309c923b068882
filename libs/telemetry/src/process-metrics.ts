import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { Metrics } from './metrics';

/**
 * The memory limit this process runs under: the cgroup v2/v1 limit in a container, else the machine's
 * memory. "Memory use > 80 %" compares the resident set against it.
 */
export function memoryLimitBytes(read: (path: string) => string = (p) => readFileSync(p, 'utf8')): number {
  for (const path of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    try {
      const text = read(path).trim();
      const n = Number(text);
      // "max" or the v1 "unlimited" sentinel (close to 2^63) mean no limit.
      if (text !== 'max' && Number.isFinite(n) && n > 0 && n < 2 ** 60) return Math.min(n, totalmem());
    } catch {
      // not in a cgroup with that file
    }
  }
  return totalmem();
}

let registered = false;

/** Process memory gauges (semantic-convention names; Prometheus: process_memory_usage_bytes etc.). */
export function registerProcessMetrics(): void {
  if (registered) return;
  registered = true;
  const limit = memoryLimitBytes();
  Metrics.observe('process.memory.usage', 'Resident set size of the process', 'By', async () => [
    { value: process.memoryUsage().rss, attributes: {} },
  ]);
  Metrics.observe(
    'process.memory.limit',
    'Memory available to the process (cgroup limit or RAM)',
    'By',
    async () => [{ value: limit, attributes: {} }],
  );
  Metrics.observe('v8js.memory.heap.used', 'V8 heap in use', 'By', async () => [
    { value: process.memoryUsage().heapUsed, attributes: {} },
  ]);
  Metrics.observe('v8js.memory.heap.limit', 'V8 heap size limit', 'By', async () => [
    { value: getHeapStatistics().heap_size_limit, attributes: {} },
  ]);
}

/** For tests that restart telemetry in one process. */
export function resetProcessMetrics(): void {
  registered = false;
}
