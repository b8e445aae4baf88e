import type { Redis } from 'ioredis';
import type { Keyspace } from '../services/core/redis';

/**
 * Redis state that more than one role reads or writes. A key only one role uses is that role's own business
 * and stays in its code; the Telegram client's shared state (breaker, cooldowns, pacing) is core's.
 */

/** How long a poller's heartbeat outlives its last beat (it beats every few seconds). */
const HEARTBEAT_TTL_MS = 120_000;

/** A poller beats every few seconds; a minute of silence means nobody polls the bot. */
export const HEARTBEAT_STALE_MS = 60_000;

/** The poller's sign of life per bot, ms since epoch: written by the poller, read by health checks and metrics. */
export const heartbeatKey = (keys: Keyspace, botId: number) => keys.bot(botId, 'heartbeat');

export async function beat(redis: Redis, keys: Keyspace, botId: number, now = Date.now()): Promise<void> {
  await redis.set(heartbeatKey(keys, botId), now, 'PX', HEARTBEAT_TTL_MS);
}

/** Each bot's last heartbeat (ms since epoch), or null when it has none. */
export async function lastBeats(redis: Redis, keys: Keyspace, botIds: number[]): Promise<Array<number | null>> {
  if (!botIds.length) return [];
  const beats = await redis.mget(...botIds.map((id) => heartbeatKey(keys, id)));
  return beats.map((b) => (b ? Number(b) : null));
}

/** Counters a poller keeps per bot (`updates_polled`, `errors`), a hash shown by the bot's health. */
export const botCountersKey = (keys: Keyspace, botId: number) => keys.bot(botId, 'counters');

export async function countForBot(
  redis: Redis,
  keys: Keyspace,
  botId: number,
  counter: 'updates_polled' | 'errors',
  by = 1,
): Promise<void> {
  await redis.hincrby(botCountersKey(keys, botId), counter, by);
}

/** The dashboard snapshot (dashboard.ts): written by maintenance after every rollup, read by the API. */
export const dashboardKey = (keys: Keyspace) => keys.key('dashboard');
