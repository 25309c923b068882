/*
 * Test fixture (not part of the build): one refresh in a child process, so a test can kill -9 it mid-build.
 * Run with `node scripts/run-ts.js libs/source-db/src/refresh-child.fixture.ts` and MP_CHILD_REFRESH set to
 * JSON {conn, schemaName, tableName, sql}.
 */
import { openSourceDriver } from '../src/open-source-driver';
import type { SourceConnectionInfo } from '../src/types';

interface ChildRequest {
  conn: SourceConnectionInfo;
  schemaName: string;
  tableName: string;
  sql: string;
}

export async function main(): Promise<void> {
  const req = JSON.parse(process.env.MP_CHILD_REFRESH ?? '{}') as ChildRequest;
  const driver = openSourceDriver(req.conn);
  try {
    const result = await driver.refreshTable({ ...req, statementTimeoutMs: 120_000 });
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await driver.close();
  }
}
