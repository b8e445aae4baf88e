import { describe, expect, it } from 'vitest';
import { clearance, intervalOf, refund, SEND_RATES, takeSlot, type Rate } from '../../services/core/telegram/pacing';
import { useTestRedis } from '../support/redis';

const { redis, prefix } = useTestRedis();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The most sends found in any window of `windowMs` (half-open), over sorted times. */
function busiestWindow(times: number[], windowMs: number): number {
  let most = 0;
  for (let first = 0, last = 0; last < times.length; last++) {
    while (times[last]! - times[first]! >= windowMs) first++;
    most = Math.max(most, last - first + 1);
  }
  return most;
}

/**
 * `senders` callers keep sending for `forMs`, each waiting the time it is told; returns when each send was
 * let through, by Redis' clock (the clock the limiter decides by).
 */
async function hammer(key: string, rate: Rate, senders: number, forMs: number): Promise<number[]> {
  const granted: number[] = [];
  const until = Date.now() + forMs;
  await Promise.all(
    Array.from({ length: senders }, async () => {
      while (Date.now() < until) {
        const { waitMs, at } = await clearance(redis, '', [{ key, rate }]);
        if (waitMs === 0) granted.push(at);
        else await sleep(waitMs);
      }
    }),
  );
  return granted.sort((a, b) => a - b);
}

describe('send pacing', () => {
  it('lets a burst through, then gives every waiting sender a slot of its own, one interval apart', async () => {
    const key = `${prefix}:pace:group`;
    const rate = { count: 5, periodMs: 3_000, burst: 3 }; // 3 at once, then one a second
    expect(intervalOf(rate)).toBe(1_000);
    const now = await Promise.all(Array.from({ length: 3 }, () => takeSlot(redis, key, rate)));
    expect(now).toEqual([0, 0, 0]);
    // Five senders told to wait: were they all told the same time, they would all come back at once.
    const waits = await Promise.all(Array.from({ length: 5 }, () => takeSlot(redis, key, rate)));
    const sorted = [...waits].sort((a, b) => a - b);
    expect(sorted[0]).toBeGreaterThan(900);
    expect(sorted[0]).toBeLessThanOrEqual(1_000);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]! - sorted[i - 1]!).toBeGreaterThanOrEqual(990);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]! - sorted[i - 1]!).toBeLessThanOrEqual(1_010);
  });

  it('a sender coming back at its slot gets it', async () => {
    const key = `${prefix}:pace:private`;
    const rate = { count: 1, periodMs: 300 };
    expect(await takeSlot(redis, key, rate)).toBe(0);
    const wait = await takeSlot(redis, key, rate);
    expect(wait).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, wait + 5));
    expect(await takeSlot(redis, key, rate)).toBe(0);
  });

  // Telegram: about 30 messages a second per bot, 20 a minute per group. A limiter that allowed its burst on
  // top of its rate (the old one: 25 at once plus 25 more in the same second) sent 49 in a second, and 37
  // in a minute to one group.
  it("never lets more than a bot's 25 through in any second, however many senders push", async () => {
    const times = await hammer(`${prefix}:pace:bot`, SEND_RATES.perBot, 40, 3_000);
    console.log(`[pacing] per bot: ${times.length} sends in 3 s, busiest second ${busiestWindow(times, 1_000)}`);
    expect(busiestWindow(times, 1_000)).toBeLessThanOrEqual(SEND_RATES.perBot.count);
    // …and it does not pace below its sustained rate (one every interval after the burst).
    expect(times.length).toBeGreaterThanOrEqual(
      SEND_RATES.perBot.burst + Math.floor(2_900 / intervalOf(SEND_RATES.perBot)),
    );
  });

  it("never lets more than a group's 19 through in any minute, all 19 at once if need be", async () => {
    // The production rate itself: its first minutes are decided at once, because every waiting sender is
    // promised its slot (19 now, the rest from the minute on, one every 60 s / 19).
    const key = `${prefix}:pace:minute`;
    const rate = SEND_RATES.perGroup;
    expect(rate.periodMs).toBe(60_000);
    const answers = await Promise.all(Array.from({ length: 60 }, () => clearance(redis, '', [{ key, rate }])));
    expect(answers.filter((a) => a.waitMs === 0)).toHaveLength(19);
    const schedule = answers.map((a) => a.at + a.waitMs).sort((a, b) => a - b);
    expect(schedule[19]! - schedule[0]!).toBeGreaterThanOrEqual(60_000);
    expect(busiestWindow(schedule, 60_000)).toBe(19);
    // What is enforced when senders come back (early or late) does not depend on the time scale: the group's
    // rate with its minute shortened to 1.2 s, pushed by 30 senders for three windows.
    const scaled = { ...rate, periodMs: 1_200 };
    const times = await hammer(`${prefix}:pace:scaled`, scaled, 30, 3_600);
    console.log(
      `[pacing] per group, minute scaled to 1.2 s: ${times.length} sends, busiest window ${busiestWindow(times, 1_200)}`,
    );
    expect(busiestWindow(times, 1_200)).toBeLessThanOrEqual(rate.count);
    expect(times.length).toBeGreaterThanOrEqual(3 * rate.count - 1);
  });

  it('gives back a slot taken for a call that did not leave', async () => {
    for (const rate of [
      { count: 2, periodMs: 10_000, burst: 2 },
      { count: 3, periodMs: 30_000 },
    ]) {
      const bucket = { key: `${prefix}:pace:refund:${rate.count}`, rate };
      const first = await clearance(redis, '', [bucket]);
      if (rate.count === 2) expect((await clearance(redis, '', [bucket])).waitMs).toBe(0);
      const refused = await clearance(redis, '', [bucket]);
      expect(refused.reason).toBe('pace');
      await redis.del(`${bucket.key}:promised`);
      await refund(redis, [bucket], first.slot!);
      expect(await clearance(redis, '', [bucket])).toMatchObject({ waitMs: 0, reason: 'ok' });
    }
  });

  it('a cooldown holds every call, paced or not, and takes no slot', async () => {
    const cooldown = `${prefix}:cooldown`;
    const key = `${prefix}:pace:held`;
    await redis.set(cooldown, '1', 'PX', 500);
    const held = await clearance(redis, cooldown, [{ key, rate: { count: 1, periodMs: 1_000 } }]);
    expect(held.reason).toBe('cooldown');
    expect(held.waitMs).toBeGreaterThan(400);
    expect(await redis.exists(key)).toBe(0);
  });
});
