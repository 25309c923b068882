import { DomainError } from './domain-error';
import { ErrorCode } from './error-code';

/**
 * What a Kafka consumer does with a message whose handling failed:
 * retry it (bounded, with backoff), skip it (log and move on), or dead-letter it.
 */
export type Disposition = 'retry' | 'skip' | 'dead-letter';

const DISPOSITION: Record<ErrorCode, Disposition> = {
  [ErrorCode.ValidationFailed]: 'dead-letter',
  [ErrorCode.Unauthorized]: 'dead-letter',
  [ErrorCode.NotFound]: 'dead-letter',
  [ErrorCode.Conflict]: 'skip',
  [ErrorCode.IllegalStateTransition]: 'skip',
  [ErrorCode.PayloadTooLarge]: 'dead-letter',
  [ErrorCode.UnsupportedMediaType]: 'dead-letter',
  [ErrorCode.PersistenceDisabled]: 'skip',
  [ErrorCode.NotAModel]: 'dead-letter',
  [ErrorCode.ArchivedModel]: 'skip',
  [ErrorCode.InvalidCron]: 'dead-letter',
  [ErrorCode.UnsafeSql]: 'dead-letter',
  [ErrorCode.CanPersistCheckFailed]: 'dead-letter',
  [ErrorCode.InvalidModelReference]: 'dead-letter',
  [ErrorCode.ModelReferenceCycle]: 'dead-letter',
  [ErrorCode.UpstreamFailed]: 'skip',
  [ErrorCode.SignInLinkUnknown]: 'dead-letter',
  [ErrorCode.SignInLinkUsed]: 'dead-letter',
  [ErrorCode.SignInLinkExpired]: 'dead-letter',
  [ErrorCode.MalformedMessage]: 'dead-letter',
  [ErrorCode.UnsupportedVersion]: 'dead-letter',
  [ErrorCode.UnexpectedEventType]: 'dead-letter',
  [ErrorCode.UnknownDatabase]: 'dead-letter',
  [ErrorCode.UnknownCard]: 'dead-letter',
  [ErrorCode.SourceConnection]: 'retry',
  [ErrorCode.SourceLock]: 'retry',
  [ErrorCode.SourcePermission]: 'dead-letter',
  [ErrorCode.SourceTimeout]: 'retry',
  [ErrorCode.SourceQuery]: 'dead-letter',
  [ErrorCode.ModelIndexColumn]: 'dead-letter',
  [ErrorCode.AppDatabaseUnavailable]: 'retry',
  [ErrorCode.BrokerUnavailable]: 'retry',
  [ErrorCode.MessageRejected]: 'dead-letter',
  [ErrorCode.AppDatabaseConflict]: 'retry',
  [ErrorCode.EmailUnavailable]: 'retry',
  [ErrorCode.Timeout]: 'retry',
  [ErrorCode.Internal]: 'dead-letter',
};

export function dispositionFor(code: ErrorCode): Disposition {
  return DISPOSITION[code];
}

// Errors from node's sockets and from pg/mysql2 connection pools that mean "the other side is not there (yet)".
const TRANSIENT_SYSTEM_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'PROTOCOL_CONNECTION_LOST',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000',
  '08001',
  '08003',
  '08006',
]);

/**
 * SQLSTATEs with which PostgreSQL aborts a transaction that did nothing wrong but lost a race: the same work run
 * again succeeds (PostgreSQL's documentation says to retry them). pg puts the SQLSTATE in `code`, and TypeORM's
 * QueryFailedError copies it from the driver error.
 */
const CONFLICT_SQLSTATES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
]);

/** A deadlock or serialization failure of the app database (retry soon; not an outage, not bad input). */
export function isConcurrencyConflict(error: unknown): boolean {
  if (error instanceof DomainError) return error.code === ErrorCode.AppDatabaseConflict;
  const e = error as { code?: unknown; driverError?: { code?: unknown } } | null;
  const code = e?.code ?? e?.driverError?.code;
  return typeof code === 'string' && CONFLICT_SQLSTATES.has(code);
}

/** Classifies any thrown value for a consumer: domain errors by code, infrastructure hiccups as retry. */
export function dispositionOfError(error: unknown): Disposition {
  if (error instanceof DomainError) return dispositionFor(error.code);
  if (isConcurrencyConflict(error)) return 'retry';
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && TRANSIENT_SYSTEM_CODES.has(code)) return 'retry';
  const message = error instanceof Error ? error.message : '';
  if (/Connection terminated|connection timeout|Connection lost|socket hang up/i.test(message))
    return 'retry';
  const name = (error as { name?: unknown } | null)?.name;
  // kafkajs marks its transient failures as retriable
  if ((error as { retriable?: unknown } | null)?.retriable === true) return 'retry';
  // TypeORM releases a query runner whose connection the server ended mid-transaction; its next statement throws
  if (name === 'QueryRunnerAlreadyReleasedError' || name === 'QueryRunnerProviderAlreadyReleasedError')
    return 'retry';
  if (name === 'QueryFailedError' || name === 'EntityNotFoundError') return 'dead-letter';
  return 'dead-letter';
}
