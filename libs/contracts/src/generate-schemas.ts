import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { allJsonSchemas } from './json-schemas';

/** Writes libs/contracts/schemas/*.json. Run with `npm run schemas`; a test fails when they are stale. */
export function writeSchemas(dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(dir)) if (f.endsWith('.schema.json')) rmSync(join(dir, f));
  const schemas = allJsonSchemas();
  for (const [file, schema] of Object.entries(schemas)) {
    writeFileSync(join(dir, file), `${JSON.stringify(schema, null, 2)}\n`);
  }
  return Object.keys(schemas);
}

export function main(): void {
  const files = writeSchemas(join(__dirname, '..', 'schemas'));
  console.log(`wrote ${files.length} schemas`);
}

if (require.main === module) main();
