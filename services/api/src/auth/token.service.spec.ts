import { createHash } from 'node:crypto';
import { ErrorCode } from '@model-persistence/errors';
import { ApiConfig } from '../config';
import { hashToken, TokenService, VERIFIED_TTL_MS } from './token.service';

const TOKEN = 'a-very-secret-token-123';

function setup() {
  const stored = [{ id: 1, name: 'bootstrap', tokenHash: hashToken(TOKEN), revokedAt: null }];
  const repo = {
    findActiveByHash: jest.fn(async (h: string) => stored.find((t) => t.tokenHash === h) ?? null),
    findByHash: jest.fn(async (h: string) => stored.find((t) => t.tokenHash === h) ?? null),
    insertIfAbsent: jest.fn(async () => true),
    revokeOtherBootstraps: jest.fn(async () => 1),
    touch: jest.fn(async () => undefined),
  };
  const service = new TokenService({ bootstrapToken: TOKEN } as ApiConfig, repo as never);
  return { service, repo };
}

describe('TokenService', () => {
  it('hashes with SHA-256 and registers only the hash of the bootstrap token', async () => {
    expect(hashToken('x')).toBe(createHash('sha256').update('x').digest('hex'));
    const { service, repo } = setup();
    await service.onApplicationBootstrap();
    expect(repo.insertIfAbsent).toHaveBeenCalledWith('bootstrap', hashToken(TOKEN), 'bootstrap');
    // a rotated bootstrap token retires every previous one
    expect(repo.revokeOtherBootstraps).toHaveBeenCalledWith(hashToken(TOKEN), expect.any(Date));
  });

  it('forgets a revoked token at once', async () => {
    const { service, repo } = setup();
    await service.authenticate(`Bearer ${TOKEN}`);
    repo.findActiveByHash.mockResolvedValueOnce(null);
    service.forget(hashToken(TOKEN));
    await expect(service.authenticate(`Bearer ${TOKEN}`)).rejects.toMatchObject({
      code: ErrorCode.Unauthorized,
    });
  });

  it('accepts the right bearer token and names the caller', async () => {
    const { service, repo } = setup();
    await expect(service.authenticate(`Bearer ${TOKEN}`)).resolves.toEqual({ name: 'bootstrap' });
    expect(repo.findActiveByHash).toHaveBeenCalledWith(hashToken(TOKEN));
  });

  it('remembers a verified token for a short while only', async () => {
    const { service, repo } = setup();
    const now = jest.spyOn(Date, 'now').mockReturnValue(1_000_000);
    try {
      await service.authenticate(`Bearer ${TOKEN}`);
      await service.authenticate(`Bearer ${TOKEN}`);
      expect(repo.findActiveByHash).toHaveBeenCalledTimes(1);
      now.mockReturnValue(1_000_000 + VERIFIED_TTL_MS + 1);
      await service.authenticate(`Bearer ${TOKEN}`);
      expect(repo.findActiveByHash).toHaveBeenCalledTimes(2);
    } finally {
      now.mockRestore();
    }
  });

  it.each([
    undefined,
    '',
    TOKEN,
    `Basic ${TOKEN}`,
    `Bearer ${TOKEN}x`,
    `Bearer  ${TOKEN}`,
    'Bearer ',
    `Bearer ${'x'.repeat(600)}`,
  ])('rejects %p with 401', async (header) => {
    const { service } = setup();
    await expect(service.authenticate(header)).rejects.toMatchObject({ code: ErrorCode.Unauthorized });
  });
});
