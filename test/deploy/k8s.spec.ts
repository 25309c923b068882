/*
 * deploy/k8s: the refresher is a scalable Deployment (HPA), every service has liveness/readiness probes on
 * its health endpoints and ports that exist, config (ConfigMap) and secrets (Secret) are separate, and the
 * environment each container gets passes that service's config schema.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { baseEnvSchema } from '@model-persistence/config';
/* eslint-disable no-restricted-imports -- tests may read each service's config schema */
import { apiEnvSchema, loadApiConfig } from '../../services/api/src/config';
import { historyEnvSchema, loadHistoryConfig } from '../../services/history/src/config';
import { loadNotifierConfig, notifierEnvSchema } from '../../services/notifier/src/config';
import { loadRefresherConfig, refresherEnvSchema } from '../../services/refresher/src/config';
import { loadSchedulerConfig, schedulerEnvSchema } from '../../services/scheduler/src/config';
/* eslint-enable no-restricted-imports */
import { ROOT } from './promql';

interface Probe {
  httpGet: { path: string; port: string | number };
}
interface Container {
  name: string;
  image: string;
  command: string[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  env?: {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } };
  }[];
  ports?: { name: string; containerPort: number }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: { limits?: { memory?: string } };
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  spec?: {
    replicas?: number;
    template?: { spec: { containers: Container[] } };
    scaleTargetRef?: { kind: string; name: string };
    minReplicas?: number;
    maxReplicas?: number;
  };
}

const DIR = join(ROOT, 'deploy/k8s');
const objects: K8sObject[] = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
  .flatMap((f) => parseAllDocuments(readFileSync(join(DIR, f), 'utf8')).map((d) => d.toJSON() as K8sObject));
const find = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);

const SERVICES = {
  api: { schema: apiEnvSchema, load: loadApiConfig },
  scheduler: { schema: schedulerEnvSchema, load: loadSchedulerConfig },
  refresher: { schema: refresherEnvSchema, load: loadRefresherConfig },
  notifier: { schema: notifierEnvSchema, load: loadNotifierConfig },
  history: { schema: historyEnvSchema, load: loadHistoryConfig },
} as const;
const NON_CONFIG_VARIABLES = new Set(['OTEL_SERVICE_NAME', 'OTEL_SDK_DISABLED', 'NODE_OPTIONS']);

/** Kubernetes memory quantity (Mi / Gi) in MiB. */
const mebibytes = (q: string) => Number(/^(\d+)Mi$/.exec(q)?.[1] ?? Number(/^(\d+)Gi$/.exec(q)?.[1]) * 1024);
const keys = (schema: unknown) => Object.keys((schema as { shape: Record<string, unknown> }).shape);

/** Secret-looking variables must come from the Secret, never from the ConfigMap or a literal. */
const SECRET_VARIABLES = [
  'DATABASE_URL',
  'SECRETS_KEY',
  'API_BOOTSTRAP_TOKEN',
  'SMTP_USER',
  'SMTP_PASSWORD',
  'KAFKA_SASL_USERNAME',
  'KAFKA_SASL_PASSWORD',
];

/** The Secret ships placeholders, which production refuses; the test fills them as an operator would. */
const OPERATOR_SECRET = '5f1c7a9e3b2d4f6081a2c3e4d5b6a7980f1e2d3c4b5a69788796a5b4c3d2e1f0';
const operatorValue = (v: string) => v.replace(/CHANGE-ME[^@\s]*/, OPERATOR_SECRET);

