import type { ErrorClass } from '@model-persistence/contracts';
import { DomainError, ErrorCode, errorMessage } from '@model-persistence/errors';
import type { SourceEngine } from './types';

const CODE_OF_CLASS: Record<ErrorClass, ErrorCode> = {
  connection: ErrorCode.SourceConnection,
  lock: ErrorCode.SourceLock,
  permission: ErrorCode.SourcePermission,
  timeout: ErrorCode.SourceTimeout,
  query: ErrorCode.SourceQuery,
  'unsafe-sql': ErrorCode.UnsafeSql,
  invalid: ErrorCode.ValidationFailed,
  internal: ErrorCode.Internal,
};

/** A source-database failure with the class the refresher's retry policy keys off. */
export class SourceError extends DomainError {
  constructor(
    readonly errorClass: ErrorClass,
    message: string,
    details?: Record<string, unknown>,
    options?: { cause?: unknown; code?: ErrorCode },
  ) {
    super(options?.code ?? CODE_OF_CLASS[errorClass], message, details, options);
    this.name = 'SourceError';
  }
}

// Node socket errors and mysql2 client-side codes meaning "the server is not reachable / went away".
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR',
  'PROTOCOL_ENQUEUE_AFTER_QUIT',
]);

// Node TLS / OpenSSL codes: the server certificate was not accepted, or TLS could not be negotiated.
const TLS_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HANDSHAKE_NO_SSL_SUPPORT',
  'HANDSHAKE_SSL_ERROR', // mysql2: the TLS handshake failed (the node TLS error, re-coded)
  'EPROTO',
]);

/** A TLS failure of the connection: a setting to fix (tls_mode / tls_ca_cert), said so in the message. */
function tlsFailure(shape: DriverErrorShape, message: string): boolean {
  const code = typeof shape.code === 'string' ? shape.code : '';
  return (
    TLS_CODES.has(code) ||
    code.startsWith('ERR_SSL_') ||
    /does not support (SSL|secure connection)/i.test(message)
  );
}

// PostgreSQL SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html)
function classifyPgState(state: string, message: string): ErrorClass | undefined {
  if (state.startsWith('08')) return 'connection'; // connection_exception
  if (state === '57P01' || state === '57P02' || state === '57P03' || state === '53300') return 'connection';
  if (state === '55P03' || state === '40P01' || state === '40001') return 'lock'; // lock_not_available, deadlock, serialization
  if (state === '42501' || state === '28000' || state === '28P01') return 'permission';
  if (state === '57014') {
    // query_canceled: by statement_timeout, or by pg_cancel_backend (our abort)
    return 'timeout';
  }
  if (state === '25P03' || state === '57P05') return 'timeout'; // idle-in-transaction / idle-session timeouts
  if (/permission denied/i.test(message)) return 'permission';
  return state.length === 5 ? 'query' : undefined;
}

// MySQL/MariaDB error numbers (https://mariadb.com/kb/en/mariadb-error-codes/)
const MYSQL_ERRNO: Record<number, ErrorClass> = {
  1040: 'connection', // ER_CON_COUNT_ERROR
  1053: 'connection', // ER_SERVER_SHUTDOWN
  1129: 'connection', // ER_HOST_IS_BLOCKED
  1152: 'connection', // ER_ABORTING_CONNECTION
  1927: 'connection', // ER_CONNECTION_KILLED
  2002: 'connection',
  2003: 'connection',
  2006: 'connection', // server has gone away
  2013: 'connection', // lost connection during query
  1205: 'lock', // ER_LOCK_WAIT_TIMEOUT
  1213: 'lock', // ER_LOCK_DEADLOCK
  3572: 'lock', // ER_LOCK_NOWAIT
  1044: 'permission', // ER_DBACCESS_DENIED_ERROR
  1045: 'permission', // ER_ACCESS_DENIED_ERROR (login)
  1142: 'permission', // ER_TABLEACCESS_DENIED_ERROR
  1143: 'permission', // ER_COLUMNACCESS_DENIED_ERROR
  1227: 'permission', // ER_SPECIFIC_ACCESS_DENIED_ERROR
  1370: 'permission', // ER_PROCACCESS_DENIED_ERROR
  1698: 'permission', // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
  1317: 'timeout', // ER_QUERY_INTERRUPTED (KILL QUERY: our abort or our client-side deadline)
  1969: 'timeout', // ER_STATEMENT_TIMEOUT (MariaDB max_statement_time)
  3024: 'timeout', // ER_QUERY_TIMEOUT (MySQL max_execution_time)
};

