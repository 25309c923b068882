import { ErrorCode } from '@model-persistence/errors';
import { ReadinessService } from './readiness.service';

function setup(opts: { dbFails?: boolean; kafkaFails?: boolean }) {
  const ds = {
    query: async () => (opts.dbFails ? Promise.reject(new Error('ECONNREFUSED')) : [{ '?column?': 1 }]),
  };
  const admin = {
    connect: async () => (opts.kafkaFails ? Promise.reject(new Error('broker down')) : undefined),
    describeCluster: async () => ({}),
    disconnect: async () => undefined,
  };
  return new ReadinessService(ds as never, { admin: () => admin } as never);
}

describe('ReadinessService', () => {
  it('is ready when both answer', async () => {
    await expect(setup({}).check()).resolves.toEqual({
      status: 'ok',
      checks: { database: 'ok', kafka: 'ok' },
    });
  });

  it('reports the app database (503) or Kafka (503) with the reason', async () => {
    await expect(setup({ dbFails: true }).check()).rejects.toMatchObject({
      code: ErrorCode.AppDatabaseUnavailable,
      message: expect.stringContaining('ECONNREFUSED'),
    });
    await expect(setup({ kafkaFails: true }).check()).rejects.toMatchObject({
      code: ErrorCode.BrokerUnavailable,
      message: expect.stringContaining('broker down'),
    });
  });
});
