import { cacheTableName, openSourceDriver, SourceError } from '../src/index';
import { describeSourceDriver } from './source-driver.test-kit';

jest.setTimeout(60_000);

/* The shared driver scenarios (source-driver.test-kit.ts) against a real MariaDB database, plus the MySQL 8 path. */
describeSourceDriver('mysql', (bed) => {
  it('MySQL 8 path (no server-side timeout for CREATE … SELECT): the client-side deadline kills the build', async () => {
    const asMysql8 = openSourceDriver(bed.db.connection);
    // pretend the server is MySQL: the driver then relies on its own deadline + KILL QUERY
    (asMysql8 as unknown as { flavor: Promise<string> }).flavor = Promise.resolve('mysql');
    const table = cacheTableName('mysql', 12, 'deadline');
    try {
      await asMysql8.refreshTable({
        schemaName: bed.schema,
        tableName: table,
        sql: 'select 1 as a',
        statementTimeoutMs: 5000,
      });
      const error = await asMysql8
        .refreshTable({
          schemaName: bed.schema,
          tableName: table,
          sql: 'select id from src where sleep(0.2) = 0',
          statementTimeoutMs: 500,
        })
        .catch((e: unknown) => e);
      expect((error as SourceError).errorClass).toBe('timeout');
      expect((error as SourceError).message).toMatch(/Statement timeout of 500 ms exceeded/);
      expect(await bed.count(table)).toBe(1);
      expect(await bed.leftovers()).toEqual([]);
      const active = await bed.db.query(
        `select 1 from information_schema.PROCESSLIST where INFO like '%sleep(0.2)%' and ID <> CONNECTION_ID()`,
      );
      expect(active).toEqual([]);
    } finally {
      await asMysql8.close();
    }
  });
});
