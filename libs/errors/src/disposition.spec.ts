import {
  DomainError,
  ErrorCode,
  dispositionFor,
  dispositionOfError,
  httpStatusFor,
  isConcurrencyConflict,
} from './index';

describe('error mappings', () => {
  it('maps every code to an HTTP status and a disposition', () => {
    for (const code of Object.values(ErrorCode)) {
      expect(httpStatusFor(code)).toBeGreaterThanOrEqual(400);
      expect(['retry', 'skip', 'dead-letter']).toContain(dispositionFor(code));
    }
  });

  it('retries connection trouble and dead-letters bad input', () => {
    expect(
      dispositionOfError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
    ).toBe('retry');
    expect(dispositionOfError(new DomainError(ErrorCode.MalformedMessage, 'bad'))).toBe('dead-letter');
    expect(dispositionOfError(new DomainError(ErrorCode.SourceConnection, 'down'))).toBe('retry');
    expect(dispositionOfError(new Error('something odd'))).toBe('dead-letter');
    // TypeORM's error after the server ended a transaction's connection (connection-loss.int-spec.ts)
    const released = Object.assign(new Error('already released'), {
      name: 'QueryRunnerProviderAlreadyReleasedError',
    });
    expect(dispositionOfError(released)).toBe('retry');
  });

  it('retries app-database deadlocks and serialization failures (pg error or TypeORM QueryFailedError)', () => {
    const pgError = (code: string) => Object.assign(new Error('could not serialize access'), { code });
    const typeormError = (code: string) =>
      Object.assign(new Error('deadlock detected'), {
        name: 'QueryFailedError',
        code,
        driverError: pgError(code),
      });
    for (const code of ['40001', '40P01']) {
      expect(dispositionOfError(pgError(code))).toBe('retry');
      expect(dispositionOfError(typeormError(code))).toBe('retry');
      expect(isConcurrencyConflict(typeormError(code))).toBe(true);
    }
    // other query failures stay bad input
    expect(dispositionOfError(typeormError('23505'))).toBe('dead-letter');
    expect(dispositionOfError(new DomainError(ErrorCode.AppDatabaseConflict, 'x'))).toBe('retry');
    expect(dispositionOfError(new DomainError(ErrorCode.MessageRejected, 'too large'))).toBe('dead-letter');
  });

  it('uses 4xx for input errors and 5xx only for infrastructure', () => {
    expect(httpStatusFor(ErrorCode.ValidationFailed)).toBe(400);
    expect(httpStatusFor(ErrorCode.NotFound)).toBe(404);
    expect(httpStatusFor(ErrorCode.CanPersistCheckFailed)).toBe(422);
    expect(httpStatusFor(ErrorCode.AppDatabaseUnavailable)).toBe(503);
  });
});
