/*
 * docker-compose.yml cannot run here (no Docker engine), so it is checked statically: valid against the
 * Compose Specification JSON Schema (vendored in deploy/compose), every required component present, and every
 * app service's environment accepted by that service's own config loader (base + service zod schemas), with
 * no variable the service does not know (a typo would otherwise be silently ignored).
 */
import Ajv2019 from 'ajv/dist/2019';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { baseEnvSchema } from '@model-persistence/config';
/* eslint-disable no-restricted-imports -- tests may read each service's config schema */
import { apiEnvSchema, loadApiConfig } from '../../services/api/src/config';
import { historyEnvSchema, loadHistoryConfig } from '../../services/history/src/config';
import { loadNotifierConfig, notifierEnvSchema } from '../../services/notifier/src/config';
import { loadRefresherConfig, refresherEnvSchema } from '../../services/refresher/src/config';
import { loadSchedulerConfig, schedulerEnvSchema } from '../../services/scheduler/src/config';
/* eslint-enable no-restricted-imports */
import { ROOT } from './promql';

type Env = Record<string, string>;
interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string | number | boolean | null>;
  deploy?: { replicas?: number };
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
}
interface Compose {
  services: Record<string, ComposeService>;
}

/** Variables the services read outside their config schema (OpenTelemetry's own, read by telemetry/register). */
const NON_CONFIG_VARIABLES = new Set(['OTEL_SERVICE_NAME', 'OTEL_SDK_DISABLED']);

// what an operator exports (production refuses weaker secrets: 32 random bytes, tokens of 32+ characters)
const SHELL_ENV: Env = {
  SECRETS_KEY: '5f1c7a9e3b2d4f6081a2c3e4d5b6a7980f1e2d3c4b5a69788796a5b4c3d2e1f0',
  API_BOOTSTRAP_TOKEN: 'a-bootstrap-token-for-tests-0123456789',
};

/** Compose variable interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, $$. */
export function interpolate(value: string, env: Env): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g,
    (whole, name?: string, op?: string, arg?: string) => {
      if (whole === '$$') return '$';
      const v = env[name!];
      const unsetOrEmpty = v === undefined || (op?.startsWith(':') && v === '');
      if (op?.endsWith('-')) return unsetOrEmpty ? (arg ?? '') : v;
      if (op?.endsWith('?')) {
        if (unsetOrEmpty) throw new Error(`${name}: ${arg}`);
        return v;
      }
      return v ?? '';
    },
  );
}

function stripIdKeywords(node: unknown): void {
  if (Array.isArray(node)) node.forEach(stripIdKeywords);
  else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (typeof o.id === 'string') delete o.id;
    Object.values(o).forEach(stripIdKeywords);
  }
}

function keys(schema: unknown): string[] {
  return Object.keys((schema as { shape: Record<string, unknown> }).shape);
}

const SERVICES = {
  api: { schema: apiEnvSchema, load: loadApiConfig },
  scheduler: { schema: schedulerEnvSchema, load: loadSchedulerConfig },
  refresher: { schema: refresherEnvSchema, load: loadRefresherConfig },
  notifier: { schema: notifierEnvSchema, load: loadNotifierConfig },
  history: { schema: historyEnvSchema, load: loadHistoryConfig },
} as const;

describe('docker-compose.yml', () => {
  const text = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
  const compose = parse(text, { merge: true }) as Compose;

  it('is valid against the Compose Specification schema', () => {
    const schema = JSON.parse(
      readFileSync(join(ROOT, 'deploy/compose/compose-spec.schema.json'), 'utf8'),
    ) as Record<string, unknown>;
    // Written for draft 2019-09 under older spellings ajv rejects: `$schema` with `http:` and `#`, and
    // draft-04 `id` annotations (informational JSON pointers, no `$ref` points at them).
    delete schema.$schema;
    stripIdKeywords(schema);
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    // Formats the compose schema names; compose itself validates their syntax at run time.
    ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
    ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp))?$/);
    ajv.addFormat('ports', true);
    ajv.addFormat('subnet_ip_address', true);
    const validate = ajv.compile(schema);
    const ok = validate(compose);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
    // The validator is live: a misspelt key is caught.
    const broken = structuredClone(compose) as unknown as {
      services: Record<string, Record<string, unknown>>;
    };
    broken.services.api.enviroment = { X: '1' };
    expect(validate(broken)).toBe(false);
  });

  it('has the infrastructure, the five services from one Dockerfile, and two refreshers', () => {
    for (const s of ['kafka', 'postgres', 'mailpit', 'otel-collector', 'prometheus', 'grafana', 'migrate']) {
      expect(compose.services[s]).toBeDefined();
    }
    expect(compose.services.kafka.environment?.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    for (const name of Object.keys(SERVICES)) {
      const s = compose.services[name];
      expect(s.image).toBe('model-persistence:latest');
      expect(s.build).toEqual({ context: '.', dockerfile: 'Dockerfile' });
      expect(s.command).toEqual(['node', `services/${name}/dist/main.js`]);
      expect(s.depends_on?.migrate.condition).toBe('service_completed_successfully');
      expect(s.healthcheck?.test.join(' ')).toContain('http://127.0.0.1:9464/ready');
    }
    expect(compose.services.refresher.deploy?.replicas).toBe(2);
    // Grafana gets the dashboard and the data source; Prometheus gets the alert rules.
    expect(compose.services.grafana.volumes).toEqual(
      expect.arrayContaining([
        './deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro',
        './deploy/grafana/provisioning:/etc/grafana/provisioning:ro',
      ]),
    );
    expect(compose.services.prometheus.volumes).toContain(
      './deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro',
    );
  });

  it.each(Object.entries(SERVICES))(
    "%s's environment passes its config schema and has no unknown variable",
    (name, svc) => {
      const raw = compose.services[name].environment ?? {};
      const env: Env = {};
      for (const [k, v] of Object.entries(raw)) env[k] = interpolate(String(v ?? ''), SHELL_ENV);
      const known = new Set([...keys(baseEnvSchema), ...keys(svc.schema), ...NON_CONFIG_VARIABLES]);
      expect(Object.keys(env).filter((k) => !known.has(k))).toEqual([]);
      const config = svc.load(env);
      expect(config.env).toBe('production');
      expect(config.telemetry.metricsPort).toBe(9464);
      expect(config.log.json).toBe(true);
      expect(config.kafka.brokers).toEqual(['kafka:9092']);
    },
  );

  it('refuses to interpolate without the required secrets', () => {
    const env = compose.services.api.environment ?? {};
    expect(() => interpolate(String(env.SECRETS_KEY), {})).toThrow(/SECRETS_KEY/);
  });

  it('provisions the Grafana data source the dashboard uses', () => {
    const ds = parse(
      readFileSync(join(ROOT, 'deploy/grafana/provisioning/datasources/prometheus.yml'), 'utf8'),
    ) as {
      datasources: { uid: string; url: string }[];
    };
    const dashboard = JSON.parse(
      readFileSync(join(ROOT, 'deploy/grafana/dashboards/model-persistence.json'), 'utf8'),
    ) as {
      panels: { datasource: { uid: string } }[];
    };
    const uids = new Set(ds.datasources.map((d) => d.uid));
    for (const p of dashboard.panels) expect(uids.has(p.datasource.uid)).toBe(true);
    expect(ds.datasources[0].url).toBe('http://prometheus:9090');
  });
});
