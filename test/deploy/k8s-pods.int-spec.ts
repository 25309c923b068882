/*
 * deploy/k8s run for real. Every Deployment's container command runs as a process with the environment its pod
 * gets (ConfigMap + literals + Secret references + field references), and every probe is called as the kubelet
 * calls it: GET on the declared path, on the declared port (a named port resolved through the container's
 * ports), without credentials, expecting 200.
 *
 * Kafka is a private KRaft broker with a SCRAM-SHA-512 listener, so the manifests' SASL settings are used as
 * declared. Only what must differ between a cluster and this machine is replaced, each listed in OVERRIDES:
 * addresses (KAFKA_BROKERS, DATABASE_URL), the Secret's values (test secrets; the broker's SCRAM password),
 * the topic namespace (KAFKA_TOPIC_PREFIX), replication (one broker), and each containerPort is mapped to a free
 * host port (in a cluster every pod has its own network namespace; here they share one) — the env variables
 * that name that port get the mapped one, so a probe on a port the process does not listen on still fails.
 *
 * Then, on the same broker, the api and the refresher run a refresh end to end over SCRAM, a wrong password is
 * refused with a clear error (and never printed), and the api's readiness drops to 503 when Kafka goes away.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { Topics } from '@model-persistence/contracts';
import { createKafka } from '@model-persistence/messaging';
import {
  PrivateBroker,
  ServiceName,
  ServiceProcess,
  TestAppDatabase,
  TestSourceDatabase,
  TopicRecorder,
  createTestAppDatabase,
  createTestSourceDatabase,
  eventually,
  freePort,
  testKafkaConfig,
  uniqueTopicPrefix,
} from '@model-persistence/testing';
import { ROOT } from './promql';
import { adminApi, registerPersistedSource } from './fixtures/admin-api';

interface Probe {
  httpGet: { path: string; port: string | number; scheme?: string };
}
interface Container {
  command: string[];
  envFrom?: { configMapRef?: { name: string } }[];
  env?: {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } };
  }[];
  ports?: { name: string; containerPort: number }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
}
interface K8sObject {
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  spec?: { template?: { spec: { containers: Container[] } } };
}

const DIR = join(ROOT, 'deploy/k8s');
const objects: K8sObject[] = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
  .flatMap((f) => parseAllDocuments(readFileSync(join(DIR, f), 'utf8')).map((d) => d.toJSON() as K8sObject));
const configMap = objects.find((o) => o.kind === 'ConfigMap')!;
const secret = objects.find((o) => o.kind === 'Secret')!;
const deployments = objects.filter((o) => o.kind === 'Deployment');

const SCRAM_USER = secret.stringData!.KAFKA_SASL_USERNAME;
const SCRAM_PASSWORD = randomBytes(18).toString('base64url');

/** Test values for every key of the Secret (a new key fails the test until it gets one here). */
function testSecrets(databaseUrl: string): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    SECRETS_KEY: randomBytes(32).toString('hex'),
    API_BOOTSTRAP_TOKEN: randomBytes(24).toString('hex'),
    SMTP_USER: 'model-persistence',
    SMTP_PASSWORD: randomBytes(16).toString('hex'),
    KAFKA_SASL_USERNAME: SCRAM_USER,
    KAFKA_SASL_PASSWORD: SCRAM_PASSWORD,
  };
}

/** What differs between the cluster and this machine (see the header); nothing else is changed. */
function overrides(brokers: string, prefix: string): Record<string, string> {
  return {
    KAFKA_BROKERS: brokers,
    KAFKA_TOPIC_PREFIX: prefix,
    KAFKA_REPLICATION_FACTOR: '1',
    KAFKA_MIN_INSYNC_REPLICAS: '1',
    // the cluster's collector does not exist here; traces are not what this test is about
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
  };
}

interface Pod {
  name: ServiceName;
  env: Record<string, string>;
  /** containerPort → host port */
  portMap: Map<number, number>;
  container: Container;
}

