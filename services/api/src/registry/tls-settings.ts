import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { SOURCE_TLS_MODES, SourceEngine, SourceTlsMode } from '@model-persistence/database';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { z } from 'zod';

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** True when the text is one or more PEM certificates (a CA bundle) and nothing else. */
export function isPemCertificateBundle(text: string): boolean {
  const blocks = text.match(PEM_BLOCK);
  if (!blocks || text.replace(PEM_BLOCK, '').trim() !== '') return false;
  try {
    for (const b of blocks) new X509Certificate(b);
    return true;
  } catch {
    return false;
  }
}

export const tlsModeField = z.enum(SOURCE_TLS_MODES);
export const tlsCaCertField = z
  .string()
  .max(65_536)
  .refine(isPemCertificateBundle, 'must be one or more PEM certificates (-----BEGIN CERTIFICATE-----)')
  .nullable();

/**
 * A CA only means something when the server certificate is verified: refused otherwise (400). MySQL's client
 * (mysql2) checks host names only, so verify-full on MySQL/MariaDB needs a host name, not an IP address.
 */
export function assertTlsConsistent(
  mode: SourceTlsMode,
  caCert: string | null,
  engine?: SourceEngine,
  host?: string,
): void {
  if (mode === 'verify-full' && engine === 'mysql' && host !== undefined && isIP(host) !== 0) {
    throw new DomainError(
      ErrorCode.ValidationFailed,
      'body.tls_mode: verify-full on MySQL/MariaDB needs a host name that the server certificate names, not an IP address; use verify-ca for an IP address',
    );
  }
  if (caCert !== null && (mode === 'disable' || mode === 'require')) {
    throw new DomainError(
      ErrorCode.ValidationFailed,
      `body.tls_ca_cert: is only used with tls_mode verify-ca or verify-full (tls_mode is ${mode}); send tls_ca_cert: null to remove it`,
    );
  }
}
