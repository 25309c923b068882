import { createTestAppDatabase, TestAppDatabase } from '@model-persistence/testing';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import {
  CardRepository,
  createAppDataSource,
  InboxRepository,
  IndividualRunReadsRepository,
  PersistedInfoRepository,
  SettingKey,
  SettingRepository,
  SourceDatabaseRepository,
} from '../src/index';

/*
 * An individual run's reads in one statement read exactly what the entity repositories read (types included:
 * dates, jsonb, bigint), and tell a processed request, a missing row and the instance switch.
 */
describe('IndividualRunReadsRepository (real PostgreSQL)', () => {
  let db: TestAppDatabase;
  let ds: DataSource;
  let reads: IndividualRunReadsRepository;
  let dbId: number;
  let cardId: number;
  let bareCardId: number;

  beforeAll(async () => {
    db = await createTestAppDatabase('runreads');
    ds = createAppDataSource({ url: db.url, poolSize: 2 });
    await ds.initialize();
    reads = new IndividualRunReadsRepository(ds);
    const [d] = await ds.query<{ id: number }[]>(
      `insert into "database" (name, engine, host, port, db_name, user_name, statement_timeout_ms, persist_models_enabled,
         privilege_warning, privilege_checked_at)
       values ('src', 'postgres', '127.0.0.1', 5432, 'x', 'postgres', 1000, true, '{"missing": ["CREATE"]}', now())
       returning id`,
    );
    dbId = d.id;
    const [c] = await ds.query<{ id: number }[]>(
      `insert into card (name, database_id, query_sql, type, indexes, incremental, refresh_cron)
       values ('m', $1, 'select 1 as id', 'model', '[{"columns": ["id"], "unique": true}]',
               '{"checkpointColumn": "id", "uniqueKey": ["id"]}', '0 0 * * * ?')
       returning id`,
      [dbId],
    );
    cardId = c.id;
    const [b] = await ds.query<{ id: number }[]>(
      `insert into card (name, database_id, query_sql) values ('bare', $1, 'select 2') returning id`,
      [dbId],
    );
    bareCardId = b.id;
    const rows = new PersistedInfoRepository(ds);
    const info = await rows.create({
      databaseId: dbId,
      cardId,
      questionSlug: 'm',
      schemaName: 's',
      tableName: 't',
      state: 'persisted',
      active: true,
    });
    await rows.claimForRefresh(info.id, 'r1', 30_000, randomUUID(), true);
  });
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  it('reads the database, the card and its row as the entity repositories do, in one statement', async () => {
    const eventId = randomUUID();
    const got = await reads.read({ databaseId: dbId, cardId, inbox: { consumer: 'refresher', eventId } });
    expect(got.db).toEqual(await new SourceDatabaseRepository(ds).findById(dbId));
    expect(got.card).toEqual(await new CardRepository(ds).findById(cardId));
    expect(got.info).toEqual(await new PersistedInfoRepository(ds).findByCardId(cardId));
    expect(got.info?.refreshBegin).toBeInstanceOf(Date);
    expect(got.card?.incremental).toEqual({ checkpointColumn: 'id', uniqueKey: ['id'] });
    expect(got.processed).toBe(false);
    expect(got.enabled).toBe(await new SettingRepository(ds).getBoolean(SettingKey.PersistedModelsEnabled));
  });

  it('tells a processed request, missing rows and the instance switch', async () => {
    const eventId = randomUUID();
    await new InboxRepository(ds).record('refresher', eventId);
    await new SettingRepository(ds).set(SettingKey.PersistedModelsEnabled, 'true');
    const got = await reads.read({
      databaseId: dbId,
      cardId: bareCardId,
      inbox: { consumer: 'refresher', eventId },
    });
    expect(got).toMatchObject({ processed: true, enabled: true, info: null, card: { name: 'bare' } });
    await new SettingRepository(ds).set(SettingKey.PersistedModelsEnabled, 'false');
    const none = await reads.read({
      databaseId: 999_999,
      cardId: 999_999,
      inbox: { consumer: 'other', eventId },
    });
    expect(none).toEqual({ processed: false, enabled: false, db: null, card: null, info: null });
  });
});
