import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DomainError } from '@model-persistence/errors';
import { ZodValidationPipe } from '../http/zod-validation';
import { DevMailController, mailQuery } from './dev-mail.controller';

describe('DevMailController (GET /api/dev/mail)', () => {
  const saved = process.env.DEV_MAIL_DIR;
  afterEach(() => {
    if (saved === undefined) delete process.env.DEV_MAIL_DIR;
    else process.env.DEV_MAIL_DIR = saved;
  });

  it('does not exist without DEV_MAIL_DIR (404, no file is read)', async () => {
    delete process.env.DEV_MAIL_DIR;
    await expect(new DevMailController().mail({ limit: 50 })).rejects.toThrow(DomainError);
  });

  it('lists caught mails newest first, skipping files that are not mails', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mp-devmail-'));
    try {
      const mail = (id: string, subject: string) =>
        writeFileSync(
          join(dir, `${id}.json`),
          JSON.stringify({
            id,
            received_at: '2026-01-01T00:00:00Z',
            from: 'a@b',
            to: ['c@d'],
            subject,
            text: 'x',
          }),
        );
      mail('2026-01-01T00-00-01', 'older');
      mail('2026-01-01T00-00-02', 'newer');
      writeFileSync(join(dir, '2026-01-01T00-00-03.json'), '{"half": ');
      writeFileSync(join(dir, '2026-01-01T00-00-02.eml'), 'raw');
      process.env.DEV_MAIL_DIR = dir;
      const r = await new DevMailController().mail({ limit: 10 });
      expect(r.data.map((m) => m.subject)).toEqual(['newer', 'older']);
      expect(() => new ZodValidationPipe(mailQuery, 'query').transform({ limit: '0' })).toThrow(/limit/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
