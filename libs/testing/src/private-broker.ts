import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { AddressInfo, createServer } from 'node:net';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..', '..');

interface BrokerHandle {
  brokers: string;
  stop(signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>;
}
export interface PrivateBrokerOptions {
  /** message.max.bytes of the broker; null = Kafka's default (1048588); default 2 MiB like the shared broker. */
  messageMaxBytes?: number | null;
  /** Clients must log in with these SCRAM credentials (a SASL_PLAINTEXT listener). */
  scram?: { mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512'; username: string; password: string };
  /** Clients must speak TLS; one PEM file with the broker's PKCS#8 key and certificate chain. */
  tls?: { keystorePem: string };
}
interface Infra {
  startBroker(
    o: {
      port: number;
      controllerPort: number;
      dataDir: string;
      heapMb?: number;
      interBrokerPort?: number;
    } & PrivateBrokerOptions,
  ): Promise<BrokerHandle>;
}
// scripts/infra.js is plain Node (it runs before anything is built)
// eslint-disable-next-line @typescript-eslint/no-require-imports
const infra = require(join(ROOT, 'scripts', 'infra.js')) as Infra;

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * A single-node KRaft broker of a test's own (free loopback ports, data under .cache/), for tests that kill or
 * restart the broker: the shared broker on 19092 is never touched. `stop` then `start` restarts it on its data.
 */
export class PrivateBroker {
  private handle: BrokerHandle | null = null;
  private readonly dataDir = join(ROOT, '.cache', 'private-kafka', randomBytes(4).toString('hex'));

  private constructor(
    private readonly ports: { port: number; controllerPort: number; interBrokerPort?: number },
    readonly options: PrivateBrokerOptions = {},
  ) {}

  get brokers(): string {
    return `127.0.0.1:${this.ports.port}`;
  }

  static async start(options: PrivateBrokerOptions = {}): Promise<PrivateBroker> {
    const ports = {
      port: await freePort(),
      controllerPort: await freePort(),
      ...(options.scram || options.tls ? { interBrokerPort: await freePort() } : {}),
    };
    return new PrivateBroker(ports, options).start();
  }

  async start(): Promise<this> {
    this.handle = await infra.startBroker({ ...this.ports, ...this.options, dataDir: this.dataDir });
    return this;
  }

  async stop(signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    await this.handle?.stop(signal);
    this.handle = null;
  }

  /** Stops it and deletes its data. */
  async destroy(): Promise<void> {
    await this.stop('SIGKILL');
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/**
 * A throw-away CA and a server certificate for 127.0.0.1/localhost signed by it, made with openssl: `ca` is the
 * CA's PEM (what clients trust), `keystorePem` the server's PKCS#8 key + certificate for PrivateBroker's tls.
 */
export function makeTestCertificates(dir: string): { caFile: string; keystorePem: string } {
  mkdirSync(dir, { recursive: true });
  const run = (args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  };
  run([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=model-persistence test CA',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
  ]);
  run([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=localhost',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
  ]);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    'san.ext',
    '-out',
    'server.pem',
  ]);
  run(['pkcs8', '-topk8', '-nocrypt', '-in', 'server.key', '-out', 'server.pk8']);
  const keystorePem = join(dir, 'keystore.pem');
  writeFileSync(
    keystorePem,
    readFileSync(join(dir, 'server.pk8'), 'utf8') + readFileSync(join(dir, 'server.pem'), 'utf8'),
  );
  return { caFile: join(dir, 'ca.pem'), keystorePem };
}
