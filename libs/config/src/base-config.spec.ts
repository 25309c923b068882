import { z } from 'zod';
import { ConfigError, envInt, loadBaseConfig, loadServiceConfig } from './index';

describe('config', () => {
  it('has working defaults for local development', () => {
    const c = loadBaseConfig('api', {});
    expect(c.kafka.brokers).toEqual(['127.0.0.1:19092']);
    expect(c.kafka.topicPrefix).toBe('persistence.');
    expect(c.database.url).toMatch(/^postgres:\/\//);
    expect(c.instanceId).toMatch(/^api-/);
  });

  it('lists every invalid variable with its value', () => {
    expect.assertions(4);
    try {
      loadBaseConfig('api', { KAFKA_BROKERS: 'nope', DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud' });
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const msg = (e as Error).message;
      expect(msg).toContain('KAFKA_BROKERS ("nope")');
      expect(msg).toContain('DATABASE_URL');
      expect(msg).toContain('LOG_LEVEL');
    }
  });

  it('adds a service section', () => {
    const c = loadServiceConfig('x', z.object({ PORT: envInt(3000, 1, 65535) }), (e) => ({ port: e.PORT }), {
      PORT: '8080',
    });
    expect(c.port).toBe(8080);
    expect(() =>
      loadServiceConfig('x', z.object({ PORT: envInt(3000, 1, 65535) }), (e) => e, { PORT: 'x' }),
    ).toThrow(/PORT/);
  });
});
