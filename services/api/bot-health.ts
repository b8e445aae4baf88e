import type { Redis } from 'ioredis';
import { botCountersKey, HEARTBEAT_STALE_MS, lastBeats, openQueue, updatesQueue } from '../../queues';
import type { Config } from '../core/config';
import { decryptSecret } from '../core/crypto';
import type { PrismaClient } from '../core/db';
import type { Keyspace } from '../core/redis';
import { sharedBreakerState } from '../core/telegram/breaker-state';
import { cleanError, describeError, isTelegramError } from '../core/telegram/errors';
import { callBotApi } from '../core/telegram/transport';

export type HealthState = 'healthy' | 'degraded' | 'unresponsive' | 'crashed' | 'stopped';

export interface BotHealth {
  botId: number;
  username: string;
  status: string;
  statusReason: string | null;
  restartCount: number;
  startedAt: Date | null;
  lastError: string | null;
  health: HealthState;
  reasons: string[];
  heartbeatAgeMs: number | null;
  /** The last getMe probe (shared by every process for PROBE_CACHE_MS); `checkedAt` says when it ran. */
  probe: { ok: boolean; latencyMs: number; error?: string; checkedAt?: string };
  breaker: string;
  queue: { waiting: number; active: number; delayed: number; failed: number };
  /** Age of the oldest update waiting to be handled. */
  lagMs: number | null;
  counters: Record<string, number>;
}

export interface HealthDeps {
  db: PrismaClient;
  redis: Redis;
  keys: Keyspace;
  config: Pick<Config, 'TOKEN_ENCRYPTION_KEY' | 'TELEGRAM_API_ROOT' | 'REDIS_PREFIX'>;
}

const LAG_DEGRADED_MS = 60_000;
const PROBE_TIMEOUT_MS = 5_000;
/**
 * A probe's result serves every health request for this long, in every process: a health page polled by many
 * viewers costs Telegram one getMe per bot per 15 s, not one per request.
 */
export const PROBE_CACHE_MS = 15_000;

/** A getMe round trip with a 5 s limit: does Telegram answer this bot at all, and how fast. */
async function probe(token: string, apiRoot: string): Promise<BotHealth['probe']> {
  const started = performance.now();
  const checkedAt = new Date().toISOString();
  try {
    await callBotApi(apiRoot, token, 'getMe', {}, AbortSignal.timeout(PROBE_TIMEOUT_MS));
    return { ok: true, latencyMs: Math.round(performance.now() - started), checkedAt };
  } catch (err) {
    cleanError(err, token);
    const e = err as { name?: string };
    const error = isTelegramError(err)
      ? describeError(err)
      : e.name === 'AbortError' || e.name === 'TimeoutError'
        ? `no answer within ${PROBE_TIMEOUT_MS} ms`
        : `network error (${describeError(err)})`;
    return { ok: false, latencyMs: Math.round(performance.now() - started), error, checkedAt };
  }
}

/** Probes running in this process, so concurrent requests for one bot share one getMe. */
const probing = new Map<string, Promise<BotHealth['probe']>>();

const probeKey = (keys: Keyspace, botId: number) => keys.bot(botId, 'probe');

/** Drops the bot's cached probe (its token changed). */
export async function forgetProbe(deps: Pick<HealthDeps, 'redis' | 'keys'>, botId: number): Promise<void> {
  await deps.redis.del(probeKey(deps.keys, botId));
}

/** The bot's probe from the shared cache, or a new one (stored for PROBE_CACHE_MS). */
async function cachedProbe(deps: HealthDeps, botId: number, token: string): Promise<BotHealth['probe']> {
  const key = probeKey(deps.keys, botId);
  const hit = await deps.redis.get(key).catch(() => null);
  if (hit) return JSON.parse(hit) as BotHealth['probe'];
  let pending = probing.get(key);
  if (!pending) {
    pending = probe(token, deps.config.TELEGRAM_API_ROOT)
      .then(async (result) => {
        await deps.redis.set(key, JSON.stringify(result), 'PX', PROBE_CACHE_MS).catch(() => {});
        return result;
      })
      .finally(() => probing.delete(key));
    probing.set(key, pending);
  }
  return pending;
}

/**
 * One bot's health: heartbeat age, a live getMe probe, its breaker state, queue depth and lag, folded into
 * healthy / degraded / unresponsive / crashed (or stopped) with the reasons.
 */
export async function botHealth(
  deps: HealthDeps,
  botId: number,
  connection: Redis = deps.redis,
): Promise<BotHealth | null> {
  const bot = await deps.db.botInstance.findFirst({ where: { id: botId, deletedAt: null } });
  if (!bot) return null;
  const queue = openQueue(updatesQueue(botId), { connection, prefix: deps.config.REDIS_PREFIX });
  try {
    const key = deps.config.TOKEN_ENCRYPTION_KEY;
    const [[heartbeat], breaker, counters, counts, oldest, probed] = await Promise.all([
      lastBeats(deps.redis, deps.keys, [botId]),
      sharedBreakerState(deps.redis, deps.keys, botId),
      deps.redis.hgetall(botCountersKey(deps.keys, botId)),
      queue.getJobCounts('waiting', 'active', 'delayed', 'failed'),
      queue.getJobs(['wait'], 0, 0, true),
      key && bot.isActive
        ? cachedProbe(deps, botId, decryptSecret(bot.tokenEncrypted, key))
        : Promise.resolve({ ok: false, latencyMs: 0, error: 'not probed' }),
    ]);
    const now = Date.now();
    const heartbeatAgeMs = heartbeat ? now - heartbeat : null;
    const oldestJob = oldest[0];
    const lagMs = oldestJob
      ? now - ((oldestJob.data as { receivedAt?: number }).receivedAt ?? oldestJob.timestamp)
      : null;
    const reasons: string[] = [];
    let health: HealthState;
    if (bot.status === 'crashed') {
      health = 'crashed';
      reasons.push(bot.statusReason ?? 'crashed');
    } else if (!bot.isActive || bot.status === 'stopped') {
      health = 'stopped';
      reasons.push(bot.statusReason ?? 'stopped');
    } else {
      if (heartbeatAgeMs === null || heartbeatAgeMs > HEARTBEAT_STALE_MS)
        reasons.push(
          heartbeatAgeMs === null ? 'no poller heartbeat' : `last heartbeat ${Math.round(heartbeatAgeMs / 1000)} s ago`,
        );
      if (!probed.ok) reasons.push(`getMe failed: ${probed.error}`);
      const unresponsive = reasons.length > 0;
      if (breaker && breaker !== 'closed') reasons.push(`circuit breaker ${breaker}`);
      if (lagMs !== null && lagMs > LAG_DEGRADED_MS)
        reasons.push(`oldest waiting update is ${Math.round(lagMs / 1000)} s old`);
      if (bot.statusReason) reasons.push(bot.statusReason);
      health = unresponsive ? 'unresponsive' : reasons.length ? 'degraded' : 'healthy';
    }
    return {
      botId,
      username: bot.username,
      status: bot.status,
      statusReason: bot.statusReason,
      restartCount: bot.restartCount,
      startedAt: bot.startedAt,
      lastError: bot.lastError,
      health,
      reasons,
      heartbeatAgeMs,
      probe: probed,
      breaker: breaker ?? 'closed',
      queue: {
        waiting: counts.waiting ?? 0,
        active: counts.active ?? 0,
        delayed: counts.delayed ?? 0,
        failed: counts.failed ?? 0,
      },
      lagMs,
      counters: Object.fromEntries(Object.entries(counters).map(([k, v]) => [k, Number(v)])),
    };
  } finally {
    await queue.close();
  }
}
