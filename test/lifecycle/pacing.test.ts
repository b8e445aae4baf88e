import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chaosDeployment,
  drained,
  joinAll,
  outcome,
  printOutcome,
  protectGroups,
  type ChaosDeployment,
  type Joiner,
} from '../chaos/helpers';
import { useTestDatabase } from '../support/db';
import { useTestRedis } from '../support/redis';

const database = useTestDatabase();
const redis = useTestRedis();
let d: ChaosDeployment;

beforeAll(async () => {
  d = await chaosDeployment({ databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix });
});
afterAll(() => d?.stop());

/** The most times found in any window of `windowMs` (half-open), over sorted times. */
function busiestWindow(times: number[], windowMs: number): number {
  let most = 0;
  for (let first = 0, last = 0; last < times.length; last++) {
    while (times[last]! - times[first]! >= windowMs) first++;
    most = Math.max(most, last - first + 1);
  }
  return most;
}

/**
 * Telegram's group minute, shortened fivefold here and in the simulator alike so a wave of 30 runs in 20 s;
 * test/core/pacing.test.ts proves the same rate over the real minute. The per-bot limit (30 a second) is
 * Telegram's own. Sends are paced when they leave and counted when they arrive: the budgets (19 per group
 * window, then one every 12 s / 19 = 632 ms here; 25 a second per bot) leave room for arrivals that bunch up
 * by less than one such interval (632 ms) and 5 bot intervals (240 ms).
 */
const GROUP_WINDOW_MS = 12_000;
const WAVE = 30;

describe('send pacing across two verifier processes', () => {
  it(
    'a wave of prompts in one group stays under 20 per group window and the bot under 30 a second, with no 429',
    { timeout: 120_000 },
    async () => {
      const bot = await d.addBot();
      const env = { PACE_GROUP_WINDOW_MS: String(GROUP_WINDOW_MS) };
      d.spawn('poller', env);
      d.spawn('verifier', env);
      d.spawn('verifier', env);
      const scene = await protectGroups(d, bot, 11, 60_000).catch((err: Error) => {
        throw new Error(`${err.message}\n${d.outputTails()}`);
      });
      // Telegram's limits, enforced by the simulator: over them it answers 429.
      const limits = await d.client.setLimits(bot.id, { enabled: true, groupWindowMs: GROUP_WINDOW_MS });
      expect(limits).toMatchObject({ perBotPerSecond: 30, perGroupPerMinute: 20 });

      // A wave of 30 non-subscribers in one group, and 5 in each of ten others: 80 prompts wanted at once.
      const [waveGroup, ...others] = scene.groups;
      const joiners: Joiner[] = [];
      for (const [group, count] of [[waveGroup!, WAVE] as const, ...others.map((g) => [g, 5] as const)]) {
        const { ids } = await d.client.createUsers(count, 'Wave');
        for (const userId of ids) joiners.push({ groupId: group.id, userId, subscribed: false });
      }
      await d.client.clearCalls(bot.id);
      await joinAll(d, joiners, 16);
      // 19 prompts at once, the 20th when the first is 12 s old, then one every 632 ms: the wave's last goes out
      // about 18 s after the first.
      await drained(d, bot, 60_000);

      const result = await outcome(d, bot, joiners);
      const { calls, counters } = await d.client.calls(bot.id);
      const sends = calls
        .filter((c) => c.method === 'sendMessage' && c.outcome === 'ok')
        .map((c) => c.at)
        .sort((a, b) => a - b);
      const waveSends = calls
        .filter((c) => c.method === 'sendMessage' && c.outcome === 'ok' && c.params.chat_id === waveGroup!.id)
        .map((c) => c.at)
        .sort((a, b) => a - b);
      const firstMute = new Map<number, number>();
      for (const c of calls)
        if (c.method === 'restrictChatMember' && c.outcome === 'ok' && !firstMute.has(Number(c.params.user_id)))
          firstMute.set(Number(c.params.user_id), c.at);
      const lastMute = Math.max(...firstMute.values());
      const figures = {
        sends: sends.length,
        busiestGroupWindow: busiestWindow(waveSends, GROUP_WINDOW_MS),
        busiestBotSecond: busiestWindow(sends, 1_000),
        waveSpreadMs: Math.round(waveSends.at(-1)! - waveSends[0]!),
        lastMuteBeforeLastWavePromptMs: Math.round(waveSends.at(-1)! - lastMute),
        tooManyRequests429: counters.tooManyRequests429,
      };
      printOutcome('pacing', result, figures);
      expect(counters.tooManyRequests429).toBe(0);
      expect(figures.busiestGroupWindow).toBeLessThanOrEqual(20);
      expect(figures.busiestBotSecond).toBeLessThanOrEqual(30);
      // The wave's users share prompts (prompt-waves.ts): fewer messages than joiners, each named once (result).
      expect(waveSends.length).toBeLessThan(WAVE);
      expect(result.problems).toEqual([]);
      expect(result.lost).toBe(0);
    },
  );
});
