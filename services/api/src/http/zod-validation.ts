import { Body, Param, PipeTransform, Query } from '@nestjs/common';
import { ApiBody, ApiParam, ApiQuery } from '@nestjs/swagger';
import { z } from 'zod';
import { parseInput } from '../common/ids';

/**
 * The API edge, from one source: a route's zod schema validates the request (a Nest pipe: bad input is
 * 400 VALIDATION_FAILED with the reasons, the one error body) AND is the route's OpenAPI schema
 * (z.toJSONSchema), so the document and the validation cannot drift.
 */
export class ZodValidationPipe<S extends z.ZodType> implements PipeTransform<unknown, z.infer<S>> {
  constructor(
    readonly schema: S,
    private readonly where: 'body' | 'path' | 'query',
  ) {}

  transform(value: unknown): z.infer<S> {
    return parseInput(this.schema, value, this.where);
  }
}

/** JSON Schema of a request part for the OpenAPI document (the input side: what a client sends). */
export function openApiSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _ignored, ...json } = z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'any',
  }) as Record<string, unknown>;
  return json;
}

/** Where the zod schemas of a handler are recorded (read by the OpenAPI drift test). */
export const ZOD_SCHEMAS = Symbol('ZOD_SCHEMAS');
export type ZodSchemas = Partial<Record<'body' | 'path' | 'query', z.ZodType>>;

type ObjectSchema = { properties?: Record<string, Record<string, unknown>>; required?: string[] };

function methodDescriptor(target: object, key: string | symbol | undefined): PropertyDescriptor {
  const descriptor = key === undefined ? undefined : Object.getOwnPropertyDescriptor(target, key);
  if (!descriptor) throw new Error('zod request decorators go on method parameters');
  return descriptor;
}

function record(descriptor: PropertyDescriptor, where: keyof ZodSchemas, schema: z.ZodType): void {
  const handler = descriptor.value as object;
  const schemas = (Reflect.getMetadata(ZOD_SCHEMAS, handler) as ZodSchemas | undefined) ?? {};
  Reflect.defineMetadata(ZOD_SCHEMAS, { ...schemas, [where]: schema }, handler);
}

/** One OpenAPI parameter per property of an object schema (path or query). */
function eachProperty(
  schema: z.ZodType,
  fn: (name: string, s: Record<string, unknown>, required: boolean) => void,
) {
  const json = openApiSchema(schema) as ObjectSchema;
  for (const [name, s] of Object.entries(json.properties ?? {}))
    fn(name, s, (json.required ?? []).includes(name));
}

/** The request body, validated by `schema` and documented as it. */
export function ZodBody(schema: z.ZodType): ParameterDecorator {
  return (target, key, index) => {
    Body(new ZodValidationPipe(schema, 'body'))(target, key, index);
    const descriptor = methodDescriptor(target, key);
    record(descriptor, 'body', schema);
    ApiBody({ schema: openApiSchema(schema), required: !schema.safeParse(undefined).success })(
      target,
      key!,
      descriptor,
    );
  };
}

/** The path parameters, validated by `schema` (a strict object) and documented as it. */
export function ZodParams(schema: z.ZodType): ParameterDecorator {
  return (target, key, index) => {
    Param(new ZodValidationPipe(schema, 'path'))(target, key, index);
    const descriptor = methodDescriptor(target, key);
    record(descriptor, 'path', schema);
    eachProperty(schema, (name, s) =>
      ApiParam({ name, required: true, schema: s })(target, key!, descriptor),
    );
  };
}

/** The query string, validated by `schema` (a strict object) and documented as it. */
export function ZodQuery(schema: z.ZodType): ParameterDecorator {
  return (target, key, index) => {
    Query(new ZodValidationPipe(schema, 'query'))(target, key, index);
    const descriptor = methodDescriptor(target, key);
    record(descriptor, 'query', schema);
    eachProperty(schema, (name, s, required) =>
      ApiQuery({ name, required, schema: s })(target, key!, descriptor),
    );
  };
}
