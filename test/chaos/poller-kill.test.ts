import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyspace } from '../../services/core/redis';
import { LEASE_CHECK_MS, LEASE_TTL_MS } from '../../services/poller';
import { useTestDatabase } from '../support/db';
import { waitFor } from '../support/process';
import { useTestRedis } from '../support/redis';
import {
  chaosDeployment,
  drained,
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

beforeAll(async () => {
  d = await chaosDeployment({ databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix });
});
afterAll(() => d?.stop());

/**
 * A SIGKILLed holder's lease expires at most LEASE_TTL_MS after its last renewal (before the kill); the other
 * pollers look for free leases every LEASE_CHECK_MS. The check then takes a few Redis round trips and two
 * PostgreSQL queries before it holds the lease, and this test looks every 50 ms: 500 ms covers both.
 */
const CHECK_WORK_MS = 500;

// The test's timeout (90 s) covers its own waits: the processes starting and protecting the groups (up to 30 s
// on a loaded machine), 2 s of joins, the takeover (up to 16.5 s), the backlog and the drain (up to 30 s).
// test/lifecycle/leases.test.ts proves the lease hand-over with 3 pollers and private messages; this is the
// user-facing version: joins keep arriving while the polling process dies, and every one is decided once.
describe('chaos: the poller holding a bot is SIGKILLed', () => {
  it(
    'another poller takes over within the lease TTL plus one lease check, with zero 409s and no update lost',
    { timeout: 90_000 },
    async () => {
      const bot = await d.addBot();
      const keys = keyspace(redis.prefix);
      d.spawn('verifier');
      const pollers = [d.spawn('poller'), d.spawn('poller')];
      const scene = await protectGroups(d, bot, 6);
      const joiners = await makeJoiners(d, scene, 50, 0.7);
      const owner = async () => (await redis.redis.get(keys.bot(bot.instanceId, 'poller-lease')))?.split('-')[0];
      const holderPid = Number(await waitFor(owner, 20_000, 'the lease to be taken'));
      const holder = pollers.find((p) => p.child.pid === holderPid)!;
      const other = pollers.find((p) => p !== holder)!;

      // A steady stream of joins (about 40/s) before, during and after the kill.
      let next = 0;
      const stream = (async () => {
        while (next < joiners.length) {
          const j = joiners[next++]!;
          await d.client.join(j.groupId, j.userId);
          await sleep(25);
        }
      })();
      await sleep(2_000);
      const killedAt = Date.now();
      const joinedBeforeKill = next;
      holder.child.kill('SIGKILL');
      await holder.exited;
      await waitFor(
        async () => Number(await owner()) === other.child.pid,
        LEASE_TTL_MS + LEASE_CHECK_MS + 5_000,
        'the other poller to take the lease',
      );
      const leaseTakenMs = Date.now() - killedAt;
      await waitFor(
        async () => (await d.client.pendingUpdates(bot.id)).updates.length === 0,
        10_000,
        'the backlog to be polled',
      );
      const pollingAgainMs = Date.now() - killedAt;
      await stream;
      await drained(d, bot, 20_000);
      await sleep(600);

      const result = await outcome(d, bot, joiners);
      const { counters } = await d.client.calls(bot.id);
      printOutcome('poller-kill', result, {
        joinedBeforeKill,
        leaseTtlMs: LEASE_TTL_MS,
        takeoverMs: leaseTakenMs,
        pollingAgainMs,
        conflicts409: counters.conflicts409,
      });
      expect(leaseTakenMs).toBeLessThanOrEqual(LEASE_TTL_MS + LEASE_CHECK_MS + CHECK_WORK_MS);
      expect(counters.conflicts409).toBe(0);
      expect(result.problems).toEqual([]);
      expect(result.lost).toBe(0);
      expect(result.duplicates).toBe(0);
    },
  );
});
