import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import { Response } from 'express';
import { toErrorResponse } from './error-response';

/** Every error of every route leaves as `{"error": {"code", "message"}}` with the status of its code. */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('http');

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const { status, body, internal } = toErrorResponse(exception);
    if (internal) this.logger.error(`${status} ${(exception as Error)?.stack ?? String(exception)}`);
    if (res.headersSent) return;
    res.status(status).json(body);
  }
}
