import { z } from 'zod';
import { EVENT_SCHEMAS, EventType } from './events';

/** JSON Schema (draft 2020-12) for one event type and version, generated from the same zod source. */
export function jsonSchemaFor(type: EventType, version: number): Record<string, unknown> {
  const schema = (EVENT_SCHEMAS[type] as Record<number, z.ZodType>)[version];
  if (!schema) throw new Error(`no schema for ${type} v${version}`);
  return {
    $id: `https://model-persistence.dev/schemas/${type}.v${version}.schema.json`,
    title: `${type} v${version}`,
    ...z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' }),
  };
}

/** Every schema file the package ships, by file name. */
export function allJsonSchemas(): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [type, versions] of Object.entries(EVENT_SCHEMAS)) {
    for (const version of Object.keys(versions)) {
      out[`${type}.v${version}.schema.json`] = jsonSchemaFor(type as EventType, Number(version));
    }
  }
  return out;
}
