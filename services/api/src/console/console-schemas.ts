import { z } from 'zod';
import { MAX_ID } from '../common/ids';

/* Request schemas of the endpoints the console added (strict: unknown parameters are rejected). */

const intString = (min: number, max: number) =>
  z
    .string()
    .regex(/^(0|[1-9][0-9]{0,9})$/, 'must be a non-negative integer')
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be between ${min} and ${max}`);

export const deadLetterQuery = z.strictObject({
  limit: intString(1, 200).default(20),
  offset: intString(0, MAX_ID).default(0),
  topic: z.string().min(1).max(249).optional(),
});

export const cronPreviewQuery = z.strictObject({
  cron: z.string().min(1).max(200),
  count: intString(1, 20).default(5),
  time_zone: z.string().min(1).max(100).optional(),
});
