/*
 * Test fixture (not part of the build): a process that holds a source driver while a test terminates its
 * connections (connection-loss.int-spec.ts). An unhandled 'error' event would end it with exit code 1; a
 * survivor prints one JSON line per step and exits 0. MP_CHILD_LOSS = JSON {conn, schemaName, tableName,
 * slowSql, quickSql}. After the step `idle` it waits for a line on stdin before its last refresh.
 */
import { createInterface } from 'node:readline';
import { openSourceDriver } from '../src/open-source-driver';
import { SourceError } from '../src/source-error';
import type { SourceConnectionInfo } from '../src/types';

interface ChildRequest {
  conn: SourceConnectionInfo;
  schemaName: string;
  tableName: string;
  slowSql: string;
  quickSql: string;
}

const say = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);

export async function main(): Promise<void> {
  const req = JSON.parse(process.env.MP_CHILD_LOSS ?? '{}') as ChildRequest;
  const driver = openSourceDriver(req.conn, { poolSize: 2 });
  const refresh = (sql: string) =>
    driver.refreshTable({
      schemaName: req.schemaName,
      tableName: req.tableName,
      sql,
      statementTimeoutMs: 60_000,
    });
  const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  try {
    say({ step: 'warm', rows: (await refresh(req.quickSql)).rows });
    try {
      const r = await refresh(req.slowSql);
      say({ step: 'slow', rows: r.rows });
    } catch (error) {
      const e = error as SourceError;
      say({ step: 'slow', errorClass: e.errorClass ?? null, code: e.code ?? null, message: e.message });
    }
    // what the refresher's retry policy does with a `connection` failure: try again
    say({ step: 'retried', rows: (await refresh(req.quickSql)).rows });
    say({ step: 'idle' });
    await lines.next();
    say({ step: 'after-idle', rows: (await refresh(req.quickSql)).rows });
  } finally {
    await driver.close();
    process.stdin.destroy();
  }
}
