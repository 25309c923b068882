import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Actor } from '../common/actor';
import { cardIdParams, idParams, parseInput } from '../common/ids';
import { CurrentActor } from '../http/actor.decorator';
import { presentPersistedInfo } from '../http/presenters';
import { emptyBody, openApiSchema, persistedInfoListQuery, refreshScheduleBody } from '../http/schemas';
import { CardPersistenceUseCase } from './card-persistence.use-case';
import { DatabasePersistenceUseCase } from './database-persistence.use-case';
import { PersistedInfoQueryUseCase } from './persisted-info-query.use-case';
import { PersistenceSettingsUseCase } from './persistence-settings.use-case';

/** The operator guide's /api/model-persistence endpoints. Thin: parse, validate, call one use-case. */
@ApiTags('model-persistence')
@ApiBearerAuth()
@ApiResponse({ status: 400, description: 'Invalid input: `{"error": {"code", "message"}}`' })
@ApiResponse({ status: 401, description: 'Missing or invalid bearer token' })
@Controller('api/model-persistence')
export class ModelPersistenceController {
  constructor(
    private readonly settings: PersistenceSettingsUseCase,
    private readonly databases: DatabasePersistenceUseCase,
    private readonly cards: CardPersistenceUseCase,
    private readonly query: PersistedInfoQueryUseCase,
  ) {}

  @Post('enable')
  @HttpCode(204)
  @ApiOperation({ summary: 'Turn model persistence on globally.' })
  async enable(@Body() body: unknown): Promise<void> {
    parseInput(emptyBody, body, 'body');
    await this.settings.enable();
  }

  @Post('disable')
  @HttpCode(204)
  @ApiOperation({
    summary:
      'Turn model persistence off: every row deletable, database flags cleared, schedules removed, prune.',
  })
  async disable(@Body() body: unknown, @CurrentActor() actor: Actor): Promise<void> {
    parseInput(emptyBody, body, 'body');
    await this.settings.disable(actor);
  }

  @Post('set-refresh-schedule')
  @HttpCode(204)
  @ApiOperation({ summary: 'Set the Quartz cron of scheduled refreshes (7 fields, year `*`).' })
  @ApiBody({ schema: openApiSchema(refreshScheduleBody) })
  async setRefreshSchedule(@Body() body: unknown): Promise<void> {
    const { cron } = parseInput(refreshScheduleBody, body, 'body');
    await this.settings.setRefreshSchedule(cron);
  }

  @Post('database/:id/persist')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Persist the models of a database after the can-persist check (422 when it fails). `privilege_warning` ' +
      '(also in GET /api/databases/:id) says what the connection user may change outside its cache schema.',
  })
  async persistDatabase(@Param() params: unknown, @Body() body: unknown) {
    const { id } = parseInput(idParams, params, 'path');
    parseInput(emptyBody, body, 'body');
    const { privilegeWarning } = await this.databases.persist(id);
    return { database_id: id, persist_models_enabled: true, privilege_warning: privilegeWarning };
  }

  @Post('database/:id/unpersist')
  @HttpCode(204)
  @ApiOperation({ summary: 'Stop persisting a database: its rows become deletable.' })
  async unpersistDatabase(@Param() params: unknown, @Body() body: unknown): Promise<void> {
    const { id } = parseInput(idParams, params, 'path');
    parseInput(emptyBody, body, 'body');
    await this.databases.unpersist(id);
  }

  @Post('card/:cardId/persist')
  @HttpCode(204)
  @ApiOperation({ summary: 'Persist one model: row `creating`, refresh requested.' })
  async persistCard(
    @Param() params: unknown,
    @Body() body: unknown,
    @CurrentActor() actor: Actor,
  ): Promise<void> {
    const { cardId } = parseInput(cardIdParams, params, 'path');
    parseInput(emptyBody, body, 'body');
    await this.cards.persist(cardId, actor);
  }

  @Post('card/:cardId/unpersist')
  @HttpCode(204)
  @ApiOperation({ summary: 'Stop persisting one model: row `off`.' })
  async unpersistCard(@Param() params: unknown, @Body() body: unknown): Promise<void> {
    const { cardId } = parseInput(cardIdParams, params, 'path');
    parseInput(emptyBody, body, 'body');
    await this.cards.unpersist(cardId);
  }

  @Post('card/:cardId/refresh')
  @HttpCode(202)
  @ApiOperation({ summary: 'Request a refresh of one model; 202 once Kafka acknowledged the request.' })
  @ApiResponse({ status: 202, schema: { properties: { requestId: { type: 'string', format: 'uuid' } } } })
  async refreshCard(
    @Param() params: unknown,
    @Body() body: unknown,
    @CurrentActor() actor: Actor,
  ): Promise<{ requestId: string }> {
    const { cardId } = parseInput(cardIdParams, params, 'path');
    parseInput(emptyBody, body, 'body');
    return { requestId: await this.cards.refresh(cardId, actor) };
  }

  @Get()
  @ApiOperation({ summary: 'Persisted models with names, next fire time and staleness, by id.' })
  @ApiQuery({
    name: 'limit',
    required: false,
    schema: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
  })
  @ApiQuery({ name: 'offset', required: false, schema: { type: 'integer', minimum: 0, default: 0 } })
  @ApiQuery({
    name: 'state',
    required: false,
    enum: ['creating', 'refreshing', 'persisted', 'error', 'deletable', 'off'],
  })
  @ApiQuery({ name: 'database_id', required: false, schema: { type: 'integer', minimum: 1 } })
  async list(@Query() query: unknown) {
    const q = parseInput(persistedInfoListQuery, query, 'query');
    const page = await this.query.list({
      limit: q.limit,
      offset: q.offset,
      state: q.state,
      databaseId: q.database_id,
    });
    return { ...page, data: page.data.map(presentPersistedInfo) };
  }

  @Get('card/:cardId')
  @ApiOperation({ summary: 'The persisted model of a card.' })
  async byCard(@Param() params: unknown) {
    const { cardId } = parseInput(cardIdParams, params, 'path');
    return presentPersistedInfo(await this.query.byCardId(cardId));
  }

  @Get(':id')
  @ApiOperation({ summary: 'One persisted model by persisted-info id.' })
  async byId(@Param() params: unknown) {
    const { id } = parseInput(idParams, params, 'path');
    return presentPersistedInfo(await this.query.byId(id));
  }
}
