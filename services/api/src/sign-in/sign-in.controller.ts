import { Controller, Headers, HttpCode, Inject, Post, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { APP_CONFIG } from '@model-persistence/config';
import { Request } from 'express';
import { z } from 'zod';
import { Actor } from '../common/actor';
import { ApiConfig } from '../config';
import { CurrentActor } from '../http/actor.decorator';
import { emptyBody } from '../http/schemas';
import { ZodBody } from '../http/zod-validation';
import { SIGN_IN_LINK_SECONDS, signInBody, signInLinkCreateBody } from './sign-in.schemas';
import { SignInUseCase } from './sign-in.use-case';

/** The console's sign-in: one-time links, their exchange for a session token, and signing out. */
@ApiTags('sign-in')
@Controller('api')
export class SignInController {
  constructor(
    private readonly signIn: SignInUseCase,
    @Inject(APP_CONFIG) private readonly config: ApiConfig,
  ) {}

  @Post('sign-in-links')
  @ApiBearerAuth()
  @ApiOperation({
    summary:
      `Mint a one-time console sign-in link (valid ${SIGN_IN_LINK_SECONDS / 60} min unless expires_in_seconds). ` +
      'The code travels in the URL fragment (#signin=…), so it never reaches a server or proxy log.',
  })
  async createLink(
    @ZodBody(signInLinkCreateBody) body: z.infer<typeof signInLinkCreateBody>,
    @CurrentActor() actor: Actor,
    @Req() req: Request,
  ) {
    const { code, expiresAt } = await this.signIn.createLink(actor, body?.expires_in_seconds);
    const base = this.config.appBaseUrl ?? `${req.protocol}://${req.get('host') ?? 'localhost'}`;
    return { url: `${base}/admin/#signin=${code}`, code, expires_at: expiresAt.toISOString() };
  }

  @Post('sign-in')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Exchange a sign-in link code (no token needed) for a console session token, once. ' +
      '404 SIGN_IN_LINK_UNKNOWN, 410 SIGN_IN_LINK_USED or SIGN_IN_LINK_EXPIRED otherwise.',
  })
  async exchange(@ZodBody(signInBody) { code }: z.infer<typeof signInBody>) {
    const session = await this.signIn.signIn(code);
    return {
      token: session.token,
      kind: 'session',
      name: session.name,
      expires_at: session.expiresAt.toISOString(),
    };
  }

  @Post('sign-out')
  @HttpCode(200)
  @ApiBearerAuth()
  @ApiOperation({
    summary:
      'End the caller’s console session (its token stops working at once). An API token is not revoked by this; ' +
      'use DELETE /api/tokens/:id.',
  })
  async signOut(
    @ZodBody(emptyBody) _body: z.infer<typeof emptyBody>,
    @Headers('authorization') authorization: string | undefined,
  ) {
    return { signed_out: true, session_revoked: await this.signIn.signOut(authorization) };
  }
}
