import { Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { Actor } from '../common/actor';
import { CardIdParams, cardIdParams, IdParams, idParams } from '../common/ids';
import { CurrentActor } from '../http/actor.decorator';
import { presentPersistedInfo } from '../http/presenters';
import {
  emptyBody,
  persistedInfoListQuery,
  refreshAcceptedResponse,
  refreshCardBody,
  refreshScheduleBody,
} from '../http/schemas';
import { openApiSchema, ZodBody, ZodParams, ZodQuery } from '../http/zod-validation';
import { CardPersistenceUseCase } from './card-persistence.use-case';
import { DatabasePersistenceUseCase } from './database-persistence.use-case';
import { PersistedInfoQueryUseCase } from './persisted-info-query.use-case';
import { PersistenceSettingsUseCase } from './persistence-settings.use-case';
import { LineageNode, LineageUseCase } from './lineage.use-case';

/** The operator guide's /api/model-persistence endpoints. Thin: validated by the zod pipes, call one use-case. */
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
    private readonly lineageOf: LineageUseCase,
  ) {}

  @Post('enable')
  @HttpCode(204)
  @ApiOperation({ summary: 'Turn model persistence on globally.' })
  async enable(@ZodBody(emptyBody) _body: unknown): Promise<void> {
    await this.settings.enable();
  }

  @Post('disable')
  @HttpCode(204)
  @ApiOperation({
    summary:
      'Turn model persistence off: every row deletable, database flags cleared, schedules removed, prune.',
  })
  async disable(@ZodBody(emptyBody) _body: unknown, @CurrentActor() actor: Actor): Promise<void> {
    await this.settings.disable(actor);
  }

  @Post('set-refresh-schedule')
  @HttpCode(204)
  @ApiOperation({ summary: 'Set the Quartz cron of scheduled refreshes (7 fields, year `*`).' })
  async setRefreshSchedule(
    @ZodBody(refreshScheduleBody) { cron }: z.infer<typeof refreshScheduleBody>,
  ): Promise<void> {
    await this.settings.setRefreshSchedule(cron);
  }

  @Post('database/:id/persist')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Persist the models of a database after the can-persist check (422 when it fails). `privilege_warning` ' +
      '(also in GET /api/databases/:id) says what the connection user may change outside its cache schema.',
  })
  async persistDatabase(@ZodParams(idParams) { id }: IdParams, @ZodBody(emptyBody) _body: unknown) {
    const { privilegeWarning } = await this.databases.persist(id);
    return { database_id: id, persist_models_enabled: true, privilege_warning: privilegeWarning };
  }

  @Post('database/:id/unpersist')
  @HttpCode(204)
  @ApiOperation({ summary: 'Stop persisting a database: its rows become deletable.' })
  async unpersistDatabase(
    @ZodParams(idParams) { id }: IdParams,
    @ZodBody(emptyBody) _body: unknown,
  ): Promise<void> {
    await this.databases.unpersist(id);
  }

  @Post('card/:cardId/persist')
  @HttpCode(204)
  @ApiOperation({ summary: 'Persist one model: row `creating`, refresh requested.' })
  async persistCard(
    @ZodParams(cardIdParams) { cardId }: CardIdParams,
    @ZodBody(emptyBody) _body: unknown,
    @CurrentActor() actor: Actor,
  ): Promise<void> {
    await this.cards.persist(cardId, actor);
  }

  @Post('card/:cardId/unpersist')
  @HttpCode(204)
  @ApiOperation({ summary: 'Stop persisting one model: row `off`.' })
  async unpersistCard(
    @ZodParams(cardIdParams) { cardId }: CardIdParams,
    @ZodBody(emptyBody) _body: unknown,
  ): Promise<void> {
    await this.cards.unpersist(cardId);
  }

  @Post('card/:cardId/refresh')
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Request a refresh of one model; 202 once Kafka acknowledged the request. `{"full": true}` rebuilds an incremental model in full; `{"downstream": true}` also refreshes the models that read it, upstream first; `{"ifChanged": true}` rebuilds only if its inputs changed since its last build (as scheduled refreshes do).',
  })
  @ApiResponse({ status: 202, schema: openApiSchema(refreshAcceptedResponse) })
  async refreshCard(
    @ZodParams(cardIdParams) { cardId }: CardIdParams,
    @ZodBody(refreshCardBody) body: z.infer<typeof refreshCardBody>,
    @CurrentActor() actor: Actor,
  ): Promise<{ requestId: string }> {
    return {
      requestId: await this.cards.refresh(
        cardId,
        actor,
        body?.full === true,
        body?.downstream === true,
        body?.ifChanged === true,
      ),
    };
  }

  @Get()
  @ApiOperation({
    summary:
      'Persisted models with names, next fire time and staleness, by id; stale=true|false filters on the freshness limit (max_staleness, else twice the schedule interval).',
    description:
      'Each item has `stale`, `staleness_limit_seconds` and `staleness_limit_source` (`max_staleness`: the limit is the ' +
      "model's freshness target; `schedule_interval`: twice the interval of its schedule; null: no limit, never stale), " +
      '`staleness_seconds` / `last_success_at` (since the data was last known current: its last build or the last check ' +
      'that found its inputs unchanged) and `since_last_build_seconds` / `last_built_at` (since its last real build).',
  })
  async list(@ZodQuery(persistedInfoListQuery) q: z.infer<typeof persistedInfoListQuery>) {
    const page = await this.query.list({
      limit: q.limit,
      offset: q.offset,
      state: q.state,
      databaseId: q.database_id,
      search: q.q,
      sort: q.sort,
      direction: q.direction,
      stale: q.stale,
    });
    return { ...page, data: page.data.map(presentPersistedInfo) };
  }

  @Get('card/:cardId')
  @ApiOperation({ summary: 'The persisted model of a card.' })
  async byCard(@ZodParams(cardIdParams) { cardId }: CardIdParams) {
    return presentPersistedInfo(await this.query.byCardId(cardId));
  }

  @Get('card/:cardId/lineage')
  @ApiOperation({
    summary:
      'Models this model reads through {{#id}} references (upstream) and models that read it (downstream).',
  })
  async lineage(@ZodParams(cardIdParams) { cardId }: CardIdParams) {
    const l = await this.lineageOf.lineage(cardId);
    const node = (n: LineageNode) => ({
      card_id: n.cardId,
      name: n.name,
      depth: n.depth,
      state: n.state,
      last_success_at: n.lastSuccessAt,
    });
    return {
      card_id: l.cardId,
      name: l.name,
      state: l.state,
      upstream: l.upstream.map(node),
      downstream: l.downstream.map(node),
    };
  }

  @Get(':id')
  @ApiOperation({ summary: 'One persisted model by persisted-info id.' })
  async byId(@ZodParams(idParams) { id }: IdParams) {
    return presentPersistedInfo(await this.query.byId(id));
  }
}
