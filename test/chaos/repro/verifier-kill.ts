/**
 * Chaos case 1 of issue 9 (SIGKILL a verifier in the middle of 5,000 updates) — NOT part of the suite: it
 * fails on two production bugs in services/verifier (reported in issue 9, left out until they are fixed):
 *  1. verifyJoin (services/verifier/joins.ts) claims the join with SET NX on `bot:<id>:join:<chat>:<user>:<date>`
 *     (120 s) and releases it only in its catch; a process killed between that SET and the decision leaves
 *     the key, so the stalled job's retry (and the join's other signal) return at once: the user is never
 *     muted/prompted, or muted with no prompt. Measured with 1,000 updates: 11 non-subscribers undecided,
 *     3 muted without a prompt.
 *  2. The BullMQ Worker (services/verifier/index.ts) keeps the default lockDuration/stalledInterval (30 s): a
 *     killed verifier's in-flight jobs come back 30–60 s after the kill (measured 59–89 s to drain).
 *  Also: decision rows wait in the process' BatchWriter (≤ 250 ms) and die with it (46 of 500 missing).
 * Run it once fixed: cp test/chaos/repro/verifier-kill.ts test/chaos/verifier-kill.test.ts and fix the imports.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../../support/db';
import { useTestRedis } from '../../support/redis';
import { chaosDeployment, drained, joinAll, makeJoiners, outcome, printOutcome, protectGroups, sleep, type ChaosDeployment } from '../helpers';

const database = useTestDatabase();
const redis = useTestRedis();
let d: ChaosDeployment;

/** 2 updates per join (chat_member + new_chat_members). CHAOS_UPDATES overrides the load (issue figure: 5,000). */
const UPDATES = Number(process.env.CHAOS_UPDATES ?? 5_000);
/** Prompts are paced at 20/min per group and ~30/s per bot (as Telegram requires): 10 % non-subscribers over 20 groups. */
const GROUPS = 20;

beforeAll(async () => {
  d = await chaosDeployment({ databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix });
});
afterAll(() => d?.stop());

describe('chaos: a verifier process SIGKILLed in the middle of the load', () => {
  it('every update is decided exactly once: each non-subscriber muted once and prompted once, nobody undecided', { timeout: 130_000 }, async () => {
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
    // A dead worker's jobs are "stalled": BullMQ hands them back once their lock (30 s) expired and a live
    // worker's stalled check (every 30 s) sees them, so this waits up to a minute after the kill.
    await drained(d, bot, 95_000).catch((e) => { console.log('SURVIVOR', survivor.child.exitCode, survivor.output().slice(-4000), 'POLLER', poller.output().slice(-2000)); throw e; });
    await sleep(600); // the last decision rows are written in batches every 250 ms
    const drainedMs = Date.now() - started;

    // Known gap (see the report of issue 9): decision rows wait up to 250 ms in the killed process' memory and
    // die with it; what users see (mutes, prompts, restrictions) is asserted exactly, missing rows are printed.
    const result = await outcome(d, bot, joiners, joiners.length * 2, { logRowsMayBeLost: true });
    const { counters } = await d.client.calls(bot.id);
    printOutcome('verifier-kill', result, { killedAfterJoins, joinedMs, drainedMs, recoveredAfterKillMs: Date.now() - killedAt, conflicts409: counters.conflicts409 });
    expect(result.problems).toEqual([]);
    expect(result.lost).toBe(0);
    expect(result.duplicates).toBe(0);
    expect(counters.conflicts409).toBe(0);
    expect(poller.child.exitCode).toBeNull();
    expect(survivor.child.exitCode).toBeNull();
  });
});
