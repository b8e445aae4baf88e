import type { Redis } from 'ioredis';
import type { Config } from './config';
import { createDatabase, databaseIsUp, type PrismaClient } from './db';
import { createSql, type Sql } from './db/sql';
import { Lifecycle, Readiness } from './lifecycle';
import type { Logger } from './logger';
import { createMetrics, type Metrics } from './metrics';
import { assertNoEviction, createRedis, keyspace, type Keyspace, type RedisPurpose } from './redis';
import { Cooldowns } from './telegram/cooldowns';

/** What every role of a process shares: one config, logger, database pool, metrics registry and lifecycle. */
export interface AppContext {
  config: Config;
  log: Logger;
  db: PrismaClient;
  /** node-postgres for the few hot statements (log inserts, the verifications page); see db/sql.ts. */
  sql: Sql;
  /** General-purpose connection (caches, locks, leases). */
  redis: Redis;
  keys: Keyspace;
  /** Every bot's 429 cooldown, shared by all processes (see telegram/cooldowns.ts). */
  cooldowns: Cooldowns;
  metrics: Metrics;
  readiness: Readiness;
  lifecycle: Lifecycle;
  /** A new Redis connection, closed at shutdown with the others. */
  newRedis(purpose: RedisPurpose): Redis;
}

export class StartupError extends Error {
  override name = 'StartupError';
}

/** host:port/database of a connection URL, without credentials, for messages. */
export function describeUrl(raw: string): string {
  const url = new URL(raw);
  return `${url.hostname}:${url.port || 'default port'}${url.pathname.length > 1 ? url.pathname : ''}`;
}

/** Prisma wraps driver errors; its message ends with the driver's own words, which are what a person needs. */
const databaseError = (err: unknown): string => {
  const message = err instanceof Error ? err.message : String(err);
  return /Message: `([^`]+)`/.exec(message)?.[1] ?? errorCode(err);
};

const errorCode = (err: unknown): string => {
  const e = err as { code?: string; cause?: { code?: string; message?: string }; message?: string };
  return e?.cause?.code ?? e?.code ?? e?.cause?.message ?? e?.message ?? String(err);
};

/** Connects to PostgreSQL and Redis, failing with one clear line when either cannot be used. */
export async function createContext(config: Config, log: Logger): Promise<AppContext> {
  const lifecycle = new Lifecycle(log);
  const readiness = new Readiness();
  const connections: Redis[] = [];
  const newRedis = (purpose: RedisPurpose) => {
    const connection = createRedis(config.REDIS_URL, purpose);
    connection.on('error', (err) => log.warn('redis connection error', { purpose, code: errorCode(err) }));
    connections.push(connection);
    return connection;
  };
  const readyByPurpose = () => {
    const ready = new Map<string, number>();
    for (const c of connections) {
      const name = c.options.connectionName ?? 'nezuko';
      ready.set(name, Math.min(ready.get(name) ?? 1, c.status === 'ready' ? 1 : 0));
    }
    return ready;
  };

  const metrics = createMetrics();
  const onQuery = (ms: number) => {
    metrics.dbQueries.inc();
    metrics.dbQueryDuration.observe(ms / 1000);
  };
  const db = createDatabase({ url: config.DATABASE_URL, poolSize: config.DB_POOL_SIZE, onQuery });
  const sql = createSql({
    url: config.DATABASE_URL,
    poolSize: config.DB_POOL_SIZE,
    onQuery,
    onIdleError: (err) => log.warn('database connection error', { error: err.message }),
  });
  try {
    await db.$queryRaw`SELECT 1`;
  } catch (err) {
    await db.$disconnect().catch(() => {});
    throw new StartupError(
      `Cannot use PostgreSQL at ${describeUrl(config.DATABASE_URL)}: ${databaseError(err)}. Check DATABASE_URL and that the server is running (npm run setup).`,
    );
  }

  const redis = newRedis('default');
  try {
    await redis.ping();
    await assertNoEviction(redis);
  } catch (err) {
    await Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect())));
    await db.$disconnect().catch(() => {});
    if (err instanceof Error && err.name === 'RedisPolicyError') throw new StartupError(err.message);
    throw new StartupError(
      `Cannot use Redis at ${describeUrl(config.REDIS_URL)}: ${errorCode(err)}. Check REDIS_URL and that the server is running (npm run setup).`,
    );
  }

  readiness.addCheck('database', () => databaseIsUp(db, config.READY_CHECK_TIMEOUT_MS));
  readiness.addCheck('redis', async () => redis.status === 'ready' && (await redis.ping()) === 'PONG');
  lifecycle.onShutdown('readiness', 'readiness', () => readiness.stopAccepting());
  const keys = keyspace(config.REDIS_PREFIX);
  const cooldowns = new Cooldowns(redis, keys);
  lifecycle.onShutdown('redis', 'redis connections', () =>
    Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect()))).then(() => {}),
  );
  lifecycle.onShutdown('database', 'database pool', () => db.$disconnect());
  lifecycle.onShutdown('database', 'sql pool', () => sql.end());

  metrics.trackRedis(readyByPurpose);
  return { config, log, db, sql, redis, keys, cooldowns, metrics, readiness, lifecycle, newRedis };
}
