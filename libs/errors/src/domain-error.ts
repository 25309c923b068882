import { ErrorCode } from './error-code';

/** The one error class of the domain: a code, a human message, optional details and the cause. */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DomainError';
  }

  static is(error: unknown, code?: ErrorCode): error is DomainError {
    return error instanceof DomainError && (code === undefined || error.code === code);
  }
}

/** A typed timeout, so callers can tell "took too long" from "failed". */
export class TimeoutError extends DomainError {
  constructor(
    what: string,
    readonly timeoutMs: number,
  ) {
    super(ErrorCode.Timeout, `${what} timed out after ${timeoutMs} ms`, { timeoutMs });
    this.name = 'TimeoutError';
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  try {
    return JSON.stringify(error);
  } catch {
    return String(error);
  }
}
