import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { ModulesContainer } from '@nestjs/core';
import { z } from 'zod';
import { ZOD_SCHEMAS, ZodSchemas } from '../src/http/zod-validation';
import { ApiHarness } from './api-harness';

/**
 * The OpenAPI document served at /api/docs-json describes requests exactly as the zod schemas that validate
 * them: every route's body, path and query schema equals z.toJSONSchema of the route's zod schema, and no
 * route takes a body or a path parameter that no zod schema validates. Hand-typed shapes or enums in
 * decorators, or a schema changed on one side only, fail here.
 */
type Json = Record<string, unknown>;
interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  schema?: Json;
}
interface Operation {
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Json }> };
}

const jsonSchema = (s: z.ZodType): Json => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' });
  return rest;
};

const properties = (s: z.ZodType | undefined) => {
  if (!s) return [];
  const json = jsonSchema(s) as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, schema]) => ({
    name,
    schema,
    required: (json.required ?? []).includes(name),
  }));
};

const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
const join = (...parts: string[]) =>
  '/' +
  parts
    .flatMap((p) => p.split('/'))
    .filter(Boolean)
    .join('/');

describe('OpenAPI request schemas are the zod schemas (real app)', () => {
  let h: ApiHarness;

  beforeAll(async () => {
    h = await ApiHarness.start('openapizod');
  }, 60_000);

  afterAll(async () => {
    await h?.close();
  }, 30_000);

  it('every route documents exactly the zod schemas its pipes validate with', async () => {
    const doc = (await h.request('GET', '/api/docs-json', { token: null })).json as {
      paths: Record<string, Record<string, Operation>>;
    };
    let routes = 0;
    let withZod = 0;
    for (const module of h.app.get(ModulesContainer).values()) {
      for (const wrapper of module.controllers.values()) {
        const controller = wrapper.metatype as (new (...args: never[]) => unknown) | null;
        if (!controller) continue;
        const prefix = (Reflect.getMetadata(PATH_METADATA, controller) as string | undefined) ?? '';
        const proto = controller.prototype as Record<string, object>;
        for (const name of Object.getOwnPropertyNames(proto)) {
          if (name === 'constructor') continue;
          const handler = proto[name];
          const path = Reflect.getMetadata(PATH_METADATA, handler) as string | undefined;
          if (path === undefined) continue;
          routes++;
          const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod];
          const route = join(prefix, path);
          const where = `${method} ${route}`;
          const op = doc.paths[route.replace(/:(\w+)/g, '{$1}')]?.[method.toLowerCase()];
          expect({ where, documented: op !== undefined }).toEqual({ where, documented: true });
          const schemas = (Reflect.getMetadata(ZOD_SCHEMAS, handler) as ZodSchemas | undefined) ?? {};
          if (Object.keys(schemas).length) withZod++;

          // body: the zod schema's JSON Schema, or no body at all for routes that take none
          if (schemas.body) {
            expect({ where, body: op.requestBody?.content['application/json']?.schema }).toEqual({
              where,
              body: jsonSchema(schemas.body),
            });
          } else {
            expect({ where, body: op.requestBody }).toEqual({ where, body: undefined });
            expect({ where, method }).not.toEqual({
              where,
              method: expect.stringMatching(/^(POST|PUT|PATCH)$/),
            });
          }

          // path parameters: each one in the URL is validated by the route's zod schema and documented as it
          const inUrl = [...route.matchAll(/:(\w+)/g)].map((m) => m[1]).sort();
          expect({
            where,
            params: properties(schemas.path)
              .map((p) => p.name)
              .sort(),
          }).toEqual({
            where,
            params: inUrl,
          });
          const documented = (op.parameters ?? [])
            .filter((p) => p.in === 'path')
            .map((p) => ({ name: p.name, schema: p.schema, required: p.required }))
            .sort(byName);
          expect({ where, documented }).toEqual({
            where,
            documented: properties(schemas.path)
              .map((p) => ({ name: p.name, schema: p.schema, required: true }))
              .sort(byName),
          });

          // query parameters: exactly the zod schema's properties, with their schemas
          const query = (op.parameters ?? [])
            .filter((p) => p.in === 'query')
            .map((p) => ({ name: p.name, schema: p.schema, required: p.required ?? false }))
            .sort(byName);
          expect({ where, query }).toEqual({ where, query: properties(schemas.query).sort(byName) });
        }
      }
    }
    // the walk found the API's routes, and most of them are validated by zod
    expect(routes).toBeGreaterThan(20);
    expect(withZod).toBeGreaterThan(15);
  });
});
