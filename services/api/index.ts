import http from 'node:http';
import type { AppContext } from '../core/context';
import { subscribeControl } from '../../queues';
import { closeServer, listen } from '../core/ops-http';
import { createApp } from './app';
import { ensureFirstOwner, verifyPassword } from './auth';
import { registerDeploymentMetrics } from './deployment-metrics';
import { issueSetupCode, printSetupCode } from './owner-setup';

/**
 * The admin API role: serves /api/v1, /admin/queues, /health, /ready and /metrics on API_PORT, and exports
 * the deployment-wide gauges (bots by status, queue depth, lag) on that /metrics.
 */
export async function startApi(ctx: AppContext): Promise<void> {
  const closeDeploymentMetrics = registerDeploymentMetrics(ctx);
  ctx.lifecycle.onShutdown('http', 'deployment metrics', closeDeploymentMetrics);
  const { port, setup } = await startApiServer(ctx);
  if (setup) printSetupCode(ctx, setup, port);
}

/**
 * Starts the API and resolves with the bound port and the app (tests use port 0), and, while no owner exists, the
 * one-time set-up code it issued (the caller shows it; it is never logged).
 */
export async function startApiServer(ctx: AppContext) {
  await ensureFirstOwner(ctx);
  // Computes the dummy hash now, so the first login with an unknown email costs no more than any other.
  await verifyPassword(undefined, 'warm-up');
  const app = createApp(ctx);
  await app.locals.auth.subscribe();
  // Changes made elsewhere (bot commands in the verifier, another API process) drop cached group/channel reads.
  const unsubscribe = await subscribeControl(ctx, (message) => {
    if (message.type === 'group-changed' || message.type === 'bots-changed')
      void app.locals.cache.invalidate('groups', 'channels').catch(() => {});
  });
  ctx.lifecycle.onShutdown('http', 'api control subscription', unsubscribe);
  const server = http.createServer(app);
  server.keepAliveTimeout = 5_000;
  const port = await listen(server, ctx.config.API_PORT, ctx.config.API_HOST);
  ctx.lifecycle.onShutdown('http', 'api server', () => closeServer(server));
  ctx.log.info('api listening', { url: `http://${ctx.config.API_HOST}:${port}` });
  const setup = await issueSetupCode(ctx);
  return { port, app, setup };
}
