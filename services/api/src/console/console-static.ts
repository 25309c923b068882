import { existsSync } from 'node:fs';
import * as path from 'node:path';
import express, { NextFunction, Request, Response, Router } from 'express';

/** Where `npm run build` writes the console (services/api/console/dist), from src/ and from dist/ alike. */
export function consoleAssetsDir(): string {
  return path.resolve(__dirname, '..', '..', 'console', 'dist');
}

/**
 * The admin console at /admin: static files only, no token needed to load them (they hold no data; every
 * call they make goes to the REST API with the bearer token). Mounted before the auth middleware.
 */
export function consoleRouter(dir = consoleAssetsDir()): Router {
  const router = Router();
  router.use((req: Request, res: Response, next: NextFunction) => {
    res.setHeader(
      'Content-Security-Policy',
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    );
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.status(404).json({ error: { code: 'NOT_FOUND', message: 'Not found.' } });
      return;
    }
    if (!existsSync(path.join(dir, 'index.html'))) {
      res
        .status(503)
        .type('text/plain')
        .send('The admin console is not built: run `npm run build` (or `npm start`).');
      return;
    }
    // /admin → /admin/ so the page's relative asset URLs resolve under /admin/
    if (req.originalUrl === '/admin') {
      res.redirect(301, '/admin/');
      return;
    }
    // the alert emails' links (the reference's paths) open the console's pages
    const model = /^\/models\/([1-9][0-9]{0,9})$/.exec(req.path);
    if (model) {
      res.redirect(302, `/admin/#/cards/${model[1]}`);
      return;
    }
    if (req.path === '/tools/model-caching') {
      res.redirect(302, '/admin/#/models');
      return;
    }
    next();
  });
  router.use(
    express.static(dir, {
      index: 'index.html',
      fallthrough: true,
      setHeaders: (res, file) =>
        res.setHeader('Cache-Control', file.endsWith('.html') ? 'no-cache' : 'public, max-age=300'),
    }),
  );
  router.use((_req: Request, res: Response) => {
    res.status(404).json({ error: { code: 'NOT_FOUND', message: 'Not found.' } });
  });
  return router;
}
