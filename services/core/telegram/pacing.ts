import type { Redis } from 'ioredis';

export interface Rate {
  /** At most this many sends in any window of `periodMs`… */
  count: number;
  periodMs: number;
  /** …of which up to this many may go at once (default 1: evenly spaced). */
  burst?: number;
}

/**
 * The generic cell rate algorithm lets at most `burst + ⌈T / interval⌉ − 1` sends through in any window of
 * length T. With interval = periodMs / (count − burst + 1) that is at most `count` in any window of
 * `periodMs`: a burst, then one send per interval.
 */
export const intervalOf = (rate: Rate): number => rate.periodMs / (rate.count - (rate.burst ?? 1) + 1);

/**
 * Telegram's documented limits, kept below so a little delivery jitter cannot add up to one: about 30
 * messages a second per bot, 20 a minute per group, 1 a second per private chat
 * (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this).
 * Per bot: at most 25 in any second (5 at once, then one every 48 ms, 21/s sustained), 5 sends short of
 * Telegram's 30 for jitter. Per group: at most 19 in any minute (5 at once, then one every 4 s).
 * `groupWindowMs` is the minute itself; only tests shorten it (test/core/pacing.test.ts proves the minute).
 */
export function sendRates(groupWindowMs = 60_000) {
  return {
    perBot: { count: 25, periodMs: 1_000, burst: 5 },
    perGroup: { count: 19, periodMs: groupWindowMs, burst: 5 },
    perPrivateChat: { count: 1, periodMs: 1_000 },
  } satisfies Record<string, Rate>;
}
export type SendRates = ReturnType<typeof sendRates>;
export const SEND_RATES: SendRates = sendRates();

/**
 * One round trip decides whether a call may leave now, for every process alike (Redis' clock and state):
 * KEYS[1] is the bot's 429 cooldown ('' for none), then a (bucket, promised) pair per send bucket; ARGV an (interval,
 * burst) pair per bucket. Returns { ms to wait, why, Redis' time } — 0 'ok' took a slot in every bucket.
 *
 * While a cooldown runs nothing is taken. A sender told to wait by a bucket is promised a slot of its own,
 * one interval after the last one promised: told the same wait, a wave of 60 prompts in a group would come
 * back all at once and all but one be sent away again, a herd that grows with the wave.
 */
const GATE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if KEYS[1] ~= '' then
  local cooldown = redis.call('PTTL', KEYS[1])
  if cooldown > 0 then return {cooldown, 'cooldown', now} end
end
local buckets = (#KEYS - 1) / 2
local tats = {}
local wait_until, binding = now, 0
for i = 1, buckets do
  local interval, burst = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', KEYS[2 * i]) or now)
  if tat < now then tat = now end
  tats[i] = tat
  local allow_at = tat - interval * (burst - 1)
  if allow_at > wait_until then wait_until, binding = allow_at, i end
end
if binding > 0 then
  local interval = tonumber(ARGV[2 * binding - 1])
  local promised = KEYS[2 * binding + 1]
  local slot = math.max(wait_until, tonumber(redis.call('GET', promised) or 0) + interval)
  redis.call('SET', promised, slot, 'PX', math.ceil(slot - now) + 1000)
  return {math.ceil(slot - now), 'pace', now}
end
for i = 1, buckets do
  local tat = tats[i] + tonumber(ARGV[2 * i - 1])
  redis.call('SET', KEYS[2 * i], tat, 'PX', math.ceil(tat - now) + 1000)
end
return {0, 'ok', now}
`;

export interface Bucket {
  key: string;
  rate: Rate;
}

/** `at`: Redis' clock (ms) when it was decided. */
export type Clearance = { waitMs: number; reason: 'ok' | 'cooldown' | 'pace'; at: number };

/** Whether a call may leave now (taking a slot in every bucket), else how long to wait and why. */
export async function clearance(redis: Redis, cooldownKey: string, buckets: Bucket[]): Promise<Clearance> {
  const keys = [cooldownKey, ...buckets.flatMap((b) => [b.key, `${b.key}:promised`])];
  const args = buckets.flatMap((b) => [intervalOf(b.rate), b.rate.burst ?? 1]);
  const [waitMs, reason, at] = (await redis.eval(GATE, keys.length, ...keys, ...args)) as [number, Clearance['reason'], number];
  return { waitMs: Number(waitMs), reason, at: Number(at) };
}

/** One bucket with no cooldown: 0 when a call may go now (and takes the slot), else the ms to wait. */
export async function takeSlot(redis: Redis, key: string, rate: Rate): Promise<number> {
  return (await clearance(redis, '', [{ key, rate }])).waitMs;
}