interface DriverErrorShape {
  code?: unknown;
  errno?: unknown;
  sqlState?: unknown;
  message?: unknown;
  errors?: unknown;
}

function networkClass(error: DriverErrorShape, message: string): ErrorClass | undefined {
  if (typeof error.code === 'string' && NETWORK_CODES.has(error.code)) return 'connection';
  // Node's happy-eyeballs connect failures arrive as an AggregateError of socket errors
  if (Array.isArray(error.errors) && error.errors.length > 0) {
    const inner = error.errors as DriverErrorShape[];
    if (inner.every((e) => typeof e?.code === 'string' && NETWORK_CODES.has(e.code))) return 'connection';
  }
  if (
    /Connection terminated|connection timeout|timeout exceeded when trying to connect|Connection lost|socket hang up|Client has encountered a connection error|server closed the connection|connect ETIMEDOUT/i.test(
      message,
    )
  ) {
    return 'connection';
  }
  return undefined;
}

function engineLabel(engine: SourceEngine): string {
  return engine === 'postgres' ? 'PostgreSQL' : 'MySQL/MariaDB';
}

/**
 * Maps anything a pg or mysql2 call threw to a SourceError: connection/network → SOURCE_CONNECTION, lock wait /
 * lock timeout / deadlock → SOURCE_LOCK, permission denied → SOURCE_PERMISSION, statement timeout →
 * SOURCE_TIMEOUT, anything else → SOURCE_QUERY. Domain errors keep their meaning (unsafe SQL stays unsafe-sql).
 */
export function classifySourceError(error: unknown, engine: SourceEngine): SourceError {
  if (error instanceof SourceError) return error;
  if (error instanceof DomainError) {
    const cls: ErrorClass =
      error.code === ErrorCode.UnsafeSql
        ? 'unsafe-sql'
        : error.code === ErrorCode.ValidationFailed
          ? 'invalid'
          : error.code === ErrorCode.Timeout
            ? 'timeout'
            : ((Object.entries(CODE_OF_CLASS).find(([, code]) => code === error.code)?.[0] as ErrorClass) ??
              'internal');
    return new SourceError(cls, error.message, error.details, { cause: error });
  }
  const shape = (typeof error === 'object' && error !== null ? error : {}) as DriverErrorShape;
  const message = errorMessage(error) || (typeof shape.code === 'string' ? shape.code : 'unknown error');
  const details: Record<string, unknown> = { engine };
  let cls: ErrorClass | undefined;

  if (engine === 'postgres') {
    const state = typeof shape.code === 'string' && /^[0-9A-Z]{5}$/.test(shape.code) ? shape.code : undefined;
    if (state) {
      details.sqlState = state;
      cls = classifyPgState(state, message);
    }
  } else {
    const errno = typeof shape.errno === 'number' ? shape.errno : undefined;
    if (errno !== undefined && typeof shape.sqlState === 'string') {
      details.errno = errno;
      details.sqlState = shape.sqlState;
      if (typeof shape.code === 'string') details.code = shape.code;
      cls = MYSQL_ERRNO[errno];
      if (!cls && shape.sqlState.startsWith('08')) cls = 'connection';
      if (!cls && shape.sqlState === '40001') cls = 'lock';
      if (!cls && /denied/i.test(message)) cls = 'permission';
      cls ??= 'query';
    }
  }
  if (!cls && tlsFailure(shape, message)) {
    if (typeof shape.code === 'string') details.code = shape.code;
    details.tls = true;
    // node's TLS errors may come from another realm (not instanceof Error): read their message directly
    const text = typeof shape.message === 'string' && shape.message !== '' ? shape.message : message;
    return new SourceError(
      'connection',
      `TLS failed: ${text} (check the database's tls_mode and tls_ca_cert)`,
      details,
      { cause: error },
    );
  }
  if (!cls) {
    cls = networkClass(shape, message);
    if (cls && typeof shape.code === 'string') details.code = shape.code;
  }
  if (!cls) cls = error instanceof Error ? 'query' : 'internal';
  const text = message === '' ? `${engineLabel(engine)} error` : message;
  return new SourceError(cls, text, details, { cause: error });
}
