import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { SettingKey } from '@model-persistence/database';
import { idParams, parseInput } from '../common/ids';
import { presentAdmin } from '../http/presenters';
import { adminCreateBody, adminEmailValue, openApiSchema, settingBody, settingParams } from '../http/schemas';
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
  @ApiBody({ schema: openApiSchema(settingBody) })
  async setSetting(@Param() params: unknown, @Body() body: unknown): Promise<void> {
    const { key } = parseInput(settingParams, params, 'path');
    const { value } = parseInput(settingBody, body, 'body');
    if (key === SettingKey.AdminEmail) parseInput(adminEmailValue, value, 'body.value');
    await this.admin.setSetting(key, value);
  }

  @Post('admins')
  @ApiOperation({ summary: 'Add an admin who receives failure alerts.' })
  @ApiBody({ schema: openApiSchema(adminCreateBody) })
  async addAdmin(@Body() body: unknown) {
    return presentAdmin(await this.admin.addAdmin(parseInput(adminCreateBody, body, 'body')));
  }

  @Get('admins')
  async listAdmins() {
    return { data: (await this.admin.listAdmins()).map(presentAdmin) };
  }

  @Get('admins/:id')
  async getAdmin(@Param() params: unknown) {
    const { id } = parseInput(idParams, params, 'path');
    return presentAdmin(await this.admin.getAdmin(id));
  }

  @Delete('admins/:id')
  @HttpCode(204)
  async removeAdmin(@Param() params: unknown): Promise<void> {
    const { id } = parseInput(idParams, params, 'path');
    await this.admin.removeAdmin(id);
  }
}
