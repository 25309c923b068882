import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { Request } from 'express';
import { Actor } from '../common/actor';

export type AuthenticatedRequest = Request & { actor?: Actor };

/** The caller, set by the auth middleware. */
export const CurrentActor = createParamDecorator((_: unknown, ctx: ExecutionContext): Actor => {
  const actor = ctx.switchToHttp().getRequest<AuthenticatedRequest>().actor;
  if (!actor) throw new DomainError(ErrorCode.Unauthorized, 'Not authenticated.');
  return actor;
});
