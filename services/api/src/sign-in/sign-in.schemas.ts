import { z } from 'zod';

/** Default and bounds of a sign-in link's lifetime: long enough to open it, short enough to be harmless. */
export const SIGN_IN_LINK_SECONDS = 15 * 60;

/** POST /api/sign-in-links: optionally another lifetime (1 min to 24 h). */
export const signInLinkCreateBody = z
  .strictObject({
    expires_in_seconds: z.int().min(60).max(86_400).optional(),
  })
  .optional();

/** POST /api/sign-in: the code of a one-time sign-in link (the part after `#signin=`). */
export const signInBody = z.strictObject({
  code: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
});
