import { AddressInfo, createServer, Server, Socket, connect } from 'node:net';

/**
 * A loopback TCP proxy in front of a database: what a database restart or outage looks like to its clients.
 * `cut()` resets every open connection and refuses new ones (the port is closed); `restore()` listens again on
 * the same port. Only 127.0.0.1.
 */
export class TcpProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private boundPort = 0;
  /** Connections accepted and connections reset by `cut()` (figures). */
  accepted = 0;
  reset = 0;

  constructor(
    private readonly targetPort: number,
    private readonly targetHost = '127.0.0.1',
  ) {}

  get port(): number {
    return this.boundPort;
  }

  async start(port = this.boundPort): Promise<this> {
    const server = createServer((client) => {
      this.accepted++;
      const upstream = connect({ port: this.targetPort, host: this.targetHost });
      this.sockets.add(client);
      this.sockets.add(upstream);
      const close = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('error', close);
      upstream.on('error', close);
      client.on('close', close);
      upstream.on('close', close);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.boundPort = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }

  get up(): boolean {
    return this.server !== null;
  }

  /** Resets every connection (RST, like a killed server) and stops listening (new connections are refused). */
  async cut(): Promise<void> {
    const s = this.server;
    this.server = null;
    for (const sock of this.sockets) {
      this.reset++;
      sock.resetAndDestroy();
    }
    this.sockets.clear();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  async restore(): Promise<void> {
    if (!this.server) await this.start(this.boundPort);
  }

  async close(): Promise<void> {
    await this.cut();
  }
}
