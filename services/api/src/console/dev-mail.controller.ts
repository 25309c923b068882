import { readdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { z } from 'zod';
import { ZodQuery } from '../http/zod-validation';

/**
 * DEV_MAIL_DIR: the folder where `npm start`'s local mail catcher writes caught mails (.cache/mail). Only set in
 * development; without it this endpoint does not exist (404), so a deployed api never serves files.
 */
export function devMailDir(env = process.env): string | null {
  const dir = env.DEV_MAIL_DIR?.trim();
  return dir ? path.resolve(dir) : null;
}

export const mailQuery = z.strictObject({
  limit: z
    .string()
    .regex(/^[1-9][0-9]{0,2}$/, 'must be an integer between 1 and 200')
    .transform(Number)
    .refine((n) => n <= 200, 'must be an integer between 1 and 200')
    .default(50),
});

const caughtMail = z.object({
  id: z.string(),
  received_at: z.string(),
  from: z.string().nullable(),
  to: z.array(z.string()),
  subject: z.string().nullable(),
  text: z.string().nullable(),
});

@ApiTags('development')
@ApiBearerAuth()
@Controller('api/dev')
export class DevMailController {
  private readonly dir = devMailDir();

  @Get('mail')
  @ApiOperation({
    summary:
      'Development only (DEV_MAIL_DIR set by npm start): mails caught by the local mail catcher, newest first.',
  })
  async mail(@ZodQuery(mailQuery) { limit }: z.infer<typeof mailQuery>) {
    if (!this.dir) throw new DomainError(ErrorCode.NotFound, 'Not found.');
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((n) => n.endsWith('.json'));
    } catch {
      names = []; // nothing caught yet
    }
    // file names start with the receive time (sortable), so the newest are the last names
    names.sort().reverse();
    const data = [];
    for (const name of names.slice(0, limit)) {
      try {
        const parsed = caughtMail.safeParse(JSON.parse(await readFile(path.join(this.dir, name), 'utf8')));
        if (parsed.success) data.push(parsed.data);
      } catch {
        // a file being written right now: skip it this time
      }
    }
    return { data, total: names.length };
  }
}
