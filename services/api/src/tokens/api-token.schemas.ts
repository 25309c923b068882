import { z } from 'zod';

/** POST /api/tokens: a name to recognise the token by (not a secret). */
export const tokenCreateBody = z.strictObject({
  name: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .regex(/^[\x20-\x7e]+$/, 'must be printable ASCII'),
});
