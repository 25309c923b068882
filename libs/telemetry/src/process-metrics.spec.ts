import { totalmem } from 'node:os';
import { memoryLimitBytes } from './process-metrics';

const files = (map: Record<string, string>) => (path: string) => {
  if (!(path in map)) throw new Error(`ENOENT ${path}`);
  return map[path];
};

describe('memoryLimitBytes', () => {
  it('reads the cgroup v2 limit', () => {
    expect(memoryLimitBytes(files({ '/sys/fs/cgroup/memory.max': '536870912\n' }))).toBe(
      Math.min(536870912, totalmem()),
    );
  });

  it('falls back to cgroup v1, then to the machine memory when unlimited', () => {
    expect(memoryLimitBytes(files({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': '268435456' }))).toBe(
      Math.min(268435456, totalmem()),
    );
    expect(memoryLimitBytes(files({ '/sys/fs/cgroup/memory.max': 'max' }))).toBe(totalmem());
    expect(
      memoryLimitBytes(files({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712' })),
    ).toBe(totalmem());
    expect(memoryLimitBytes(files({}))).toBe(totalmem());
  });
});
