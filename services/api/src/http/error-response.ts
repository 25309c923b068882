import { HttpException, HttpStatus } from '@nestjs/common';
import { DomainError, ErrorCode, errorMessage, httpStatusFor } from '@model-persistence/errors';

export interface ErrorBody {
  error: { code: string; message: string };
}

const CODE_OF_STATUS: Record<number, ErrorCode> = {
  400: ErrorCode.ValidationFailed,
  401: ErrorCode.Unauthorized,
  404: ErrorCode.NotFound,
  405: ErrorCode.NotFound,
  409: ErrorCode.Conflict,
  413: ErrorCode.PayloadTooLarge,
  415: ErrorCode.UnsupportedMediaType,
};

/** body-parser errors carry `type` and `status`; they are all the client's fault. */
function bodyParserError(e: unknown): { status: number; message: string } | null {
  const err = e as { type?: unknown; status?: unknown; message?: unknown } | null;
  if (typeof err?.type !== 'string' || typeof err.status !== 'number') return null;
  switch (err.type) {
    case 'entity.parse.failed':
      return { status: 400, message: `Request body is not valid JSON: ${String(err.message)}` };
    case 'entity.too.large':
      return { status: 413, message: 'Request body is too large.' };
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return { status: 415, message: String(err.message) };
    default:
      return err.status >= 400 && err.status < 500 ? { status: 400, message: String(err.message) } : null;
  }
}

/** The one translation of anything thrown into `{"error": {"code", "message"}}` and an HTTP status. */
export function toErrorResponse(e: unknown): { status: number; body: ErrorBody; internal: boolean } {
  if (e instanceof DomainError) {
    const status = httpStatusFor(e.code);
    return { status, body: { error: { code: e.code, message: e.message } }, internal: status >= 500 };
  }
  const parser = bodyParserError(e);
  if (parser) {
    const code = CODE_OF_STATUS[parser.status] ?? ErrorCode.ValidationFailed;
    return { status: parser.status, body: { error: { code, message: parser.message } }, internal: false };
  }
  if (e instanceof HttpException) {
    const status = e.getStatus();
    if (status < 500) {
      const code = CODE_OF_STATUS[status] ?? ErrorCode.ValidationFailed;
      const message = status === 404 || status === 405 ? 'Not found.' : errorMessage(e);
      return { status: status === 405 ? 404 : status, body: { error: { code, message } }, internal: false };
    }
  }
  return {
    status: HttpStatus.INTERNAL_SERVER_ERROR,
    body: { error: { code: ErrorCode.Internal, message: 'Internal error.' } },
    internal: true,
  };
}
