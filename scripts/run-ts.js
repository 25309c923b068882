#!/usr/bin/env node
// Runs a TypeScript file of this repo without a build (dev tooling only): ts-jest's compiler via ts-node-like hook.
const path = require('node:path');
const ts = require('typescript');
const Module = require('node:module');
const root = path.resolve(__dirname, '..');
const origResolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  const m = /^@model-persistence\/([^/]+)$/.exec(request);
  if (m) request = path.join(root, 'libs', m[1], 'src', 'index.ts');
  if (request === '@model-persistence/telemetry/register')
    request = path.join(root, 'libs', 'telemetry', 'src', 'register.ts');
  return origResolve.call(this, request, ...rest);
};
require.extensions['.ts'] = function (module, filename) {
  const source = require('node:fs').readFileSync(filename, 'utf8');
  const out = ts.transpileModule(source, {
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      experimentalDecorators: true,
      emitDecoratorMetadata: true,
      esModuleInterop: true,
    },
    fileName: filename,
  });
  module._compile(out.outputText, filename);
};
require('reflect-metadata');
const file = process.argv[2];
process.argv.splice(1, 1);
const mod = require(path.resolve(root, file));
// Files run this way export main(); `require.main === module` is false under this loader.
if (typeof mod.main === 'function') {
  Promise.resolve(mod.main()).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
