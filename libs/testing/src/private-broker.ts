import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
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
      ...(options.scram ? { interBrokerPort: await freePort() } : {}),
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