async function podFor(
  name: ServiceName,
  secrets: Record<string, string>,
  extra: Record<string, string>,
): Promise<Pod> {
  const d = deployments.find((o) => o.metadata.name === name)!;
  const [c] = d.spec!.template!.spec.containers;
  expect(c.command).toEqual(['node', `services/${name}/dist/main.js`]);
  expect(c.envFrom?.map((e) => e.configMapRef?.name)).toContain(configMap.metadata.name);
  const env: Record<string, string> = { ...configMap.data };
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.secretKeyRef) {
      const v = secrets[e.valueFrom.secretKeyRef.key];
      expect(v).toBeDefined();
      env[e.name] = v;
    } else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name')
      env[e.name] = `${name}-5c8f7-${randomBytes(3).toString('hex')}`;
    else throw new Error(`${name}: env ${e.name} has a source this test does not resolve`);
  }
  Object.assign(env, extra);
  const portMap = new Map<number, number>();
  for (const p of c.ports ?? []) portMap.set(p.containerPort, await freePort());
  // The variables that choose a listening port get the host port mapped to the same containerPort.
  for (const [k, v] of Object.entries(env))
    if (/_PORT$/.test(k) && portMap.has(Number(v))) env[k] = String(portMap.get(Number(v)));
  return { name, env, portMap, container: c };
}

/** The URL the kubelet would call for a probe: named ports resolved through the container's ports. */
function probeUrl(pod: Pod, probe: Probe): string {
  const { port, path, scheme } = probe.httpGet;
  const containerPort =
    typeof port === 'number' ? port : pod.container.ports?.find((p) => p.name === port)?.containerPort;
  if (containerPort === undefined) throw new Error(`${pod.name}: probe port ${port} is not declared`);
  const hostPort = pod.portMap.get(containerPort);
  if (hostPort === undefined)
    throw new Error(`${pod.name}: probe port ${containerPort} is not a containerPort`);
  return `${(scheme ?? 'HTTP').toLowerCase()}://127.0.0.1:${hostPort}${path}`;
}

const status = (url: string) =>
  fetch(url, { signal: AbortSignal.timeout(5000) }).then(
    (r) => r.status,
    () => 0,
  );

