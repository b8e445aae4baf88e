import type { Redis } from 'ioredis';

/**
 * Generic cell rate algorithm in one Redis key per bucket, shared by every process: returns 0 when a send
 * may go now (and takes the slot), else the milliseconds to wait. Uses Redis' clock, so processes on
 * machines with skewed clocks agree.
 */
const GCRA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat - interval * (burst - 1)
if allow_at > now then return allow_at - now end
redis.call('SET', KEYS[1], tat + interval, 'PX', math.ceil(tat + interval - now) + 1000)
return 0
`;

export interface Rate {
  /** Sends allowed per `periodMs`. */
  count: number;
  periodMs: number;
}

/** Telegram's documented limits, kept a little below: ~30 messages/s per bot, 20/min per group, 1/s per private chat. */
export const SEND_RATES = {
  perBot: { count: 25, periodMs: 1_000 },
  perGroup: { count: 19, periodMs: 60_000 },
  perPrivateChat: { count: 1, periodMs: 1_000 },
} satisfies Record<string, Rate>;

export async function takeSlot(redis: Redis, key: string, rate: Rate): Promise<number> {
  const interval = rate.periodMs / rate.count;
  return Number(await redis.eval(GCRA, 1, key, interval, rate.count));
}
