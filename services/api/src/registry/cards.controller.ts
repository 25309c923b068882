import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Actor } from '../common/actor';
import { idParams, parseInput } from '../common/ids';
import { CurrentActor } from '../http/actor.decorator';
import { presentCard } from '../http/presenters';
import { cardCreateBody, cardPatchBody, openApiSchema } from '../http/schemas';
import { CardRegistryUseCase } from './card-registry.use-case';

@ApiTags('registry')
@ApiBearerAuth()
@Controller('api/cards')
export class CardsController {
  constructor(private readonly registry: CardRegistryUseCase) {}

  @Post()
  @ApiOperation({ summary: 'Create a card (SQL must be a single read query: 400 UNSAFE_SQL otherwise).' })
  @ApiBody({ schema: openApiSchema(cardCreateBody) })
  async create(@Body() body: unknown) {
    const b = parseInput(cardCreateBody, body, 'body');
    return presentCard(
      await this.registry.create({
        name: b.name,
        databaseId: b.database_id,
        sql: b.sql,
        type: b.type,
        archived: b.archived,
        refreshCron: b.refresh_cron,
      }),
    );
  }

  @Get()
  async list() {
    return { data: (await this.registry.list()).map(presentCard) };
  }

  @Get(':id')
  async get(@Param() params: unknown) {
    const { id } = parseInput(idParams, params, 'path');
    return presentCard(await this.registry.get(id));
  }

  @Patch(':id')
  @ApiOperation({
    summary: 'Change a card: new SQL rebuilds the cache; archiving or turning into a question prunes it.',
  })
  @ApiBody({ schema: openApiSchema(cardPatchBody) })
  async update(@Param() params: unknown, @Body() body: unknown, @CurrentActor() actor: Actor) {
    const { id } = parseInput(idParams, params, 'path');
    const b = parseInput(cardPatchBody, body, 'body');
    return presentCard(
      await this.registry.update(
        id,
        { name: b.name, sql: b.sql, type: b.type, archived: b.archived, refreshCron: b.refresh_cron },
        actor,
      ),
    );
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a card; its cache table is pruned.' })
  async delete(@Param() params: unknown, @CurrentActor() actor: Actor): Promise<void> {
    const { id } = parseInput(idParams, params, 'path');
    await this.registry.delete(id, actor);
  }
}
