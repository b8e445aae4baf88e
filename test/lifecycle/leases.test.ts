import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type PrismaClient } from '../../services/core/db';
import { keyspace } from '../../services/core/redis';
import { LEASE_CHECK_MS, LEASE_TTL_MS } from '../../services/poller';
import { SimClient, startSimulator, type RunningSimulator } from '../../sim';
import { useTestDatabase } from '../support/db';
import { spawnTs, waitFor, type Spawned } from '../support/process';
import { useTestRedis } from '../support/redis';
import { lifecycleConfig, queuedUpdateIds, registerSimBots, sleep } from './helpers';

const database = useTestDatabase();
const redis = useTestRedis();
let sim: RunningSimulator;
let db: PrismaClient;
const pollers: Spawned[] = [];

beforeAll(async () => {
  sim = await startSimulator({ port: 0 });
  db = createDatabase({ url: database.url, poolSize: 3 });
});
afterAll(async () => {
  for (const p of pollers) p.child.kill('SIGKILL');
  await Promise.all(pollers.map((p) => p.exited));
  await db?.$disconnect();
  await sim?.stop();
});

describe('poller leases across processes', () => {
  it(
    "a SIGKILLed poller's bots are taken over within the lease TTL plus one lease check, with no 409 and no update lost",
    { timeout: 90_000 },
    async () => {
      const client = new SimClient(sim.url);
      const config = lifecycleConfig({
        databaseUrl: database.url,
        redisUrl: redis.url,
        redisPrefix: redis.prefix,
        apiRoot: sim.apiRoot,
      });
      const keys = keyspace(redis.prefix);
      const bots = await registerSimBots(db, config, client, 6);
      const env = {
        ROLES: 'poller',
        DATABASE_URL: database.url,
        REDIS_URL: redis.url,
        REDIS_PREFIX: redis.prefix,
        TELEGRAM_API_ROOT: sim.apiRoot,
        TOKEN_ENCRYPTION_KEY: config.TOKEN_ENCRYPTION_KEY!.toString('hex'),
        METRICS_PORT: '0',
        LOG_LEVEL: 'warn',
      };
      for (let i = 0; i < 3; i++) pollers.push(spawnTs('services/main.ts', env));

      const owners = async () => Promise.all(bots.map((b) => redis.redis.get(keys.bot(b.instanceId, 'poller-lease'))));
      const pidOf = (owner: string | null) => (owner ? Number(owner.split('-')[0]) : null);
      // Balanced: every bot leased, each process polling its share (6 bots / 3 pollers = 2 each).
      await waitFor(
        async () => {
          const pids = (await owners()).map(pidOf);
          return (
            pids.every((p) => p !== null) && pollers.every((p) => pids.filter((x) => x === p.child.pid).length === 2)
          );
        },
        40_000,
        'every poller to hold 2 leases',
      );

      // Updates keep arriving for every bot while a poller dies.
      const user = await client.createUser({ firstName: 'Sender' });
      const sent = new Map(bots.map((b) => [b.id, 0]));
      let sending = true;
      const sender = (async () => {
        while (sending) {
          for (const bot of bots) {
            await client.sendPrivateMessage(bot.id, user.id, `hello ${sent.get(bot.id)}`);
            sent.set(bot.id, sent.get(bot.id)! + 1);
          }
          await sleep(100);
        }
      })();
      await sleep(1_500);

      const victim = pollers[0]!;
      const before = await owners();
      const victimBots = bots.filter((_, i) => pidOf(before[i]!) === victim.child.pid);
      expect(victimBots).toHaveLength(2);
      const killedAt = Date.now();
      victim.child.kill('SIGKILL');
      await victim.exited;
      const takeovers = await Promise.all(
        victimBots.map(async (bot) => {
          await waitFor(
            async () => {
              const owner = await redis.redis.get(keys.bot(bot.instanceId, 'poller-lease'));
              return owner !== null && pidOf(owner) !== victim.child.pid;
            },
            LEASE_TTL_MS + 10_000,
            `bot ${bot.instanceId} to be taken over`,
          );
          const takenAt = Date.now() - killedAt;
          // …and polled by its new owner: the updates sent meanwhile leave Telegram.
          await waitFor(
            async () => (await client.pendingUpdates(bot.id)).updates.length === 0,
            10_000,
            `bot ${bot.instanceId} to be polled again`,
          );
          return { takenAt, polledAt: Date.now() - killedAt };
        }),
      );
      console.log(
        `[leases] takeover after SIGKILL (lease TTL ${LEASE_TTL_MS} ms): ${takeovers.map((t) => `lease ${t.takenAt} ms, polling ${t.polledAt} ms`).join('; ')}`,
      );
      // The lease expires at most LEASE_TTL_MS after the holder's last renewal (before the kill); the others look
      // for free leases every LEASE_CHECK_MS, and the check's own Redis and PostgreSQL round trips plus this
      // test's 50 ms polling fit in 500 ms.
      for (const t of takeovers) expect(t.takenAt).toBeLessThanOrEqual(LEASE_TTL_MS + LEASE_CHECK_MS + 500);

      // A graceful stop hands its leases over at once.
      const leaving = pollers[1]!;
      const leavingBots = bots.filter((_, i) => pidOf(before[i]!) === leaving.child.pid);
      const termAt = Date.now();
      leaving.child.kill('SIGTERM');
      expect(await leaving.exited).toBe(0);
      await waitFor(
        async () => {
          const now = await owners();
          return leavingBots.every((b) => {
            const o = now[bots.indexOf(b)];
            return o && pidOf(o) === pollers[2]!.child.pid;
          });
        },
        10_000,
        'the survivor to take the gracefully released leases',
      );
      const handover = Date.now() - termAt;
      console.log(`[leases] graceful SIGTERM handover: ${handover} ms`);
      expect(handover).toBeLessThan(5_000);
      await sleep(1_000);

      sending = false;
      await sender;
      let requeued = 0;
      for (const bot of bots) {
        await waitFor(
          async () => (await client.pendingUpdates(bot.id)).updates.length === 0,
          10_000,
          `bot ${bot.instanceId} drained`,
        );
        // Every update queued, none lost. A page the killed poller queued but had not confirmed to Telegram is
        // read again by its successor, maybe cut differently: its updates may be queued twice, and are acted on
        // once (per-update done markers; test/chaos/poller-kill.test.ts counts the decisions).
        const ids = await queuedUpdateIds(config, bot.instanceId);
        const expected = Array.from({ length: sent.get(bot.id)! }, (_, i) => i + 1);
        expect(
          [...new Set(ids)].sort((a, b) => a - b),
          `bot ${bot.instanceId}`,
        ).toEqual(expected);
        requeued += ids.length - new Set(ids).size;
        const { counters } = await client.calls(bot.id);
        expect(counters.conflicts409, `409s for bot ${bot.instanceId}`).toBe(0);
      }
      console.log(
        `[leases] ${[...sent.values()].reduce((a, b) => a + b, 0)} updates over ${bots.length} bots, each queued; queued again after the kill: ${requeued}; 409s: 0`,
      );
    },
  );
});
