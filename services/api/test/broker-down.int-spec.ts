import {
  createTestSourceDatabase,
  eventually,
  PrivateBroker,
  TestSourceDatabase,
} from '@model-persistence/testing';
import { ApiHarness } from './api-harness';

/*
 * The broker goes away (a private broker of this test, SIGKILLed): requests that must publish answer 503
 * BROKER_UNAVAILABLE instead of hanging or answering 500, change nothing they should not, and work again once
 * the broker is back.
 */
describe('api with the Kafka broker down (real PostgreSQL, a private broker that is killed)', () => {
  let broker: PrivateBroker;
  let api: ApiHarness;
  let src: TestSourceDatabase;
  let cardId: number;

  beforeAll(async () => {
    broker = await PrivateBroker.start();
    [api, src] = await Promise.all([
      ApiHarness.start('brokerdown', {}, [broker.brokers]),
      createTestSourceDatabase('postgres', 'brokerdown'),
    ]);
    expect((await api.request('POST', '/api/model-persistence/enable')).status).toBe(204);
    const db = await api.request('POST', '/api/databases', {
      body: {
        name: 'shop',
        engine: 'postgres',
        host: src.connection.host,
        port: src.connection.port,
        db_name: src.connection.dbName,
        user: src.connection.username,
      },
    });
    expect(db.status).toBe(201);
    expect((await api.request('POST', `/api/model-persistence/database/${db.json.id}/persist`)).status).toBe(
      200,
    );
    const card = await api.request('POST', '/api/cards', {
      body: { name: 'Revenue', database_id: db.json.id, sql: 'select 1 as x', type: 'model' },
    });
    expect(card.status).toBe(201);
    cardId = card.json.id;
    expect((await api.request('POST', `/api/model-persistence/card/${cardId}/persist`)).status).toBe(204);
  }, 180_000);

  afterAll(async () => {
    await api?.close();
    await broker?.destroy();
    await src?.drop();
  });

  it('answers 503 BROKER_UNAVAILABLE while the broker is down, and 202 again once it is back', async () => {
    await broker.stop('SIGKILL');

    const refresh = await api.request('POST', `/api/model-persistence/card/${cardId}/refresh`);
    expect(refresh.status).toBe(503);
    expect(refresh.json.error.code).toBe('BROKER_UNAVAILABLE');
    expect(refresh.json.error.message).toMatch(/Kafka/);

    const ready = await api.request('GET', '/ready');
    expect(ready.status).toBe(503);

    // reads do not need the broker
    const list = await api.request('GET', '/api/model-persistence');
    expect(list.status).toBe(200);
    expect(list.json.data.map((r: { card_id: number }) => r.card_id)).toEqual([cardId]);

    await broker.start();
    const again = await eventually(
      async () => {
        const r = await api.request('POST', `/api/model-persistence/card/${cardId}/refresh`);
        return r.status === 202 ? r : null;
      },
      90_000,
      1000,
    );
    expect(again.json.requestId).toMatch(/^[0-9a-f-]{36}$/);
  }, 180_000);
});
