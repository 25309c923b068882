/* eslint-disable @typescript-eslint/no-require-imports */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const report = require('../../scripts/reliability-report.js') as {
  render: (dir?: string) => string;
  MARKER: string;
};

describe('docs/RELIABILITY.md generation (scripts/reliability-report.js)', () => {
  it('the doc has the marker once: hand-written text above it, generated figures below', () => {
    const doc = readFileSync(resolve(__dirname, '..', '..', 'docs', 'RELIABILITY.md'), 'utf8');
    expect(doc.split(report.MARKER)).toHaveLength(2);
  });

  it('renders every JSON found, known keys in the summary, the rest per scenario and mode, with the commit', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mp-rel-'));
    for (const mode of ['short', 'full']) mkdirSync(join(dir, mode));
    const write = (mode: string, file: string, data: object) =>
      writeFileSync(join(dir, mode, file), JSON.stringify(data));
    write('short', '_run.json', {
      mode: 'short',
      at: 'T1',
      commit: 'abc123',
      passed: 9,
      failed: 0,
      durationMs: 61_000,
      failedFiles: ['test/faults/x.fault-spec.ts'],
    });
    write('short', '8-source-connection-lost.json', {
      scenario: '8-source-connection-lost',
      mode: 'short',
      at: 'T2',
      testFile: 'test/faults/source-connection-lost.fault-spec.ts',
      load: 'a load',
      faultsInjected: 'kills',
      lost: 'nothing',
      pgTerminateBackend: { connectionRetries: 1 },
      outageMs: 9000,
    });
    write('full', '8-source-connection-lost.json', {
      scenario: '8-source-connection-lost',
      mode: 'full',
      at: 'T3',
      load: 'a bigger load',
      faultsInjected: 'kills',
      lost: 'nothing',
      pgTerminateBackend: { connectionRetries: 2 },
      outageMs: 20000,
    });
    write('short', '9-x.json', { scenario: '9-x', testFile: 'test/faults/x.fault-spec.ts', lost: 'nothing' });
    // another helper's file, in a shape this script does not know
    write('short', 'sql-fuzz.json', { statements: 12345, rejected: [1, 2] });
    const md = report.render(dir);
    expect(md.startsWith(report.MARKER)).toBe(true);
    expect(md).toContain('commit `abc123`: 9 tests passed, 0 failed, 61 s.');
    expect(md).toContain(
      '| 8-source-connection-lost | a load / a bigger load | kills | — | nothing | passed / not recorded |',
    );
    expect(md).toContain('| pg terminate backend › connection retries | 1 | 2 |');
    expect(md).toContain('| outage (ms) | 9,000 | 20,000 |');
    expect(md).toContain('| 9-x | — | — | — | nothing / — | **FAILED** / — |');
    expect(md).toContain('### sql-fuzz');
    expect(md).toContain('| statements | 12,345 | — |');
    expect(md).toContain('| rejected | 1, 2 | — |');
  });
});
