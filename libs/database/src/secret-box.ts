import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { DomainError, ErrorCode } from '@model-persistence/errors';

/**
 * AES-256-GCM for secrets at rest (source database passwords). Format: `v1:<iv>:<tag>:<ciphertext>`, base64.
 * The key is derived from the configured secret with SHA-256, so any length of secret works.
 */
export class SecretBox {
  private readonly key: Buffer;

  constructor(secret: string) {
    if (!secret) throw new Error('SecretBox needs a non-empty secret');
    this.key = createHash('sha256').update(secret, 'utf8').digest();
  }

  encrypt(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return [
      'v1',
      iv.toString('base64'),
      cipher.getAuthTag().toString('base64'),
      data.toString('base64'),
    ].join(':');
  }

  decrypt(blob: string): string {
    const [v, iv, tag, data] = blob.split(':');
    if (v !== 'v1' || !iv || !tag || data === undefined) {
      throw new DomainError(ErrorCode.Internal, 'stored secret has an unknown format');
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64'));
      decipher.setAuthTag(Buffer.from(tag, 'base64'));
      return Buffer.concat([decipher.update(Buffer.from(data, 'base64')), decipher.final()]).toString('utf8');
    } catch (e) {
      throw new DomainError(
        ErrorCode.Internal,
        'stored secret cannot be decrypted with the configured SECRETS_KEY',
        undefined,
        {
          cause: e,
        },
      );
    }
  }
}
