import http from 'node:http';
import type { Registry } from 'prom-client';
import type { Readiness } from './lifecycle';

/**
 * `/health` (the process is alive), `/ready` (its dependencies answer and it is not stopping) and `/metrics`.
 * Plain node:http handlers, so a process without the API role serves them on METRICS_PORT and the API
 * mounts the very same handlers.
 */
export function opsHandlers(readiness: Readiness, registry: Registry) {
  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };
  return {
    health: (_req: http.IncomingMessage, res: http.ServerResponse) =>
      json(res, 200, { status: 'ok', uptimeSeconds: Math.round(process.uptime()) }),
    ready: async (_req: http.IncomingMessage, res: http.ServerResponse) => {
      const { ready, checks } = await readiness.report();
      json(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', checks });
    },
    metrics: async (_req: http.IncomingMessage, res: http.ServerResponse) => {
      const body = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(body);
    },
  };
}

/** A small server with only the ops endpoints, for processes that do not run the API. */
export function createOpsServer(readiness: Readiness, registry: Registry): http.Server {
  const ops = opsHandlers(readiness, registry);
  const routes: Record<string, (req: http.IncomingMessage, res: http.ServerResponse) => unknown> = {
    '/health': ops.health,
    '/ready': ops.ready,
    '/metrics': ops.metrics,
  };
  return http.createServer((req, res) => {
    const route = routes[(req.url ?? '/').split('?')[0] ?? '/'];
    if (req.method !== 'GET' || !route) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'not_found', message: 'Not found' } }));
      return;
    }
    Promise.resolve(route(req, res)).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'internal', message: 'Internal error' } }));
    });
  });
}

/** Listens and resolves with the bound port (0 picks a free one). */
export function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

/** Stops accepting, lets in-flight requests finish, and drops idle keep-alive sockets. */
export function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
