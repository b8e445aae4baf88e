import type { Redis } from 'ioredis';

/** At most `count` sends in any window of `periodMs`, up to `burst` of them at once (default 1). */
export interface Rate {
  count: number;
  periodMs: number;
  burst?: number;
}

/**
 * How a bucket keeps its rate:
 * - `burst` = `count`: a log of the sends of the last `periodMs` (a sorted set in Redis), as Telegram counts
 *   them: all `count` may go at once, the next when the oldest leaves the window.
 * - `burst` < `count`: the generic cell rate algorithm, which lets at most `burst + ⌈T / interval⌉ − 1` sends
 *   through in any window of length T; with interval = periodMs / (count − burst + 1) that is at most `count`
 *   in any window of `periodMs`: a burst, then one send per interval. Smooth, so arrivals that bunch up a
 *   little on the way cannot add up to a second burst.
 */
export const usesLog = (rate: Rate): boolean => (rate.burst ?? 1) >= rate.count;

/** The spacing of a steady stream at this rate; waiting senders are promised slots this far apart. */
export const intervalOf = (rate: Rate): number =>
  usesLog(rate) ? rate.periodMs / rate.count : rate.periodMs / (rate.count - (rate.burst ?? 1) + 1);

/**
 * Telegram's documented limits, kept below: about 30 messages a second per bot, 20 a minute per group, 1 a
 * second per private chat (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this).
 * Per bot: at most 25 in any second (5 at once, then one every 48 ms: 21 a second sustained), 5 short of 30
 * so arrivals bunched up by up to 240 ms still stay under it. Per group: at most 19 in any minute, all at
 * once if need be (a wave of joiners), the 20th when the first is a minute old.
 * `groupWindowMs` is the minute itself; only tests shorten it (test/core/pacing.test.ts proves the minute).
 */
export function sendRates(groupWindowMs = 60_000) {
  return {
    perBot: { count: 25, periodMs: 1_000, burst: 5 },
    perGroup: { count: 19, periodMs: groupWindowMs, burst: 19 },
    perPrivateChat: { count: 1, periodMs: 1_000 },
  } satisfies Record<string, Rate>;
}
export type SendRates = ReturnType<typeof sendRates>;
export const SEND_RATES: SendRates = sendRates();

/**
 * One round trip decides whether a call may leave now, for every process alike (Redis' clock and state).
 * KEYS[1] is the bot's 429 cooldown ('' for none), then a (bucket, promised) pair per send bucket; ARGV a
 * (period, count, burst) triple per bucket. Returns { ms to wait, why, Redis' time, slot }: 0 'ok' took a
 * slot in every bucket (`slot` names it, for refund()).
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
local wait_until, binding, binding_interval = now, 0, 0
for i = 1, buckets do
  local key = KEYS[2 * i]
  local period, count, burst = tonumber(ARGV[3 * i - 2]), tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i])
  local allow_at, interval
  if burst >= count then
    interval = period / count
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - period)
    local sent = redis.call('ZCARD', key)
    allow_at = now
    if sent >= count then allow_at = tonumber(redis.call('ZRANGE', key, sent - count, sent - count, 'WITHSCORES')[2]) + period end
  else
    interval = period / (count - burst + 1)
    local tat = tonumber(redis.call('GET', key) or now)
    if tat < now then tat = now end
    tats[i] = tat
    allow_at = tat - interval * (burst - 1)
  end
  if allow_at > wait_until then wait_until, binding, binding_interval = allow_at, i, interval end
end
if binding > 0 then
  local promised = KEYS[2 * binding + 1]
  local slot = math.max(wait_until, tonumber(redis.call('GET', promised) or 0) + binding_interval)
  redis.call('SET', promised, slot, 'PX', math.ceil(slot - now) + 1000)
  return {math.ceil(slot - now), 'pace', now}
end
local taken = t[1] .. string.format('%06d', tonumber(t[2]))
for i = 1, buckets do
  local key = KEYS[2 * i]
  local period, count, burst = tonumber(ARGV[3 * i - 2]), tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i])
  if burst >= count then
    redis.call('ZADD', key, now, taken)
    redis.call('PEXPIRE', key, period + 1000)
  else
    local tat = tats[i] + period / (count - burst + 1)
    redis.call('SET', key, tat, 'PX', math.ceil(tat - now) + 1000)
  end
end
return {0, 'ok', now, taken}
`;

/** Gives back a slot taken by the gate for a call that did not leave after all (KEYS: buckets; ARGV: slot, then intervals). */
const REFUND = `
for i = 1, #KEYS do
  local interval = tonumber(ARGV[i + 1])
  if interval < 0 then
    redis.call('ZREM', KEYS[i], ARGV[1])
  else
    local tat = tonumber(redis.call('GET', KEYS[i]) or 0)
    if tat > 0 then redis.call('SET', KEYS[i], tat - interval, 'KEEPTTL') end
  end
end
return 1
`;

export interface Bucket {
  key: string;
  rate: Rate;
}

// A log is a sorted set, the cell rate algorithm's state a string: never the same key.
const stateKey = (b: Bucket) => (usesLog(b.rate) ? `${b.key}:log` : b.key);

/** `at`: Redis' clock (ms) when it was decided; `slot`: the slot taken, when one was. */
export type Clearance = { waitMs: number; reason: 'ok' | 'cooldown' | 'pace'; at: number; slot?: string };

/** Whether a call may leave now (then it has taken a slot in every bucket), else how long to wait and why. */
export async function clearance(redis: Redis, cooldownKey: string, buckets: Bucket[]): Promise<Clearance> {
  const keys = [cooldownKey, ...buckets.flatMap((b) => [stateKey(b), `${b.key}:promised`])];
  const args = buckets.flatMap((b) => [b.rate.periodMs, b.rate.count, b.rate.burst ?? 1]);
  const [waitMs, reason, at, slot] = (await redis.eval(GATE, keys.length, ...keys, ...args)) as [
    number,
    Clearance['reason'],
    number,
    string | undefined,
  ];
  return { waitMs: Number(waitMs), reason, at: Number(at), ...(slot ? { slot } : {}) };
}

/** Gives back the slot `clearance` took, for a call that did not leave after all. */
export async function refund(redis: Redis, buckets: Bucket[], slot: string): Promise<void> {
  await redis.eval(
    REFUND,
    buckets.length,
    ...buckets.map(stateKey),
    slot,
    ...buckets.map((b) => (usesLog(b.rate) ? -1 : intervalOf(b.rate))),
  );
}

/** One bucket with no cooldown: 0 when a call may go now (and takes the slot), else the ms to wait. */
export async function takeSlot(redis: Redis, key: string, rate: Rate): Promise<number> {
  return (await clearance(redis, '', [{ key, rate }])).waitMs;
}
