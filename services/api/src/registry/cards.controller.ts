import { Controller, Delete, Get, HttpCode, Patch, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import type { IncrementalSettings } from '@model-persistence/database';
import { Actor } from '../common/actor';
import { IdParams, idParams } from '../common/ids';
import { CurrentActor } from '../http/actor.decorator';
import { presentCard } from '../http/presenters';
import { cardCreateBody, cardPatchBody } from '../http/schemas';
import { ZodBody, ZodParams } from '../http/zod-validation';
import { CardRegistryUseCase } from './card-registry.use-case';

type IncrementalBody = z.infer<typeof cardCreateBody>['incremental'];

/** snake_case body → the stored settings (undefined: unchanged, null: off). */
function incrementalInput(b: IncrementalBody): IncrementalSettings | null | undefined {
  if (!b) return b;
  return {
    checkpointColumn: b.checkpoint_column,
    uniqueKey: b.unique_key,
    lookback: b.lookback ?? 0,
    fullRebuildCron: b.full_rebuild_cron ?? null,
  };
}

@ApiTags('registry')
@ApiBearerAuth()
@Controller('api/cards')
export class CardsController {
  constructor(private readonly registry: CardRegistryUseCase) {}

  @Post()
  @ApiOperation({ summary: 'Create a card (SQL must be a single read query: 400 UNSAFE_SQL otherwise).' })
  async create(@ZodBody(cardCreateBody) b: z.infer<typeof cardCreateBody>) {
    return presentCard(
      await this.registry.create({
        name: b.name,
        databaseId: b.database_id,
        sql: b.sql,
        type: b.type,
        archived: b.archived,
        refreshCron: b.refresh_cron,
        indexes: b.indexes,
        incremental: incrementalInput(b.incremental),
        maxStalenessSeconds: b.max_staleness,
        refreshKey: b.refresh_key,
      }),
    );
  }

  @Get()
  async list() {
    return { data: (await this.registry.list()).map(presentCard) };
  }

  @Get(':id')
  async get(@ZodParams(idParams) { id }: IdParams) {
    return presentCard(await this.registry.get(id));
  }

  @Patch(':id')
  @ApiOperation({
    summary: 'Change a card: new SQL rebuilds the cache; archiving or turning into a question prunes it.',
  })
  async update(
    @ZodParams(idParams) { id }: IdParams,
    @ZodBody(cardPatchBody) b: z.infer<typeof cardPatchBody>,
    @CurrentActor() actor: Actor,
  ) {
    return presentCard(
      await this.registry.update(
        id,
        {
          name: b.name,
          sql: b.sql,
          type: b.type,
          archived: b.archived,
          refreshCron: b.refresh_cron,
          indexes: b.indexes,
          incremental: incrementalInput(b.incremental),
          maxStalenessSeconds: b.max_staleness,
          refreshKey: b.refresh_key,
        },
        actor,
      ),
    );
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a card; its cache table is pruned.' })
  async delete(@ZodParams(idParams) { id }: IdParams, @CurrentActor() actor: Actor): Promise<void> {
    await this.registry.delete(id, actor);
  }
}
