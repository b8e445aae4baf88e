/**
 * Chaos case 1 of issue 9: SIGKILL a verifier in the middle of 5,000 updates. Afterwards every update is
 * decided exactly once — each non-subscribed joiner muted once and prompted once, nobody undecided, every
 * decision recorded. (It once failed on three verifier bugs, fixed since: a join claim that outlived the
 * killed process, decision rows buffered in its memory, and BullMQ's default 30 s lock.)
 */
import { describe, expect, it } from 'vitest';
import { drained, joinAll, makeJoiners, outcome, printOutcome, protectGroups, useChaosDeployment } from './helpers';

const d = useChaosDeployment();

/** 2 updates per join (chat_member + new_chat_members). CHAOS_UPDATES overrides the load (issue figure: 5,000). */
const UPDATES = Number(process.env.CHAOS_UPDATES ?? 5_000);
/** Prompts are paced at 20/min per group and ~30/s per bot (as Telegram requires): 10 % non-subscribers over 20 groups. */
const GROUPS = 20;

describe('chaos: a verifier process SIGKILLed in the middle of the load', () => {
  it(
    'every update is decided exactly once: each non-subscriber muted once and prompted once, nobody undecided',
    { timeout: 90_000 },
    async () => {
      const bot = await d.addBot();
      const poller = d.spawn('poller');
      const victim = d.spawn('verifier');
      const survivor = d.spawn('verifier', { LOG_LEVEL: process.env.CHAOS_LOG ?? 'warn' });
      const scene = await protectGroups(d, bot, GROUPS);
      const joiners = await makeJoiners(d, scene, Math.round(UPDATES / 2 / GROUPS), 0.9);

      const started = Date.now();
      let killedAt = 0;
      let killedAfterJoins = 0;
      await joinAll(d, joiners, 16, (done) => {
        if (!killedAt && done >= joiners.length / 3) {
          killedAt = Date.now();
          killedAfterJoins = done;
          victim.child.kill('SIGKILL');
        }
      });
      const joinedMs = Date.now() - started;
      expect(await victim.exited).toBe('SIGKILL');
      // A dead worker's jobs are "stalled": their lock (10 s) expires and a live worker's stalled check
      // (every 5 s) hands them back, so they run again about 10–15 s after the kill.
      await drained(d, bot, 60_000);
      const drainedMs = Date.now() - started;

      // A job completes only once its decision row is written, so no row may be missing.
      const result = await outcome(d, bot, joiners, joiners.length * 2, { promptsMayRepeat: true });
      const { counters } = await d.client.calls(bot.id);
      printOutcome('verifier-kill', result, {
        killedAfterJoins,
        joinedMs,
        drainedMs,
        recoveredAfterKillMs: Date.now() - killedAt,
        conflicts409: counters.conflicts409,
      });
      expect(result.problems).toEqual([]);
      // Only prompts in flight at the kill can go twice: at most one per group (each group has one prompt sender).
      expect(result.promptedTwice).toBeLessThanOrEqual(GROUPS);
      expect(result.lost).toBe(0);
      expect(result.duplicates).toBe(0);
      expect(counters.conflicts409).toBe(0);
      expect(poller.child.exitCode).toBeNull();
      expect(survivor.child.exitCode).toBeNull();
    },
  );
});
