import { LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { AppModule, AppModuleOptions } from './app.module';
import { TokenService } from './auth/token.service';
import { ApiConfig } from './config';
import { authMiddleware, bodyMiddlewares } from './http/middleware';
import { consoleRouter } from './console/console-static';

export interface CreateApiAppOptions extends AppModuleOptions {
  logger?: LoggerService | false;
}

/**
 * The configured HTTP app (not listening yet): auth first, then content-type and JSON body checks, then
 * Nest's routes with the one exception filter; OpenAPI at /api/docs (JSON at /api/docs-json).
 * Used by main.ts and by the in-process integration tests, so both run exactly this pipeline.
 */
export async function createApiApp(
  config: ApiConfig,
  options: CreateApiAppOptions = {},
): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, options), {
    bodyParser: false,
    ...(options.logger !== undefined ? { logger: options.logger } : {}),
    bufferLogs: options.logger !== undefined && options.logger !== false,
  });
  app.disable('x-powered-by');
  // no SHA-1 ETag over every JSON body: the admin API's responses are small, dynamic and not cached
  app.set('etag', false);
  app.set('query parser', 'simple');
  // the admin console's static files (no data in them) come before auth; everything they call needs the token
  app.use('/admin', consoleRouter());
  app.use(authMiddleware(app.get(TokenService)));
  for (const m of bodyMiddlewares(config.http.maxBodyBytes)) app.use(m);
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('model-persistence admin API')
      .setDescription(
        'Keeps persisted models fresh. Every endpoint but /health, POST /api/sign-in (and these docs) needs ' +
          '`Authorization: Bearer <token>`. ' +
          'Errors are `{"error": {"code": "...", "message": "..."}}`.',
      )
      .setVersion('1')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json' });
  app.enableShutdownHooks();
  return app;
}
