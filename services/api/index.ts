import http from 'node:http';
import type { AppContext } from '../core/context';
import { closeServer, listen } from '../core/ops-http';
import { createApp } from './app';

/** The admin API role: serves /api/v1, /health, /ready and /metrics on API_PORT. */
export async function startApi(ctx: AppContext): Promise<void> {
  const server = http.createServer(createApp(ctx));
  server.keepAliveTimeout = 5_000;
  const port = await listen(server, ctx.config.API_PORT, ctx.config.API_HOST);
  ctx.lifecycle.onShutdown('http', 'api server', () => closeServer(server));
  ctx.log.info('api listening', { url: `http://${ctx.config.API_HOST}:${port}` });
}
