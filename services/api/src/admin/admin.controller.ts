import { Controller, Delete, Get, HttpCode, Post, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { IdParams, idParams } from '../common/ids';
import { presentAdmin } from '../http/presenters';
import { adminCreateBody, settingBody, settingParams } from '../http/schemas';
import { ZodBody, ZodParams } from '../http/zod-validation';
import { AdminSettingsUseCase } from './admin-settings.use-case';

@ApiTags('admin')
@ApiBearerAuth()
@Controller('api')
export class AdminController {
  constructor(private readonly admin: AdminSettingsUseCase) {}

  @Get('settings')
  @ApiOperation({ summary: 'The model-persistence settings.' })
  getSettings() {
    return this.admin.getSettings();
  }

  @Put('settings/:key')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Set `admin-email` (alert recipient, may be empty) or the schedule time zone (IANA).',
  })
  async setSetting(
    @ZodParams(settingParams) { key }: z.infer<typeof settingParams>,
    @ZodBody(settingBody) { value }: z.infer<typeof settingBody>,
  ): Promise<void> {
    await this.admin.setSetting(key, value);
  }

  @Post('admins')
  @ApiOperation({ summary: 'Add an admin who receives failure alerts.' })
  async addAdmin(@ZodBody(adminCreateBody) body: z.infer<typeof adminCreateBody>) {
    return presentAdmin(await this.admin.addAdmin(body));
  }

  @Get('admins')
  async listAdmins() {
    return { data: (await this.admin.listAdmins()).map(presentAdmin) };
  }

  @Get('admins/:id')
  async getAdmin(@ZodParams(idParams) { id }: IdParams) {
    return presentAdmin(await this.admin.getAdmin(id));
  }

  @Delete('admins/:id')
  @HttpCode(204)
  async removeAdmin(@ZodParams(idParams) { id }: IdParams): Promise<void> {
    await this.admin.removeAdmin(id);
  }
}
