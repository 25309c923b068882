import { AddressInfo, connect, createServer, Server, Socket } from 'node:net';
import { createTestSourceDatabase, TestSourceDatabase } from '@model-persistence/testing';
import { cacheSchemaName, openSourceDriver, SourceDriver } from '../src/index';

jest.setTimeout(60_000);

/** Delay added to every answer of the server: a round trip costs at least this much. */
const DELAY_MS = 250;

/**
 * A loopback proxy in front of PostgreSQL that holds every chunk the server sends for DELAY_MS (in order): the
 * time of an exchange, divided by DELAY_MS, is the number of round trips it waited for.
 */
async function slowAnswers(targetPort: number): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect({ port: targetPort, host: '127.0.0.1' });
    sockets.add(client).add(upstream);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.on('data', (d) => upstream.write(d));
    // one queue drained by one timer: timers of different durations due in the same millisecond may fire in any
    // order, which reordered the server's answers (a model query's error was once read as the next message's)
    const queue: { at: number; d: Buffer }[] = [];
    let timer: NodeJS.Timeout | null = null;
    const drain = () => {
      timer = null;
      while (queue.length > 0 && queue[0].at <= Date.now()) {
        const { d } = queue.shift()!;
        if (!client.destroyed) client.write(d);
      }
      if (queue.length > 0) timer = setTimeout(drain, Math.max(0, queue[0].at - Date.now()));
    };
    upstream.on('data', (d: Buffer) => {
      queue.push({ at: Date.now() + DELAY_MS, d });
      timer ??= setTimeout(drain, DELAY_MS);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/*
 * Issue 13, target 4: the source round trips on a single model's path. A build of a model without managed indexes
 * is one round trip (its transaction pipelined: BEGIN, the model SQL, the fenced swap and COMMIT), and reading input
 * signatures two (BEGIN with every model's EXPLAIN, then the statistics with COMMIT), however many models.
 */
describe('PostgreSQL driver round trips', () => {
  let db: TestSourceDatabase;
  let proxy: Awaited<ReturnType<typeof slowAnswers>>;
  let driver: SourceDriver;
  let schema: string;
  /** round trips an exchange waited for (its time in whole DELAY_MS) */
  const roundTrips = async (fn: () => Promise<unknown>) => {
    const t = Date.now();
    await fn();
    return Math.floor((Date.now() - t) / DELAY_MS);
  };

  beforeAll(async () => {
    db = await createTestSourceDatabase('postgres', 'pgrtt');
    await db.query('create table src (id int primary key, v int)');
    await db.query('insert into src values (1, 1), (2, 2)');
    proxy = await slowAnswers(db.connection.port);
    driver = openSourceDriver({ ...db.connection, host: '127.0.0.1', port: proxy.port });
    schema = cacheSchemaName(db.name, '00000000-0000-4000-8000-000000000001', 7);
  });
  afterAll(async () => {
    await driver?.close();
    await proxy?.close();
    await db?.drop();
  });

  const build = (generation: number, sql = 'select id, v from src') =>
    driver.refreshTable({
      schemaName: schema,
      tableName: 'model_1_rtt',
      sql,
      statementTimeoutMs: 10_000,
      fence: { generation },
    });

  it('a build without managed indexes is one round trip, and its result is the model', async () => {
    await build(1); // the first one connects and creates the schema and fence table
    expect(await roundTrips(() => build(2))).toBe(1);
    expect(await db.query(`select id, v from "${schema}".model_1_rtt order by id`)).toEqual([
      { id: 1, v: 1 },
      { id: 2, v: 2 },
    ]);
  });

  it('a failing model query sent ahead of the swap commits nothing: the previous table stays, no temporary one', async () => {
    await build(3);
    await expect(build(4, 'select id, v / 0 as v from src')).rejects.toThrow(/division by zero/);
    expect(await db.query(`select count(*)::int as n from "${schema}".model_1_rtt`)).toEqual([{ n: 2 }]);
    expect(
      await db.query(
        `select table_name from information_schema.tables where table_schema = $1 order by table_name`,
        [schema],
      ),
    ).toEqual([{ table_name: 'cache_fence' }, { table_name: 'model_1_rtt' }]);
  });

  it('an older generation sent ahead of the swap is refused by the fence; the newer table stays', async () => {
    await build(10, 'select 10 as id, 10 as v');
    await expect(build(5)).rejects.toMatchObject({ details: expect.objectContaining({ fenced: true }) });
    expect(await db.query(`select id from "${schema}".model_1_rtt`)).toEqual([{ id: 10 }]);
  });

  it('input signatures: two round trips for one model and for several', async () => {
    const req = (sql: string) => ({ sql, statementTimeoutMs: 10_000 });
    expect(await roundTrips(() => driver.readInputSignature!(req('select id from src')))).toBe(2);
    let read: Awaited<ReturnType<NonNullable<SourceDriver['readInputSignatures']>>> = [];
    expect(
      await roundTrips(async () => {
        read = await driver.readInputSignatures!([
          req('select id from src'),
          req('select v from src where id > 1'),
          { ...req('select 1'), refreshKeySql: 'select max(v) from src' },
        ]);
      }),
    ).toBe(2);
    expect(read.map((r) => r.signature)).toEqual([
      expect.any(String),
      expect.any(String),
      expect.any(String),
    ]);
  });
});
