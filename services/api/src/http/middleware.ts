import { Logger } from '@nestjs/common';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { json, NextFunction, Request, Response } from 'express';
import { TokenService } from '../auth/token.service';
import { AuthenticatedRequest } from './actor.decorator';
import { toErrorResponse } from './error-response';

const logger = new Logger('http');

function sendError(res: Response, e: unknown): void {
  const { status, body, internal } = toErrorResponse(e);
  if (internal) logger.error(`${status} ${(e as Error)?.stack ?? String(e)}`);
  res.status(status).json(body);
}

/**
 * Paths served without a token: the liveness probe, the API description (no data) and the exchange of a one-time
 * sign-in code (the code is the credential). Everything else, /ready included (its failure reasons name internal
 * hosts), needs the bearer token.
 */
export function isPublic(req: Request): boolean {
  if (req.method === 'POST') return req.path === '/api/sign-in';
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const path = req.path;
  return (
    path === '/health' || path === '/api/docs' || path.startsWith('/api/docs/') || path === '/api/docs-json'
  );
}

/** Authenticates before anything else (the body is not even parsed for an unknown caller). */
export function authMiddleware(tokens: TokenService) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (isPublic(req)) return next();
    tokens.authenticate(req.headers.authorization).then(
      (actor) => {
        (req as AuthenticatedRequest).actor = actor;
        next();
      },
      (e: unknown) => sendError(res, e),
    );
  };
}

function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** A body must be JSON (415 otherwise); JSON is parsed with a size limit (413). */
export function bodyMiddlewares(limitBytes: number) {
  const contentType = (req: Request, res: Response, next: NextFunction) => {
    if (hasBody(req) && !req.is('application/json')) {
      return sendError(
        res,
        new DomainError(ErrorCode.UnsupportedMediaType, 'Request bodies must be sent as application/json.'),
      );
    }
    next();
  };
  // 4-argument signature: express routes parser failures (bad JSON, too large, bad charset) here
  const parserErrors = (e: unknown, _req: Request, res: Response, _next: NextFunction) => sendError(res, e);
  return [contentType, json({ limit: limitBytes, strict: true }), parserErrors];
}
