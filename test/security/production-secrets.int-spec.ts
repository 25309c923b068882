/*
 * The compiled services, started as real processes with NODE_ENV=production and the placeholders shipped in
 * deploy/k8s/secret.yaml, refuse to start with the config error (exit 78) and never print a secret value.
 * Needs `npm run build` (services/<name>/dist/main.js).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');

function k8sSecretPlaceholders(): Record<string, string> {
  const text = readFileSync(join(ROOT, 'deploy/k8s/secret.yaml'), 'utf8');
  const out: Record<string, string> = {};
  for (const line of (text.split('stringData:')[1] ?? '').split('\n')) {
    const m = /^\s+([A-Z0-9_]+):\s*(.+?)\s*$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

function run(service: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'services', service, 'dist', 'main.js')], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', OTEL_SDK_DISABLED: 'true', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${service} did not exit: ${output}`));
    }, 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, output });
    });
  });
}

describe('production start-up with placeholder secrets (real processes)', () => {
  const placeholders = k8sSecretPlaceholders();

  it.each(['api', 'refresher', 'notifier'])(
    '%s exits 78 listing the problems, printing no secret',
    async (service) => {
      const { code, output } = await run(service, { NODE_ENV: 'production', ...placeholders });
      expect(code).toBe(78);
      expect(output).toContain(`Invalid configuration for ${service}`);
      expect(output).toMatch(/SECRETS_KEY \(set, hidden\): holds a placeholder/);
      expect(output).toMatch(/DATABASE_URL \(".*:\*\*\*@.*"\): holds a placeholder/);
      expect(output).not.toMatch(/CHANGE-ME/i);
    },
    40_000,
  );

  it('a weak SECRETS_KEY is refused in production, shown as hidden', async () => {
    const weak = 'a-long-but-not-random-secrets-key';
    const { code, output } = await run('api', {
      NODE_ENV: 'production',
      SECRETS_KEY: weak,
      DATABASE_URL: 'postgres://mp:real-password-123@127.0.0.1:1/mp',
    });
    expect(code).toBe(78);
    expect(output).toMatch(/SECRETS_KEY \(set, hidden\): must be 32 random bytes/);
    expect(output).not.toContain(weak);
    expect(output).not.toContain('real-password-123');
  }, 40_000);
});
