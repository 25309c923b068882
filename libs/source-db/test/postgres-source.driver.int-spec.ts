import { Client } from 'pg';
import { openTestSourceSession } from '@model-persistence/testing';
import {
  cacheTableName,
  FENCE_TABLE,
  managedIndexName,
  openSourceDriver,
  SourceDriver,
  SourceError,
} from '../src/index';
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
    const merge = (g = ++generation, driver: SourceDriver = bed.driver, statementTimeoutMs = 10_000) =>
      driver.mergeTable({
        schemaName: bed.schema,
        tableName: table,
        sql,
        statementTimeoutMs,
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

    it('leaves the rows the lookback reads again unchanged untouched: a reader locking one does not hold the merge up', async () => {
      await bed.db.query(`delete from inc2_src`);
      await bed.db.query(
        `insert into inc2_src values (1, 'a', 'x', 10), (1, 'b', 'y', 10), (2, 'a', 'z', 3)`,
      );
      await full();
      await bed.db.query(`insert into inc2_src values (3, 'a', 'new', 11)`);
      await bed.db.query(`update inc2_src set v = 'z2', ts = 11 where k1 = 2`);
      // (1, 'a') and (1, 'b') are read again (checkpoint 10 >= 11 - 10) but did not change: the upsert locked
      // each of them before comparing, so this reader's lock made it wait out its statement timeout
      const reader = await openTestSourceSession(bed.db.connection);
      try {
        await reader.query('begin');
        await reader.query(`select 1 from ${cache()} where k1 = 1 for update`);
        const merged = await merge(++generation, bed.driver, 2_000).catch((e: unknown) => e as Error);
        expect(merged).toMatchObject({ merged: true, inserted: 1, updated: 1, checkpoint: '11' });
      } finally {
        await reader.query('rollback').catch(() => undefined);
        await reader.end().catch(() => undefined);
      }
      expect(await contents()).toEqual(await live());
    });

    it('without row counters (track_counts off) it upserts instead, with the same counts and refusals', async () => {
      await bed.db.query(`alter database "${bed.db.name}" set track_counts = off`);
      const plain = openSourceDriver(bed.db.connection);
      try {
        await bed.db.query(`delete from inc2_src`);
        await bed.db.query(`insert into inc2_src values (1, 'a', 'x', 1), (1, 'b', 'y', 2)`);
        await full();
        await bed.db.query(`insert into inc2_src values (2, 'a', 'new', 5)`);
        await bed.db.query(`update inc2_src set v = 'y2', ts = 4 where k2 = 'b'`);
        expect(await merge(++generation, plain)).toMatchObject({ merged: true, inserted: 1, updated: 1 });
        expect(await contents()).toEqual(await live());
        await bed.db.query(`insert into inc2_src values (2, 'a', 'dup', 6)`);
        expect(await merge(++generation, plain)).toMatchObject({ merged: false, fallback: 'duplicate-key' });
        await bed.db.query(`delete from inc2_src where v = 'dup'`);
        // the last merge recorded generation - 1 (a refused merge records none): an older one is fenced
        const refused = await merge(generation - 2, plain).catch((e: unknown) => e as SourceError);
        expect((refused as SourceError).details?.fenced).toBe(true);
      } finally {
        await plain.close();
        await bed.db.query(`alter database "${bed.db.name}" reset track_counts`);
      }
    });
  });
});
