import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..');

describe('scripts/infra.js (local infrastructure)', () => {
  it('is idempotent: a second `up` finds the running broker and the existing databases', () => {
    const env = { ...process.env };
    delete env.KAFKA_BROKERS; // exercise the local-broker path, not the "use what is given" one
    delete env.DATABASE_URL;
    const r = spawnSync('node', ['scripts/infra.js', 'up'], {
      cwd: root,
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Kafka already running|a Kafka broker not started by this script answers/);
    expect(r.stdout).not.toMatch(/created PostgreSQL database model_persistence/);
    expect(r.stdout).toContain('KAFKA_BROKERS=127.0.0.1:19092');
  });

  it('uses KAFKA_BROKERS / DATABASE_URL when set and starts nothing', () => {
    const r = spawnSync('node', ['scripts/infra.js', 'up'], {
      cwd: root,
      env: {
        ...process.env,
        KAFKA_BROKERS: '127.0.0.1:19092',
        DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/model_persistence',
      },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('KAFKA_BROKERS=127.0.0.1:19092: using it, starting nothing');
    expect(r.stdout).not.toMatch(/starting Kafka/);
  });

  it('reports status', () => {
    const r = spawnSync('node', ['scripts/infra.js', 'status'], { cwd: root, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Kafka (running|not running)/);
  });
});
