import { ConsoleLogger, LogLevel } from '@nestjs/common';
import { BaseConfig } from '@model-persistence/config';
import { currentTraceIds } from '@model-persistence/telemetry';

const LEVELS: Record<BaseConfig['log']['level'], LogLevel[]> = {
  debug: ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'],
  info: ['fatal', 'error', 'warn', 'log'],
  warn: ['fatal', 'error', 'warn'],
  error: ['fatal', 'error'],
};

type JsonLogOptions = Parameters<ConsoleLogger['getJsonLogObject']>[1];

/** JSON log lines carry the active span's `trace_id` and `span_id`, so logs join their trace. */
export class TraceConsoleLogger extends ConsoleLogger {
  protected override getJsonLogObject(message: unknown, options: JsonLogOptions) {
    return { ...super.getJsonLogObject(message, options), ...currentTraceIds() };
  }
}

/** Nest's logger, as JSON lines when LOG_JSON=true (for log shippers), prefixed with the service name. */
export function createLogger(config: Pick<BaseConfig, 'service' | 'log'>): ConsoleLogger {
  return new TraceConsoleLogger(config.service, {
    json: config.log.json,
    logLevels: LEVELS[config.log.level],
    colors: !config.log.json && process.stdout.isTTY,
    timestamp: !config.log.json,
  });
}
