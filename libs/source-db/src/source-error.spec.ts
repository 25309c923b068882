import { DomainError, ErrorCode, dispositionOfError } from '@model-persistence/errors';
import { DatabaseError } from 'pg';
import { classifySourceError, SourceError } from './source-error';

// pg's own error class, as the driver throws it (code = SQLSTATE)
const pgError = (code: string, message: string) =>
  Object.assign(new DatabaseError(message, 0, 'error'), { code });
// mysql2's shape: code name, errno, sqlState
const myError = (code: string, errno: number, sqlState: string, message: string) =>
  Object.assign(new Error(message), { code, errno, sqlState, sqlMessage: message });
const sysError = (code: string, message = `connect ${code} 127.0.0.1:1`) =>
  Object.assign(new Error(message), { code });

describe('classifySourceError', () => {
  it.each([
    [pgError('08006', 'connection failure'), 'connection', ErrorCode.SourceConnection],
    [
      pgError('57P01', 'terminating connection due to administrator command'),
      'connection',
      ErrorCode.SourceConnection,
    ],
    [pgError('53300', 'sorry, too many clients already'), 'connection', ErrorCode.SourceConnection],
    [pgError('55P03', 'canceling statement due to lock timeout'), 'lock', ErrorCode.SourceLock],
    [pgError('40P01', 'deadlock detected'), 'lock', ErrorCode.SourceLock],
    [pgError('40001', 'could not serialize access'), 'lock', ErrorCode.SourceLock],
    [pgError('42501', 'permission denied for schema s'), 'permission', ErrorCode.SourcePermission],
    [
      pgError('28P01', 'password authentication failed for user "u"'),
      'permission',
      ErrorCode.SourcePermission,
    ],
    [pgError('57014', 'canceling statement due to statement timeout'), 'timeout', ErrorCode.SourceTimeout],
    [pgError('42601', 'syntax error at or near "selec"'), 'query', ErrorCode.SourceQuery],
    [pgError('22012', 'division by zero'), 'query', ErrorCode.SourceQuery],
    [pgError('42P01', 'relation "t" does not exist'), 'query', ErrorCode.SourceQuery],
    [new Error('Connection terminated unexpectedly'), 'connection', ErrorCode.SourceConnection],
    [new Error('Connection terminated due to connection timeout'), 'connection', ErrorCode.SourceConnection],
    [sysError('ECONNREFUSED'), 'connection', ErrorCode.SourceConnection],
    [sysError('ENOTFOUND', 'getaddrinfo ENOTFOUND nowhere'), 'connection', ErrorCode.SourceConnection],
  ])('postgres: %s → %s', (error, cls, code) => {
    const c = classifySourceError(error, 'postgres');
    expect(c).toBeInstanceOf(SourceError);
    expect(c).toBeInstanceOf(DomainError);
    expect(c.errorClass).toBe(cls);
    expect(c.code).toBe(code);
    expect(c.message).toBe((error as Error).message);
    expect(c.cause).toBe(error);
  });

  it.each([
    [myError('ER_LOCK_WAIT_TIMEOUT', 1205, 'HY000', 'Lock wait timeout exceeded'), 'lock'],
    [myError('ER_LOCK_DEADLOCK', 1213, '40001', 'Deadlock found when trying to get lock'), 'lock'],
    [myError('ER_TABLEACCESS_DENIED_ERROR', 1142, '42000', 'CREATE command denied to user'), 'permission'],
    [
      myError('ER_DBACCESS_DENIED_ERROR', 1044, '42000', "Access denied for user 'u'@'%' to database 'd'"),
      'permission',
    ],
    [
      myError(
        'ER_ACCESS_DENIED_ERROR',
        1045,
        '28000',
        "Access denied for user 'u'@'h' (using password: YES)",
      ),
      'permission',
    ],
    [
      myError(
        'ER_STATEMENT_TIMEOUT',
        1969,
        '70100',
        'Query execution was interrupted (max_statement_time exceeded)',
      ),
      'timeout',
    ],
    [myError('ER_QUERY_TIMEOUT', 3024, 'HY000', 'maximum statement execution time exceeded'), 'timeout'],
    [myError('ER_QUERY_INTERRUPTED', 1317, '70100', 'Query execution was interrupted'), 'timeout'],
    [myError('ER_CON_COUNT_ERROR', 1040, '08004', 'Too many connections'), 'connection'],
    [myError('ER_PARSE_ERROR', 1064, '42000', 'You have an error in your SQL syntax'), 'query'],
    [myError('ER_NO_SUCH_TABLE', 1146, '42S02', "Table 'd.t' doesn't exist"), 'query'],
    [
      sysError('PROTOCOL_CONNECTION_LOST', 'Connection lost: The server closed the connection.'),
      'connection',
    ],
    [sysError('ETIMEDOUT', 'connect ETIMEDOUT'), 'connection'],
    [sysError('ECONNREFUSED'), 'connection'],
  ])('mysql: %s → %s', (error, cls) => {
    expect(classifySourceError(error, 'mysql').errorClass).toBe(cls);
  });

  it('classifies Node happy-eyeballs AggregateErrors of refused sockets as connection', () => {
    const agg = Object.assign(new AggregateError([sysError('ECONNREFUSED'), sysError('ECONNREFUSED')], ''), {
      code: 'ECONNREFUSED',
    });
    const c = classifySourceError(agg, 'postgres');
    expect(c.errorClass).toBe('connection');
    expect(c.message).not.toBe('');
    const noCode = new AggregateError([sysError('ECONNREFUSED')], '');
    expect(classifySourceError(noCode, 'mysql').errorClass).toBe('connection');
  });

  it('keeps domain errors meaningful and passes SourceErrors through', () => {
    const unsafe = new DomainError(ErrorCode.UnsafeSql, 'bad sql');
    expect(classifySourceError(unsafe, 'postgres')).toMatchObject({
      errorClass: 'unsafe-sql',
      code: ErrorCode.UnsafeSql,
    });
    expect(classifySourceError(new DomainError(ErrorCode.ValidationFailed, 'x'), 'mysql').errorClass).toBe(
      'invalid',
    );
    const already = new SourceError('lock', 'held');
    expect(classifySourceError(already, 'postgres')).toBe(already);
    expect(classifySourceError('weird', 'postgres')).toMatchObject({
      errorClass: 'internal',
      message: 'weird',
    });
  });

  it('maps to the shared retry dispositions', () => {
    expect(dispositionOfError(classifySourceError(sysError('ECONNREFUSED'), 'postgres'))).toBe('retry');
    expect(dispositionOfError(classifySourceError(pgError('42501', 'permission denied'), 'postgres'))).toBe(
      'dead-letter',
    );
  });
});
