import { BadRequestException, NotFoundException } from '@nestjs/common';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { toErrorResponse } from './error-response';

describe('toErrorResponse', () => {
  it('maps domain errors through httpStatusFor', () => {
    expect(toErrorResponse(new DomainError(ErrorCode.CanPersistCheckFailed, 'no schema'))).toEqual({
      status: 422,
      body: { error: { code: 'CAN_PERSIST_CHECK_FAILED', message: 'no schema' } },
      internal: false,
    });
    expect(toErrorResponse(new DomainError(ErrorCode.BrokerUnavailable, 'down')).status).toBe(503);
  });

  it('turns body-parser failures into 400, 413 and 415', () => {
    const parserError = (type: string, status: number) => Object.assign(new Error('x'), { type, status });
    expect(toErrorResponse(parserError('entity.parse.failed', 400)).body.error.code).toBe(
      'VALIDATION_FAILED',
    );
    expect(toErrorResponse(parserError('entity.too.large', 413))).toMatchObject({
      status: 413,
      body: { error: { code: 'PAYLOAD_TOO_LARGE' } },
    });
    expect(toErrorResponse(parserError('charset.unsupported', 415)).status).toBe(415);
  });

  it('keeps Nest 4xx exceptions 4xx and hides anything else behind a 500 without details', () => {
    expect(toErrorResponse(new NotFoundException())).toMatchObject({
      status: 404,
      body: { error: { code: 'NOT_FOUND' } },
    });
    expect(toErrorResponse(new BadRequestException('bad')).status).toBe(400);
    const internal = toErrorResponse(new Error('password=hunter2'));
    expect(internal).toMatchObject({ status: 500, internal: true, body: { error: { code: 'INTERNAL' } } });
    expect(JSON.stringify(internal.body)).not.toContain('hunter2');
  });
});