describe('deploy/k8s manifests', () => {
  const configMap = find('ConfigMap', 'model-persistence-config')!;
  const secret = find('Secret', 'model-persistence-secrets')!;

  it('every resource lists in the kustomization and lives in one namespace', () => {
    const kustomization = parseAllDocuments(
      readFileSync(join(DIR, 'kustomization.yaml'), 'utf8'),
    )[0].toJSON() as {
      resources: string[];
    };
    const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...kustomization.resources].sort()).toEqual(files.sort());
    for (const o of objects.filter((x) => x.kind !== 'Namespace'))
      expect(o.metadata.namespace).toBe('model-persistence');
  });

  it('keeps secrets out of the ConfigMap', () => {
    expect(configMap).toBeDefined();
    expect(secret).toBeDefined();
    for (const v of SECRET_VARIABLES) {
      expect(Object.keys(configMap.data ?? {})).not.toContain(v);
      expect(Object.keys(secret.stringData ?? {})).toContain(v);
    }
  });

  it('runs the refresher as a scalable Deployment with an autoscaler', () => {
    const refresher = find('Deployment', 'refresher')!;
    expect(refresher.spec?.replicas).toBeGreaterThanOrEqual(2);
    const hpa = find('HorizontalPodAutoscaler', 'refresher')!;
    expect(hpa.spec?.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'refresher' });
    expect(hpa.spec?.minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpa.spec?.maxReplicas).toBeGreaterThan(hpa.spec!.minReplicas!);
  });

  it.each(Object.entries(SERVICES))(
    '%s: probes on its health endpoints, valid env, secrets from the Secret',
    (name, svc) => {
      const deployment = find('Deployment', name)!;
      expect(deployment).toBeDefined();
      const [c] = deployment.spec!.template!.spec.containers;
      expect(c.command).toEqual(['node', `services/${name}/dist/main.js`]);
      const ports = new Map((c.ports ?? []).map((p) => [p.name, p.containerPort]));
      expect(ports.get('metrics')).toBe(9464);
      expect(c.livenessProbe?.httpGet.path).toBe('/health');
      expect(c.readinessProbe?.httpGet.path).toBe('/ready');
      for (const probe of [c.livenessProbe!, c.readinessProbe!])
        expect(ports.has(String(probe.httpGet.port))).toBe(true);
      // Every service, the api included, is probed on its ops port: no credentials there (the api's HTTP /ready
      // needs a token). k8s-pods.int-spec.ts starts each process and calls these probes for real.
      for (const probe of [c.livenessProbe!, c.readinessProbe!]) expect(probe.httpGet.port).toBe('metrics');
      expect(c.resources?.limits?.memory).toBeDefined();
      // V8 sizes its heap from the machine, not the container: the heap must be bounded well inside the limit
      const heap = /--max-old-space-size=(\d+)/.exec(
        c.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '',
      );
      expect(heap).not.toBeNull();
      expect(Number(heap![1])).toBeLessThanOrEqual(0.6 * mebibytes(c.resources!.limits!.memory!));

      // The environment the pod gets: ConfigMap + literals + Secret refs (placeholder values), field refs.
      expect(c.envFrom?.map((e) => e.configMapRef?.name)).toContain('model-persistence-config');
      const env: Record<string, string> = { ...configMap.data };
      for (const e of c.env ?? []) {
        if (e.value !== undefined) env[e.name] = e.value;
        else if (e.valueFrom?.secretKeyRef) {
          expect(e.valueFrom.secretKeyRef.name).toBe('model-persistence-secrets');
          env[e.name] = operatorValue(secret.stringData![e.valueFrom.secretKeyRef.key]);
        } else if (e.valueFrom?.fieldRef) env[e.name] = `${name}-7d9f8-abcde`;
      }
      for (const v of SECRET_VARIABLES) {
        const literal = (c.env ?? []).find((e) => e.name === v && e.value !== undefined);
        expect(literal).toBeUndefined();
      }
      const known = new Set([...keys(baseEnvSchema), ...keys(svc.schema), ...NON_CONFIG_VARIABLES]);
      const ownKeys = [...(c.env ?? []).map((e) => e.name), ...Object.keys(configMap.data ?? {})];
      // ConfigMap entries for other services (SMTP_*) are fine; the container's own env must be known.
      expect((c.env ?? []).map((e) => e.name).filter((k) => !known.has(k))).toEqual([]);
      expect(ownKeys.length).toBeGreaterThan(0);
      const config = svc.load(env);
      expect(config.env).toBe('production');
      expect(config.telemetry.metricsPort).toBe(9464);
    },
  );

  it('the ConfigMap only holds variables some service reads', () => {
    const known = new Set([
      ...keys(baseEnvSchema),
      ...Object.values(SERVICES).flatMap((s) => keys(s.schema)),
    ]);
    expect(Object.keys(configMap.data ?? {}).filter((k) => !known.has(k))).toEqual([]);
  });
});
