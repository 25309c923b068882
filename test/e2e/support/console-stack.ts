/* The real stack for the admin console's browser tests: service processes from dist, own app database and topics. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  createTestAppDatabase,
  createTestTopics,
  ServiceName,
  ServiceProcess,
  TestAppDatabase,
  testKafkaConfig,
  TEST_BROKERS,
  uniqueTopicPrefix,
} from '@model-persistence/testing';
import { Kafka } from 'kafkajs';

export const ROOT = resolve(__dirname, '..', '..', '..');
export const TOKEN = 'e2e-console-bootstrap-token-0001';

export class ConsoleStack {
  readonly processes: ServiceProcess[] = [];
  apiUrl = '';

  private constructor(
    readonly prefix: string,
    readonly app: TestAppDatabase,
    readonly kafka: Kafka,
    private readonly extraEnv: Record<string, string>,
  ) {}

  /** `services`: which processes to start (the api always); `env`: extra settings for all of them. */
  static async start(
    label: string,
    services: ServiceName[] = ['refresher', 'scheduler', 'history'],
    env: Record<string, string> = {},
  ): Promise<ConsoleStack> {
    for (const f of [
      ...['api', 'scheduler', 'refresher', 'notifier', 'history'].map((s) =>
        join('services', s, 'dist', 'main.js'),
      ),
      join('services', 'api', 'console', 'dist', 'index.html'),
    ]) {
      if (!existsSync(join(ROOT, f))) throw new Error(`${f} missing: run npm run build first`);
    }
    const prefix = uniqueTopicPrefix(label);
    const [app, kafka] = await Promise.all([
      createTestAppDatabase(label),
      createTestTopics(testKafkaConfig(prefix)),
    ]);
    const stack = new ConsoleStack(prefix, app, kafka, env);
    try {
      const api = await stack.startService('api');
      const line = await api.waitForLog(/api listening on/);
      stack.apiUrl = /(http:\/\/[\w.[\]:-]+)/.exec(line)![1].replace('[::1]', '127.0.0.1').replace(/\/$/, '');
      await Promise.all(services.map((s) => stack.startService(s)));
    } catch (e) {
      await stack.close();
      throw e;
    }
    return stack;
  }

  private env(): Record<string, string> {
    return {
      NODE_ENV: 'test',
      KAFKA_BROKERS: TEST_BROKERS.join(','),
      KAFKA_TOPIC_PREFIX: this.prefix,
      KAFKA_TOPIC_PARTITIONS: '3',
      KAFKA_SESSION_TIMEOUT_MS: '10000',
      DATABASE_URL: this.app.url,
      DATABASE_POOL_SIZE: '4',
      LOG_LEVEL: 'info',
      LOG_JSON: 'false',
      OTEL_SDK_DISABLED: 'true',
      METRICS_PORT: '0',
      REFRESHER_CONSUMER_GROUP: `refresher-${this.prefix}`,
      API_PORT: '0',
      API_HOST: '127.0.0.1',
      API_BOOTSTRAP_TOKEN: TOKEN,
      ...this.extraEnv,
    };
  }

  private async startService(name: ServiceName): Promise<ServiceProcess> {
    const p = new ServiceProcess(name, { ...this.env(), INSTANCE_ID: `${name}-e2e` });
    this.processes.push(p);
    await p.start(name === 'api' ? /api listening on/ : new RegExp(`${name} started \\(instance`), 90_000);
    return p;
  }

  /** Calls the admin API as the test (setup and assertions that are not about the page). */
  async api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const r = await fetch(`${this.apiUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${TOKEN}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path} → ${r.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  logs(): string {
    return this.processes
      .map((p) =>
        p.logs
          .slice(-20)
          .map((l) => `[${p.name}] ${l}`)
          .join('\n'),
      )
      .join('\n');
  }

  async close(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop().catch(() => undefined)));
    await this.app.drop().catch(() => undefined);
  }
}
