import type { AppContext } from './core/context';
import { assertTokenKey, BotRegistryError, registerBot } from './core/bots';
import { createContext, StartupError } from './core/context';
import { ConfigError, loadConfig, type Role } from './core/config';
import { configureLogger, consoleFormatFor, logger } from './core/logger';
import { closeServer, createOpsServer, listen } from './core/ops-http';
import { startupSummary } from './core/summary';
import { startTracing } from './core/tracing';

type RoleStarter = (ctx: AppContext) => Promise<void>;

/**
 * Roles in start order: consumers before producers, so nothing queued waits for a worker that is still starting.
 * Each role's code is loaded only by a process that runs it (a verifier needs neither Express nor Bull Board).
 */
const ROLE_STARTERS: Record<Role, () => Promise<RoleStarter>> = {
  verifier: async () => (await import('./verifier')).startVerifier,
  maintenance: async () => (await import('./maintenance')).startMaintenance,
  poller: async () => (await import('./poller')).startPoller,
  api: async () => (await import('./api')).startApi,
};

async function main(): Promise<void> {
  const config = loadConfig();
  const log = configureLogger({
    level: config.LOG_LEVEL,
    dir: config.LOG_TO_FILE ? config.LOG_DIR : undefined,
    maxSize: config.LOG_MAX_SIZE,
    maxFiles: config.LOG_MAX_FILES,
    perBot: config.LOG_PER_BOT,
    consoleFormat: consoleFormatFor(config.LOG_FORMAT),
  });

  const stopTracing = await startTracing(config.OTEL_EXPORTER_OTLP_ENDPOINT, config.OTEL_SERVICE_NAME);
  const ctx = await createContext(config, log);
  if (stopTracing) ctx.lifecycle.onShutdown('buffers', 'traces', stopTracing);
  try {
    await assertTokenKey(ctx.db, config);
    // The simplest deployment: one bot from the environment, registered (or its token updated) at start-up.
    if (config.BOT_TOKEN) {
      const bot = await registerBot(ctx.db, config, config.BOT_TOKEN);
      log.info('bot from BOT_TOKEN registered', { botId: bot.id, username: bot.username });
    }
  } catch (err) {
    // The one line below is the message; the shutdown's own progress lines would only bury it.
    log.level = 'error';
    await ctx.lifecycle.shutdown('start-up failed', 2_000);
    if (err instanceof BotRegistryError) throw new StartupError(err.message);
    throw err;
  }
  const shutdown = (reason: string) =>
    void ctx.lifecycle.shutdown(reason, config.SHUTDOWN_TIMEOUT_MS).then((clean) => {
      log.close();
      process.exitCode = clean ? 0 : 1;
      // Whatever still holds the event loop open after an orderly shutdown must not keep the process alive.
      setTimeout(() => process.exit(), 200).unref();
    });
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));

  for (const role of Object.keys(ROLE_STARTERS) as Role[]) {
    if (config.ROLES.includes(role)) await (await ROLE_STARTERS[role]())(ctx);
  }
  let opsPort: number | undefined;
  if (!config.ROLES.includes('api')) {
    const server = createOpsServer(ctx.readiness, ctx.metrics.registry);
    opsPort = await listen(server, config.METRICS_PORT, config.API_HOST);
    ctx.lifecycle.onShutdown('http', 'ops server', () => closeServer(server));
    log.info('ops endpoints listening', { port: opsPort, paths: ['/health', '/ready', '/metrics'] });
  }
  log.info('nezuko started', { roles: config.ROLES, pid: process.pid });
  try {
    for (const line of await startupSummary(ctx.db, config, { api: config.API_PORT, ops: opsPort })) log.info(line);
  } catch (err) {
    log.warn('start-up summary unavailable', { err });
  }
}

main().catch((err) => {
  // Expected start-up failures get one clear line; anything else is logged (redacted) with its stack.
  if (err instanceof ConfigError || err instanceof StartupError) console.error(err.message);
  else logger.error('start-up failed', { err });
  process.exit(1);
});
