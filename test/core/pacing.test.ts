import { describe, expect, it } from 'vitest';
import { takeSlot } from '../../services/core/telegram/pacing';
import { useTestRedis } from '../support/redis';

const { redis, prefix } = useTestRedis();

describe('send pacing', () => {
  it('lets a burst through, then gives every waiting sender a slot of its own, one interval apart', async () => {
    const key = `${prefix}:pace:group`;
    const rate = { count: 3, periodMs: 3_000 }; // 3 at once, then one a second
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
});
