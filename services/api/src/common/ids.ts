import { DomainError, ErrorCode } from '@model-persistence/errors';
import { z } from 'zod';

export const MAX_ID = 2_147_483_647;

/** Path/query ids: plain decimal digits only (no sign, exponent, dots or slashes), within int4. */
export const idString = z
  .string()
  .regex(/^[1-9][0-9]{0,9}$/, 'must be a positive integer id')
  .transform(Number)
  .refine((n) => n <= MAX_ID, 'is out of range');

export function formatZodError(error: z.ZodError, where: string): string {
  return error.issues
    .slice(0, 5)
    .map((i) => {
      const path = i.path.length ? i.path.join('.') : '';
      return `${where}${path ? `.${path}` : ''}: ${i.message}`;
    })
    .join('; ');
}

/** Validates request input with a zod schema; bad input becomes 400 VALIDATION_FAILED with the reasons. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new DomainError(ErrorCode.ValidationFailed, formatZodError(r.error, where));
  return r.data;
}

export const idParams = z.strictObject({ id: idString });
export const cardIdParams = z.strictObject({ cardId: idString });
export type IdParams = z.infer<typeof idParams>;
export type CardIdParams = z.infer<typeof cardIdParams>;
