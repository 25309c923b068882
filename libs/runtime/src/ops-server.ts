import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { prometheusHandler } from '@model-persistence/telemetry';

export interface OpsServerOptions {
  port: number;
  /** Default all interfaces: Prometheus and the kubelet probe from outside the pod. */
  host?: string;
  /**
   * Readiness: false while starting, after a consumer crash, while shutting down, or (when the service checks
   * its dependencies) while one is unreachable. A check that throws or takes over READY_CHECK_TIMEOUT_MS is
   * "not ready".
   */
  ready: () => boolean | Promise<boolean>;
}

export const READY_CHECK_TIMEOUT_MS = 4000;

async function readiness(check: () => boolean | Promise<boolean>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), READY_CHECK_TIMEOUT_MS)));
  try {
    return await Promise.race([Promise.resolve().then(check), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

export interface OpsServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The operations endpoint of every service: `GET /metrics` (Prometheus text format), `GET /health`
 * (liveness: the event loop answers) and `GET /ready` (readiness: 200 only when consuming). No credentials:
 * this is what the kubelet and compose probe, and it reveals nothing but "ok" / "not ready".
 */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      prometheusHandler(req, res);
      return;
    }
    if (path === '/health' || path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}\n');
      return;
    }
    if (path === '/ready' || path === '/readyz') {
      void readiness(options.ready).then((ready) => {
        res
          .writeHead(ready ? 200 : 503, { 'content-type': 'application/json' })
          .end(JSON.stringify({ status: ready ? 'ready' : 'not ready' }) + '\n');
      });
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics, /health or /ready\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Never keeps a stopping process alive.
  server.unref();
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