describe('deploy/k8s pods run for real against a SCRAM broker (probes as the kubelet calls them)', () => {
  let broker: PrivateBroker;
  let db: TestAppDatabase;
  let secrets: Record<string, string>;
  const prefix = uniqueTopicPrefix('k8spods');
  const running: ServiceProcess[] = [];

  const start = async (pod: Pod) => {
    const p = new ServiceProcess(pod.name, pod.env);
    running.push(p);
    await p.start(/api listening on|started \(instance/, 90_000);
    return p;
  };

  beforeAll(async () => {
    broker = await PrivateBroker.start({
      scram: { mechanism: 'SCRAM-SHA-512', username: SCRAM_USER, password: SCRAM_PASSWORD },
    });
    db = await createTestAppDatabase('k8spods');
    secrets = testSecrets(db.url);
  }, 180_000);

  afterAll(async () => {
    await Promise.all(running.map((p) => p.stop(20_000)));
    await broker?.destroy();
    await db?.drop();
  }, 90_000);

  it('the manifests use SCRAM and every Secret key gets a test value', () => {
    expect(configMap.data?.KAFKA_SASL_MECHANISM).toBe('scram-sha-512');
    expect(Object.keys(secrets).sort()).toEqual(Object.keys(secret.stringData ?? {}).sort());
  });

  it.each(['api', 'scheduler', 'refresher', 'notifier', 'history'] as ServiceName[])(
    '%s: liveness and readiness answer 200 without credentials, exactly as declared',
    async (name) => {
      const pod = await podFor(name, secrets, overrides(broker.brokers, prefix));
      const { livenessProbe, readinessProbe } = pod.container;
      expect(livenessProbe).toBeDefined();
      expect(readinessProbe).toBeDefined();
      const proc = await start(pod);
      try {
        for (const probe of [livenessProbe!, readinessProbe!]) {
          const url = probeUrl(pod, probe);
          // the kubelet retries readiness until it passes; a consumer joins its group within seconds
          await eventually(async () => (await status(url)) === 200, 60_000, 500).catch(async (e) => {
            throw new Error(
              `${name}: GET ${url} → ${await status(url)}\n${proc.logs.slice(-20).join('\n')}`,
              {
                cause: e,
              },
            );
          });
        }
        // nothing of the Secret is printed
        const logs = proc.logs.join('\n');
        for (const key of ['KAFKA_SASL_PASSWORD', 'SECRETS_KEY', 'API_BOOTSTRAP_TOKEN', 'SMTP_PASSWORD'])
          expect(logs).not.toContain(secrets[key]);
      } finally {
        await proc.stop(20_000);
      }
    },
    150_000,
  );

  describe('the stack over SCRAM', () => {
    let source: TestSourceDatabase;
    let api: ServiceProcess;
    let apiPod: Pod;

    beforeAll(async () => {
      source = await createTestSourceDatabase('postgres', 'k8sscram');
    });
    afterAll(async () => {
      await source?.drop();
    });

    it('api + refresher refresh a model through the SCRAM listener', async () => {
      apiPod = await podFor('api', secrets, overrides(broker.brokers, prefix));
      const refresherPod = await podFor('refresher', secrets, overrides(broker.brokers, prefix));
      api = await start(apiPod);
      await start(refresherPod);
      const kafka = createKafka(
        testKafkaConfig(prefix, {
          brokers: [broker.brokers],
          sasl: { mechanism: 'scram-sha-512', username: SCRAM_USER, password: SCRAM_PASSWORD },
        }),
        'k8spods-recorder',
      );
      const recorder = await new TopicRecorder(kafka, prefix, [Topics.RefreshSucceeded]).start();
      try {
        const http = apiPod.container.ports!.find((p) => p.name === 'http')!.containerPort;
        const client = adminApi(
          () => `http://127.0.0.1:${apiPod.portMap.get(http)}`,
          secrets.API_BOOTSTRAP_TOKEN,
        );
        const databaseId = await registerPersistedSource(client, source, 'scram-sales');
        const card = await client('POST', '/api/cards', {
          name: 'Scram orders',
          database_id: databaseId,
          sql: 'select 1 as n',
        });
        await client('POST', `/api/model-persistence/card/${card.id as number}/persist`);
        await client('POST', `/api/model-persistence/card/${card.id as number}/refresh`);
        const [done] = await recorder.waitFor(
          (m) => m.event?.type === 'RefreshSucceeded' && m.event.cardId === card.id,
          1,
          90_000,
        );
        expect(done.event).toMatchObject({ databaseId });
      } finally {
        await recorder.stop();
      }
    }, 240_000);

    it('a wrong password is refused with a clear error that names the settings, not the password', async () => {
      const wrong = `wrong-${randomBytes(8).toString('hex')}`;
      const pod = await podFor(
        'refresher',
        { ...secrets, KAFKA_SASL_PASSWORD: wrong },
        overrides(broker.brokers, prefix),
      );
      const p = new ServiceProcess('refresher', pod.env);
      running.push(p);
      await expect(p.start(/started \(instance/, 90_000)).rejects.toThrow(/exited before/);
      const logs = p.logs.join('\n');
      expect(logs).toMatch(
        /Kafka refused the credentials \(check KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD\)/,
      );
      expect(logs).toMatch(/SASL SCRAM SHA512 authentication failed/);
      expect(logs).not.toContain(wrong);
      expect(logs).not.toContain(SCRAM_PASSWORD);
    }, 120_000);

    it("the api's readiness probe reports 503 once Kafka is down, liveness stays 200", async () => {
      const ready = probeUrl(apiPod, apiPod.container.readinessProbe!);
      const live = probeUrl(apiPod, apiPod.container.livenessProbe!);
      expect(await status(ready)).toBe(200);
      await broker.stop('SIGKILL');
      await eventually(async () => (await status(ready)) === 503, 30_000, 500);
      expect(await status(live)).toBe(200);
      expect(api.running).toBe(true);
    }, 60_000);
  });
});
