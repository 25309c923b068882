import { Client } from 'pg';
import { cacheTableName, FENCE_TABLE, managedIndexName, SourceError } from '../src/index';
import { describeSourceDriver, DriverTestBed } from './source-driver.test-kit';

jest.setTimeout(60_000);

/* The shared driver scenarios (source-driver.test-kit.ts) against a real PostgreSQL database. */
describeSourceDriver('postgres', (bed: DriverTestBed) => {
  describe('incremental merge (PostgreSQL: checks, fence, upsert and COMMIT in one message)', () => {
    const key = ['k1', 'k2'];
    const table = cacheTableName('postgres', 60, 'incremental two keys');
    const sql = 'select k1, k2, v, ts from inc2_src';
    const cache = () => `"${bed.schema}"."${table}"`;
    let generation = 600;
    const full = () =>
      bed.driver.refreshTable({
        schemaName: bed.schema,
        tableName: table,
        sql,
        statementTimeoutMs: 10_000,
        indexes: [
          { name: managedIndexName(60, key, true), columns: key, unique: false, uniqueIfPossible: true },
        ],
        checkpointColumn: 'ts',
        fence: { generation: ++generation },
      });
    const merge = (g = ++generation) =>
      bed.driver.mergeTable({
        schemaName: bed.schema,
        tableName: table,
        sql,
        statementTimeoutMs: 10_000,
        checkpointColumn: 'ts',
        uniqueKey: key,
        lookback: { kind: 'number', value: 10 },
        fence: { generation: g },
      });
    const contents = async () =>
      bed.db.query<unknown>(`select k1, k2, v, ts from ${cache()} order by k1, k2`);
    const live = async () => bed.db.query<unknown>(`select k1, k2, v, ts from inc2_src order by k1, k2`);

    beforeAll(async () => {
      await bed.db.query('create table inc2_src (k1 int, k2 text, v text, ts int)');
      await bed.db.query(`insert into inc2_src values (1, 'a', 'x', 1), (1, 'b', 'y', 2), (2, 'a', 'z', 3)`);
    });

    it('a merge is three round trips: the transaction and checkpoint, the delta, then checks + fence + upsert + COMMIT', async () => {
      await full();
      await bed.db.query(`insert into inc2_src values (2, 'b', 'new', 20)`);
      await bed.db.query(`update inc2_src set v = 'x2', ts = 19 where k1 = 1 and k2 = 'a'`);
      await merge(); // the fence table is known from here on
      await bed.db.query(`insert into inc2_src values (3, 'a', 'newer', 25)`);
      const sent: string[] = [];
      // counts what the driver sends (every statement or message is one round trip)
      const real = Client.prototype.query;
      Client.prototype.query = function (this: Client, ...args: unknown[]) {
        const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string })?.text;
        sent.push(String(text));
        return (real as (...a: unknown[]) => unknown).apply(this, args);
      } as typeof real;
      let merged;
      try {
        merged = await merge();
      } finally {
        Client.prototype.query = real;
      }
      expect(merged).toMatchObject({ merged: true, inserted: 1, updated: 0, checkpoint: '25' });
      expect(sent).toHaveLength(3);
      expect(await contents()).toEqual(await live());
    });

    it('refuses in the server, writing nothing and recording no generation: null or repeated (composite) keys, a checkpoint gone backwards', async () => {
      await bed.db.query(`delete from inc2_src`);
      await bed.db.query(`insert into inc2_src values (1, 'a', 'x', 1), (1, 'b', 'y', 2), (2, 'a', 'z', 3)`);
      await full();
      const fenceOf = async () =>
        (
          await bed.db.query<{ g: string }>(
            `select generation::text as g from "${bed.schema}"."${FENCE_TABLE}" where table_name = $1`,
            [table],
          )
        )[0]?.g;
      const before = await contents();
      const fenced = await fenceOf();
      // (1, 'a') twice: the first copy leaves the cached row as it is, so only the count of keys tells
      await bed.db.query(`insert into inc2_src values (1, 'a', 'x', 1), (2, 'b', 'n', 5)`);
      expect(await merge()).toMatchObject({ merged: false, fallback: 'duplicate-key' });
      await bed.db.query(`delete from inc2_src where ts in (1, 5)`);
      await bed.db.query(`insert into inc2_src values (1, 'a', 'x', 1), (null, 'c', 'n', 5)`);
      expect(await merge()).toMatchObject({ merged: false, fallback: 'duplicate-key' });
      await bed.db.query(`delete from inc2_src where ts >= 2`);
      expect(await merge()).toMatchObject({ merged: false, fallback: 'checkpoint-backwards' });
      expect(await contents()).toEqual(before);
      expect(await fenceOf()).toBe(fenced);
    });

    it('a newer generation holding the table refuses the merge (fenced), and the cache is left as it was', async () => {
      await bed.db.query(`delete from inc2_src`);
      await bed.db.query(`insert into inc2_src values (1, 'a', 'x', 1)`);
      await full();
      const before = await contents();
      await bed.db.query(`insert into inc2_src values (2, 'a', 'y', 5)`);
      const refused = await merge(generation - 1).catch((e: unknown) => e as SourceError);
      expect((refused as SourceError).details?.fenced).toBe(true);
      expect(await contents()).toEqual(before);
      expect(await merge()).toMatchObject({ merged: true, inserted: 1, updated: 0 });
    });
  });
});
