import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../services/core/config';
import { createContext, type AppContext } from '../../services/core/context';
import { heartbeatKey, publishControl } from '../../queues';
import { createDatabase, type PrismaClient } from '../../services/core/db';
import { logger } from '../../services/core/logger';
import { createRedis } from '../../services/core/redis';
import { startPoller } from '../../services/poller';
import { startVerifier } from '../../services/verifier';
import { SimClient, startSimulator, type RunningSimulator } from '../../sim';
import { useTestDatabase } from '../support/db';
import { waitFor } from '../support/process';
import { startRedisServer } from '../support/redis-server';
import { lifecycleConfig, registerSimBots, sleep } from './helpers';

const BOTS = 100;
const database = useTestDatabase();
let sim: RunningSimulator;
let db: PrismaClient;
let redisServer: Awaited<ReturnType<typeof startRedisServer>>;
const contexts: AppContext[] = [];

beforeAll(async () => {
  // A Redis of this test's own: CLIENT LIST then shows only the connections of the roles started here.
  redisServer = await startRedisServer();
  sim = await startSimulator({ port: 0 });
  db = createDatabase({ url: database.url, poolSize: 3 });
});
afterAll(async () => {
  for (const ctx of contexts.reverse()) await ctx.lifecycle.shutdown('test done', 15_000);
  await db?.$disconnect();
  await sim?.stop();
  await redisServer?.stop();
});

describe('100 bots in one deployment', () => {
  it(
    'starts and stops 100 bots; memory per bot and Redis connections per verifier measured',
    { timeout: 120_000 },
    async () => {
      const client = new SimClient(sim.url);
      const config = lifecycleConfig({
        databaseUrl: database.url,
        redisUrl: redisServer.url,
        redisPrefix: 'scale',
        apiRoot: sim.apiRoot,
        env: { LOG_LEVEL: 'error', DB_POOL_SIZE: '5' },
      });
      const probe = createRedis(redisServer.url, 'default', { connectionName: 'test-probe' });
      const nezukoClients = async () => {
        const list = (await probe.client('LIST')) as string;
        // Our own connections are named nezuko-<purpose>; BullMQ renames each worker's blocking connection
        // to <prefix>:<base64 of the queue name>. This Redis serves only this test, so count all but the probe.
        return list.split('\n').filter((l) => / name=/.test(l) && !/ name=test-probe/.test(l)).length;
      };
      const stableCount = async (min: number) => {
        let last = -1;
        let since = 0;
        return (await waitFor(
          async () => {
            const n = await nezukoClients();
            if (n !== last || n < min) {
              last = n;
              since = Date.now();
              return undefined;
            }
            return Date.now() - since >= 1_000 ? n : undefined;
          },
          30_000,
          `at least ${min} stable connections`,
        ).catch(async (err) => {
          const names = ((await probe.client('LIST')) as string).split('\n').map((l) => / name=(\S*)/.exec(l)?.[1]);
          const histogram: Record<string, number> = {};
          for (const n of names) histogram[String(n)] = (histogram[String(n)] ?? 0) + 1;
          throw new Error(`${String(err)}; clients by name: ${JSON.stringify(histogram)}`);
        }))!;
      };
      const bots = await registerSimBots(db, config, client, BOTS);
      global.gc?.();
      const rssBefore = process.memoryUsage().rss;
      const started = Date.now();

      // Two verifier processes' worth of roles, each with half the bots (VERIFIER_SHARD=k/2), then the poller.
      const shardCounts: number[] = [];
      for (const shard of ['0/2', '1/2']) {
        const before = await nezukoClients();
        const ctx = await createContext(loadConfig({ ...envOf(config), VERIFIER_SHARD: shard }), logger);
        contexts.push(ctx);
        await startVerifier(ctx);
        shardCounts.push((await stableCount(before + BOTS / 2)) - before);
      }
      const beforePoller = await nezukoClients();
      const pollerCtx = await createContext(loadConfig(envOf(config)), logger);
      contexts.push(pollerCtx);
      await startPoller(pollerCtx);
      await waitFor(
        async () => {
          const beats = await probe.mget(bots.map((b) => heartbeatKey(pollerCtx.keys, b.instanceId)));
          return beats.every((b) => b !== null);
        },
        60_000,
        `heartbeats of all ${BOTS} bots`,
      );
      const allUpMs = Date.now() - started;
      const pollerConnections = (await stableCount(beforePoller)) - beforePoller;
      const running = await db.botInstance.count({ where: { status: 'running' } });
      expect(running).toBe(BOTS);
      // Every bot is really polled: one update each leaves Telegram.
      const user = await client.createUser();
      await Promise.all(bots.map((b) => client.sendPrivateMessage(b.id, user.id, 'hi')));
      await waitFor(
        async () =>
          (await Promise.all(bots.map((b) => client.pendingUpdates(b.id)))).every((p) => p.updates.length === 0),
        20_000,
        'every bot to be polled',
      );
      await sleep(500);
      global.gc?.();
      const rssAfter = process.memoryUsage().rss;
      const perBotKb = Math.round((rssAfter - rssBefore) / BOTS / 1024);
      console.log(`[scale] ${BOTS} bots up (all heartbeats) in ${allUpMs} ms`);
      console.log(
        `[scale] RSS ${Math.round(rssBefore / 1048576)} MB → ${Math.round(rssAfter / 1048576)} MB: ~${perBotKb} KB per bot (2 verifier shards + poller + simulator in one process)`,
      );
      console.log(
        `[scale] Redis connections: verifier VERIFIER_SHARD=0/2 (${BOTS / 2} bots) ${shardCounts[0]}, VERIFIER_SHARD=1/2 (${BOTS / 2} bots) ${shardCounts[1]}, poller (${BOTS} bots) ${pollerConnections}`,
      );
      for (const n of shardCounts) {
        expect(n).toBeGreaterThanOrEqual(BOTS / 2);
        expect(n).toBeLessThanOrEqual(BOTS / 2 + 5);
      }
      expect(pollerConnections).toBeLessThanOrEqual(5);

      // Deactivate all: every lease released, every worker closed, without restarting anything.
      const stopAt = Date.now();
      await db.botInstance.updateMany({ data: { isActive: false, status: 'stopped', statusReason: 'deactivated' } });
      await publishControl(pollerCtx, { type: 'bots-changed' });
      await waitFor(
        async () => (await probe.keys('scale:bot:*:poller-lease')).length === 0,
        15_000,
        'every lease to be released',
      );
      const releasedMs = Date.now() - stopAt;
      const idle = await stableCount(0);
      console.log(
        `[scale] all ${BOTS} bots deactivated: leases released in ${releasedMs} ms; connections left ${idle} (was ${beforePoller + pollerConnections})`,
      );
      expect(releasedMs).toBeLessThan(5_000);
      expect(idle).toBeLessThanOrEqual(15);
      expect(await db.botInstance.count({ where: { status: 'running' } })).toBe(0);
      await probe.quit();
    },
  );
});

/** The environment a process with this configuration would have. */
function envOf(config: ReturnType<typeof lifecycleConfig>): Record<string, string> {
  return {
    DATABASE_URL: config.DATABASE_URL,
    REDIS_URL: config.REDIS_URL,
    REDIS_PREFIX: config.REDIS_PREFIX,
    TELEGRAM_API_ROOT: config.TELEGRAM_API_ROOT,
    TOKEN_ENCRYPTION_KEY: config.TOKEN_ENCRYPTION_KEY!.toString('hex'),
    LOG_TO_FILE: 'false',
    LOG_LEVEL: 'error',
    DB_POOL_SIZE: '5',
  };
}
