import { ConsoleLogger, LogLevel } from '@nestjs/common';
import { BaseConfig } from '@model-persistence/config';

const LEVELS: Record<BaseConfig['log']['level'], LogLevel[]> = {
  debug: ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'],
  info: ['fatal', 'error', 'warn', 'log'],
  warn: ['fatal', 'error', 'warn'],
  error: ['fatal', 'error'],
};

/** Nest's logger, as JSON lines when LOG_JSON=true (for log shippers), prefixed with the service name. */
export function createLogger(config: Pick<BaseConfig, 'service' | 'log'>): ConsoleLogger {
  return new ConsoleLogger(config.service, {
    json: config.log.json,
    logLevels: LEVELS[config.log.level],
    colors: !config.log.json && process.stdout.isTTY,
    timestamp: !config.log.json,
  });
}
