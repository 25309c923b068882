import { OpsServer, startOpsServer } from './ops-server';

describe('ops server', () => {
  let ready = false;
  let server: OpsServer;
  const get = (path: string) => fetch(`http://127.0.0.1:${server.port}${path}`);

  beforeAll(async () => {
    server = await startOpsServer({ port: 0, host: '127.0.0.1', ready: () => ready });
  });
  afterAll(() => server.close());

  it('answers liveness always and readiness only when ready', async () => {
    expect((await get('/health')).status).toBe(200);
    const notReady = await get('/ready');
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ status: 'not ready' });
    ready = true;
    expect((await get('/ready')).status).toBe(200);
  });

  it('is not ready while an async dependency check fails or throws', async () => {
    const check = { ok: false };
    const deps = await startOpsServer({
      port: 0,
      host: '127.0.0.1',
      ready: async () => {
        if (!check.ok) throw new Error('database down');
        return true;
      },
    });
    try {
      const url = `http://127.0.0.1:${deps.port}/ready`;
      expect((await fetch(url)).status).toBe(503);
      check.ok = true;
      expect((await fetch(url)).status).toBe(200);
    } finally {
      await deps.close();
    }
  });

  it('serves /metrics only when telemetry runs, and 404/405 otherwise', async () => {
    const metrics = await get('/metrics');
    expect(metrics.status).toBe(503);
    expect(await metrics.text()).toContain('telemetry not started');
    expect((await get('/nope')).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${server.port}/health`, { method: 'POST' })).status).toBe(405);
  });
});
