import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { NestExpressApplication } from '@nestjs/platform-express';
import { Topics } from '@model-persistence/contracts';
import {
  createTestAppDatabase,
  createTestTopics,
  TEST_BROKERS,
  TestAppDatabase,
  testKafkaConfig,
  TopicRecorder,
  uniqueTopicPrefix,
} from '@model-persistence/testing';
import { Kafka } from 'kafkajs';
import { Client } from 'pg';
import { createApiApp, CreateApiAppOptions } from '../src/app.factory';
import { ApiConfig, loadApiConfig } from '../src/config';

export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
  // tests read arbitrary response shapes
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

export interface RequestOptions {
  body?: unknown;
  /** Sent as is (no JSON encoding). */
  raw?: string | Buffer;
  headers?: Record<string, string>;
  /** null: no Authorization header; default: the bootstrap token. */
  token?: string | null;
}

/** An API app on an ephemeral port with its own app database, topic prefix and topic recorder. */
export class ApiHarness {
  private constructor(
    readonly app: NestExpressApplication,
    readonly config: ApiConfig,
    readonly url: string,
    readonly token: string,
    readonly db: TestAppDatabase,
    readonly pg: Client,
    readonly kafka: Kafka,
    readonly prefix: string,
    readonly recorder: TopicRecorder,
  ) {}

  /** `brokers`: another broker than the shared test broker (e.g. a PrivateBroker the test kills). */
  static async start(
    label: string,
    options: CreateApiAppOptions = {},
    brokers: string[] = TEST_BROKERS,
  ): Promise<ApiHarness> {
    const db = await createTestAppDatabase(label);
    const prefix = uniqueTopicPrefix(label);
    const kafka = await createTestTopics(testKafkaConfig(prefix, { brokers }));
    const token = `tok-${randomBytes(16).toString('hex')}`;
    const config = loadApiConfig({
      NODE_ENV: 'test',
      DATABASE_URL: db.url,
      DATABASE_POOL_SIZE: '5',
      KAFKA_BROKERS: brokers.join(','),
      KAFKA_TOPIC_PREFIX: prefix,
      KAFKA_TOPIC_PARTITIONS: '3',
      API_PORT: '0',
      API_BOOTSTRAP_TOKEN: token,
      API_MAX_BODY_BYTES: '65536',
      LOG_LEVEL: 'error',
    });
    const app = await createApiApp(config, { logger: false, ...options });
    await app.listen(0, '127.0.0.1');
    const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    const recorder = await new TopicRecorder(kafka, prefix, [
      Topics.ConfigChanged,
      Topics.PruneRequested,
      Topics.RefreshRequested,
    ]).start();
    return new ApiHarness(app, config, url, token, db, pg, kafka, prefix, recorder);
  }

  async request(method: string, path: string, opts: RequestOptions = {}): Promise<ApiResponse> {
    const headers: Record<string, string> = { ...opts.headers };
    const token = opts.token === undefined ? this.token : opts.token;
    if (token !== null && headers.authorization === undefined) headers.authorization = `Bearer ${token}`;
    let body: string | Buffer | undefined = opts.raw;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    // node:http sends the path byte for byte (fetch would normalize `%2E%2E` segments away, client-side)
    const res = await new Promise<{ status: number; headers: Record<string, string>; text: string }>(
      (resolve, reject) => {
        const base = new URL(this.url);
        const req = httpRequest(
          {
            host: base.hostname,
            port: base.port,
            path,
            method,
            headers: {
              ...headers,
              'content-length': String(body === undefined ? 0 : Buffer.byteLength(body)),
            },
          },
          (response) => {
            const chunks: Buffer[] = [];
            response.on('data', (c: Buffer) => chunks.push(c));
            response.on('end', () =>
              resolve({
                status: response.statusCode ?? 0,
                headers: response.headers as Record<string, string>,
                text: Buffer.concat(chunks).toString('utf8'),
              }),
            );
            response.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(body);
      },
    );
    const text = res.text;
    let json: unknown = undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  }

  async query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await this.pg.query(sql, params)).rows as T[];
  }

  /** Every row of the tables the API writes (api_token without last_used_at, which auth may stamp). */
  async snapshot(): Promise<string> {
    const tables: Record<string, string> = {
      database: 'select * from "database" order by id',
      card: 'select * from card order by id',
      persisted_info: 'select * from persisted_info order by id',
      setting: 'select key, value from setting order by key',
      admin_user: 'select * from admin_user order by id',
      api_token: 'select id, name, token_hash from api_token order by id',
    };
    const out: Record<string, unknown> = {};
    for (const [t, sql] of Object.entries(tables)) out[t] = await this.query(sql);
    return JSON.stringify(out);
  }

  async close(): Promise<void> {
    await this.recorder.stop().catch(() => undefined);
    await this.app.close().catch(() => undefined);
    await this.pg.end().catch(() => undefined);
    await this.db.drop();
  }
}
