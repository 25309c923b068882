import { Controller, Delete, Get, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiTokenEntity } from '@model-persistence/database';
import { z } from 'zod';
import { Actor } from '../common/actor';
import { IdParams, idParams } from '../common/ids';
import { CurrentActor } from '../http/actor.decorator';
import { ZodBody, ZodParams } from '../http/zod-validation';
import { tokenCreateBody } from './api-token.schemas';
import { ApiTokensUseCase } from './api-tokens.use-case';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** A token as listed: never its secret nor its hash. */
export function presentToken(t: ApiTokenEntity) {
  return {
    id: t.id,
    name: t.name,
    kind: t.kind,
    created_by: t.createdBy,
    created_at: iso(t.createdAt),
    last_used_at: iso(t.lastUsedAt),
    revoked_at: iso(t.revokedAt),
    expires_at: iso(t.expiresAt),
    active: t.revokedAt === null && (t.expiresAt === null || t.expiresAt.getTime() > Date.now()),
  };
}

@ApiTags('tokens')
@ApiBearerAuth()
@Controller('api/tokens')
export class ApiTokensController {
  constructor(private readonly tokens: ApiTokensUseCase) {}

  @Get()
  @ApiOperation({ summary: 'List API tokens (name, kind, created, last used, revoked); never the secrets.' })
  async list() {
    return { data: (await this.tokens.list()).map(presentToken) };
  }

  @Post()
  @ApiOperation({
    summary: 'Create an API token. The response is the only time the token is shown; only its hash is kept.',
  })
  async create(
    @ZodBody(tokenCreateBody) { name }: z.infer<typeof tokenCreateBody>,
    @CurrentActor() actor: Actor,
  ) {
    const { token, row } = await this.tokens.create(name, actor);
    return { ...presentToken(row), token };
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Revoke an API token (it stops authenticating at once; its row stays listed).' })
  async revoke(@ZodParams(idParams) { id }: IdParams) {
    return presentToken(await this.tokens.revoke(id));
  }
}
