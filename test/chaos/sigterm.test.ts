import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db';
import { waitFor } from '../support/process';
import { useTestRedis } from '../support/redis';
import {
  chaosDeployment,
  drained,
  joinAll,
  makeJoiners,
  outcome,
  printOutcome,
  protectGroups,
  sleep,
  type ChaosDeployment,
} from './helpers';

const database = useTestDatabase();
const redis = useTestRedis();
let d: ChaosDeployment;
const DEADLINE_MS = 10_000;

beforeAll(async () => {
  d = await chaosDeployment({ databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix });
});
afterAll(() => d?.stop());

describe('chaos: SIGTERM during load', () => {
  it(
    'in-flight jobs finish or return to the queue, buffers flush, the process exits within its deadline',
    { timeout: 60_000 },
    async () => {
      const bot = await d.addBot();
      const first = d.spawn('poller,verifier', { SHUTDOWN_TIMEOUT_MS: String(DEADLINE_MS), LOG_LEVEL: 'info' });
      const scene = await protectGroups(d, bot, 8);
      const joiners = await makeJoiners(d, scene, 60, 0.75);
      const queue = d.queue(bot.instanceId);

      // Slow Telegram a little so that jobs are really in flight when the signal arrives.
      await d.client.addFaults(bot.id, [{ kind: 'latency', method: 'getChatMember', latencyMs: 100 }]);
      const load = joinAll(d, joiners, 16);
      await waitFor(
        async () => (await d.db.restriction.count({ where: { botInstanceId: bot.instanceId } })) >= 10,
        20_000,
        'some decisions',
      );
      await waitFor(async () => (await queue.getJobCounts('active')).active! >= 5, 15_000, 'jobs in flight');
      const activeAtSignal = (await queue.getJobCounts('active')).active!;
      const decidedAtSignal = await d.db.verificationLog.count({ where: { botInstanceId: bot.instanceId } });
      const termAt = Date.now();
      first.child.kill('SIGTERM');
      const code = await first.exited;
      const exitMs = Date.now() - termAt;
      const counts = await queue.getJobCounts('active', 'waiting', 'completed');
      // Everything the process decided is in the log once it has exited: decisions = log rows, no buffered rest.
      const decidedAtExit = await d.db.verificationLog.count({ where: { botInstanceId: bot.instanceId } });
      // Every mute made before the exit has its decision row: the jobs in flight finished, their rows flushed. (Its
      // prompt may still wait on the group's list for a send slot: the next process's sender names it.)
      const restrictionsAtExit = await d.db.restriction.count({ where: { botInstanceId: bot.instanceId } });
      const restrictedRowsAtExit = await d.db.verificationLog.count({
        where: { botInstanceId: bot.instanceId, status: 'restricted' },
      });
      const out = first.output();

      await load;
      await d.client.clearFaults(bot.id);
      // A new process finishes what was returned to the queue and what Telegram still holds.
      d.spawn('poller,verifier');
      await drained(d, bot, 30_000);
      await sleep(600);
      const result = await outcome(d, bot, joiners);
      printOutcome('sigterm', result, {
        deadlineMs: DEADLINE_MS,
        exitMs,
        exitCode: code,
        activeAtSignal,
        activeAfterExit: counts.active,
        waitingAfterExit: counts.waiting,
        decidedAtSignal,
        decidedAtExit,
        restrictionsAtExit,
        restrictedRowsAtExit,
      });
      expect(code).toBe(0);
      expect(exitMs).toBeLessThan(DEADLINE_MS);
      expect(out).toContain('shutdown complete');
      expect(out).not.toContain('log rows not written at shutdown');
      expect(out).not.toContain('shutdown deadline passed');
      expect(counts.active).toBe(0);
      expect(restrictedRowsAtExit).toBe(restrictionsAtExit);
      expect(result.problems).toEqual([]);
      expect(result.lost).toBe(0);
      expect(result.duplicates).toBe(0);
      expect(result.logRowsMissing).toBe(0);
    },
  );
});
