import type { Redis } from 'ioredis';

/**
 * Generic cell rate algorithm in one Redis key per bucket, shared by every process: returns 0 when a send
 * may go now (and takes the slot), else the milliseconds to wait. Uses Redis' clock, so processes on
 * machines with skewed clocks agree.
 *
 * Each sender told to wait is promised a slot of its own, one interval after the last one promised (KEYS[2]):
 * told the same wait, a wave of 60 prompts in a group (19 a minute go out) would come back all at once every
 * 3 s and all but one be sent away again, a herd that grows with the wave.
 */
const GCRA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat - interval * (burst - 1)
if allow_at > now then
  local slot = math.max(allow_at, tonumber(redis.call('GET', KEYS[2]) or 0) + interval)
  redis.call('SET', KEYS[2], slot, 'PX', math.ceil(slot - now) + 1000)
  return slot - now
end
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
  return Number(await redis.eval(GCRA, 2, key, `${key}:promised`, interval, rate.count));
}
