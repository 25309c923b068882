#!/usr/bin/env node
/*
 * Builds the admin console (Preact, bundled by esbuild) into services/api/console/dist, which the api serves
 * at /admin. Run by `npm run build`, `npm start` and `npm test` (scripts/lib.js build()) and the Dockerfile.
 *   node services/api/console/build.js
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const here = __dirname;
const out = path.join(here, 'dist');

async function buildConsole() {
  const esbuild = require('esbuild');
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  await esbuild.build({
    entryPoints: [path.join(here, 'src', 'main.tsx')],
    bundle: true,
    minify: true,
    sourcemap: true,
    format: 'esm',
    target: ['chrome110', 'firefox110', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outfile: path.join(out, 'app.js'),
    logLevel: 'warning',
    legalComments: 'none',
  });
  for (const f of ['index.html', 'styles.css', 'favicon.svg'])
    fs.copyFileSync(path.join(here, f), path.join(out, f));
}

module.exports = { buildConsole };

if (require.main === module) {
  buildConsole().then(
    () => console.log(`[console] built into ${path.relative(process.cwd(), out) || out}`),
    (e) => {
      console.error('[console] build failed:', e.message);
      process.exit(1);
    },
  );
}
