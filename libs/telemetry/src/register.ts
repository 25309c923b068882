/*
 * `import '@model-persistence/telemetry/register';` as the FIRST line of a service's main.ts: starts the
 * OpenTelemetry SDK before kafkajs, pg and http are loaded, so their instrumentations can patch them.
 * It runs before the service's config is loaded, so it reads the few standard OTEL_* variables itself
 * (the one exception to "process.env only in config.ts"; base config validates them again at start-up).
 *   OTEL_SDK_DISABLED=true       no telemetry at all
 *   OTEL_SERVICE_NAME            default: the service directory (services/<name>/…) of the entry script
 *   OTEL_EXPORTER_OTLP_ENDPOINT  OTLP/HTTP base URL; traces and metrics are pushed there as well
 * Inside a jest worker it does nothing (tests start telemetry explicitly); service processes that tests spawn
 * inherit JEST_WORKER_ID but run their own entry script, so they do start it.
 */
import { startTelemetry } from './sdk';

function serviceFromEntry(): string {
  const m = /[\\/]services[\\/]([^\\/]+)[\\/]/.exec(process.argv[1] ?? '');
  return m ? m[1] : 'model-persistence';
}

const env = process.env;
const insideJest = env.JEST_WORKER_ID !== undefined && /jest/.test(process.argv[1] ?? '');
if (env.OTEL_SDK_DISABLED !== 'true' && !insideJest) {
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  startTelemetry({
    serviceName: env.OTEL_SERVICE_NAME?.trim() || serviceFromEntry(),
    instanceId: env.INSTANCE_ID,
    otlpEndpoint: endpoint ? endpoint : undefined,
  });
}
