import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { maintenanceQueue, openQueue } from '../../queues';
import { registerBot } from '../../services/core/bots';
import { loadConfig } from '../../services/core/config';
import { createContext, type AppContext } from '../../services/core/context';
import { logger } from '../../services/core/logger';
import { startMaintenance } from '../../services/maintenance';
import { syncCounts, type CountsSyncDeps } from '../../services/maintenance/counts-sync';
import { SimClient, startSimulator, type RunningSimulator, type SimBot } from '../../sim';
import { useTestDatabase } from '../support/db';
import { waitFor } from '../support/process';
import { useTestRedis } from '../support/redis';
import { breakerKey } from '../../services/core/telegram/breaker-state';

const db = useTestDatabase();
const redis = useTestRedis();
const CALLS_PER_SECOND = 10;
let sim: RunningSimulator;
let client: SimClient;
const contexts: AppContext[] = [];

async function context(env: Record<string, string> = {}): Promise<AppContext> {
  const ctx = await createContext(
    loadConfig({
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      REDIS_PREFIX: redis.prefix,
      TELEGRAM_API_ROOT: sim.apiRoot,
      TOKEN_ENCRYPTION_KEY: key,
      LOG_TO_FILE: 'false',
      DB_POOL_SIZE: '3',
      COUNTS_SYNC_CALLS_PER_SECOND: String(CALLS_PER_SECOND),
      ...env,
    }),
    logger,
  );
  contexts.push(ctx);
  return ctx;
}
const key = randomBytes(32).toString('hex');

beforeAll(async () => {
  sim = await startSimulator({ port: 0 });
  client = new SimClient(sim.url);
});
afterAll(async () => {
  for (const ctx of contexts) await ctx.lifecycle.shutdown('test done', 10_000);
  await sim?.stop();
});

const deps = (ctx: AppContext): CountsSyncDeps => ({
  db: ctx.db,
  redis: ctx.redis,
  keys: ctx.keys,
  cooldowns: ctx.cooldowns,
  metrics: ctx.metrics,
  log: ctx.log,
  config: ctx.config,
});

/** A bot in the simulator, registered in the platform the way `npm run bots -- add` does it. */
async function addBot(ctx: AppContext): Promise<SimBot & { instanceId: number }> {
  const bot = await client.createBot({ username: `cs${randomBytes(3).toString('hex')}_bot` });
  const row = await registerBot(ctx.db, ctx.config, bot.token);
  return { ...bot, instanceId: row.id };
}

/** A supergroup (or channel) in the simulator with the bot as admin and `members` more users in it. */
async function simChat(bot: SimBot, type: 'supergroup' | 'channel', members: number) {
  const owner = await client.createUser({ firstName: 'Owner' });
  const chat = await client.createChat({
    type,
    title: `${type} ${randomBytes(2).toString('hex')}`,
    ownerId: owner.id,
    ...(type === 'channel' ? { username: `c${randomBytes(4).toString('hex')}` } : {}),
  });
  await client.makeAdmin(
    chat.id,
    bot.id,
    type === 'channel' ? { can_invite_users: true, can_post_messages: true } : undefined,
  );
  if (members) await client.bulkJoin(chat.id, (await client.createUsers(members)).ids);
  return chat;
}

/** The group and, optionally, its required channel, recorded in PostgreSQL the way /protect records them. */
async function protect(
  botInstanceId: number,
  groupChatId: number,
  options: { enabled?: boolean; channelId?: number } = {},
) {
  const group = await db.prisma.protectedGroup.create({
    data: { botInstanceId, chatId: BigInt(groupChatId), title: `g${groupChatId}`, enabled: options.enabled ?? true },
  });
  let channel;
  if (options.channelId !== undefined) {
    channel = await db.prisma.enforcedChannel.upsert({
      where: { botInstanceId_channelId: { botInstanceId, channelId: BigInt(options.channelId) } },
      create: { botInstanceId, channelId: BigInt(options.channelId), title: `c${options.channelId}`, botIsAdmin: true },
      update: {},
    });
    await db.prisma.groupChannelLink.create({ data: { groupId: group.id, channelId: channel.id, botInstanceId } });
  }
  return { group, channel };
}

const simCount = async (chatId: number) => (await client.getChat(chatId)).memberCount;
const countCalls = async (botId: number) => (await client.calls(botId, { method: 'getChatMemberCount' })).calls;
const metric = async (ctx: AppContext, botId: number, outcome: string) => {
  const text = await ctx.metrics.registry.getSingleMetricAsString('nezuko_counts_sync_chats_total');
  return Number(new RegExp(`bot="${botId}",outcome="${outcome}"} (\\d+)`).exec(text)?.[1] ?? 0);
};

describe('counts sync', () => {
  // Each test counts the calls and outcomes of its own bots only.
  beforeEach(() => db.prisma.botInstance.updateMany({ data: { isActive: false } }));

  it('writes the member and subscriber counts Telegram reports; a failing chat is counted and the others go on', async () => {
    const ctx = await context();
    const bot = await addBot(ctx);
    // Failing chats first, so the ones after them prove a failure does not stop the sync.
    const kicked = await simChat(bot, 'supergroup', 2);
    await client.setMember(kicked.id, bot.id, { status: 'kicked' });
    const kickedRow = await protect(bot.instanceId, kicked.id);
    const unknownRow = await protect(bot.instanceId, -1_009_999_999_999); // no such chat in Telegram
    const big = await simChat(bot, 'supergroup', 40);
    const small = await simChat(bot, 'supergroup', 3);
    const disabled = await simChat(bot, 'supergroup', 5);
    const channel = await simChat(bot, 'channel', 17);
    const unlinked = await simChat(bot, 'channel', 4);
    const bigRow = await protect(bot.instanceId, big.id, { channelId: channel.id });
    const smallRow = await protect(bot.instanceId, small.id, { channelId: channel.id });
    const disabledRow = await protect(bot.instanceId, disabled.id, { enabled: false });
    const unlinkedRow = await db.prisma.enforcedChannel.create({
      data: { botInstanceId: bot.instanceId, channelId: BigInt(unlinked.id), title: 'old', botIsAdmin: true },
    });
    await client.clearCalls(bot.id);

    const result = await syncCounts(deps(ctx));
    expect(result).toMatchObject({ bots: 1, skippedBots: 0, synced: 3, failed: 2, deferred: 0, changed: 3 });

    const group = (id: number) => db.prisma.protectedGroup.findUniqueOrThrow({ where: { id } });
    const chan = (id: number) => db.prisma.enforcedChannel.findUniqueOrThrow({ where: { id } });
    expect((await group(bigRow.group.id)).memberCount).toBe(await simCount(big.id));
    expect(await simCount(big.id)).toBe(42); // owner + bot + 40
    expect((await group(smallRow.group.id)).memberCount).toBe(await simCount(small.id));
    expect((await chan(bigRow.channel!.id)).subscriberCount).toBe(await simCount(channel.id));
    expect((await chan(bigRow.channel!.id)).lastSyncAt).not.toBeNull();
    // Not asked: a disabled group, a channel no enabled group requires. Failed: no count, no sync time.
    for (const row of [
      await group(disabledRow.group.id),
      await group(kickedRow.group.id),
      await group(unknownRow.group.id),
    ]) {
      expect(row).toMatchObject({ memberCount: null, lastSyncAt: null });
    }
    expect(await chan(unlinkedRow.id)).toMatchObject({ subscriberCount: null, lastSyncAt: null });

    const calls = await countCalls(bot.id);
    expect(calls.map((c) => Number(c.params.chat_id)).sort()).toEqual(
      [kicked.id, -1_009_999_999_999, big.id, small.id, channel.id].sort(),
    );
    expect(
      calls
        .filter((c) => c.outcome === 'error')
        .map((c) => c.errorCode)
        .sort(),
    ).toEqual([400, 403]);
    // Paced: one call per 1/COUNTS_SYNC_CALLS_PER_SECOND as they leave; arrival times carry transport jitter
    // (tens of ms on a loaded machine: a fresh-clone run saw the whole span 28 ms short), so single gaps get
    // some slack and the whole run must take its time less half an interval. Unpaced, it takes a few ms.
    const interval = 1000 / CALLS_PER_SECOND;
    for (let i = 1; i < calls.length; i++) expect(calls[i]!.at - calls[i - 1]!.at).toBeGreaterThan(interval * 0.6);
    expect(calls.at(-1)!.at - calls[0]!.at).toBeGreaterThanOrEqual((calls.length - 1) * interval - interval / 2);

    expect(await metric(ctx, bot.instanceId, 'ok')).toBe(3);
    expect(await metric(ctx, bot.instanceId, 'failed')).toBe(2);

    // Someone leaves: the next run writes the new count and reports only that change.
    const [leaver] = (await client.createUsers(1)).ids;
    await client.bulkJoin(small.id, [leaver!]);
    await client.leave(small.id, leaver!);
    await client.leave(big.id, (await client.createUsers(1)).ids[0]!).catch(() => {}); // not a member: no change
    const again = await syncCounts(deps(ctx));
    expect(again).toMatchObject({ synced: 3, failed: 2, changed: 0 });
    await client.bulkJoin(big.id, (await client.createUsers(2)).ids);
    const third = await syncCounts(deps(ctx));
    expect(third).toMatchObject({ synced: 3, changed: 1 });
    expect((await group(bigRow.group.id)).memberCount).toBe(44);
    expect(JSON.stringify([result, again, third])).not.toContain(bot.token);
  });

  it('waits out a retry_after: no call of the bot leaves before it ran out, and every chat is synced', async () => {
    const ctx = await context();
    const bot = await addBot(ctx);
    const chats = [
      await simChat(bot, 'supergroup', 1),
      await simChat(bot, 'supergroup', 2),
      await simChat(bot, 'supergroup', 3),
    ];
    for (const chat of chats) await protect(bot.instanceId, chat.id);
    // Two seconds: longer than BotApi waits in place, so the sync's own wait is what is tested.
    await client.addFaults(bot.id, [{ kind: 'retry_after', method: 'getChatMemberCount', count: 1, retryAfter: 2 }]);
    await client.clearCalls(bot.id);

    const result = await syncCounts(deps(ctx));
    expect(result).toMatchObject({ synced: 3, failed: 0, deferred: 0 });
    const calls = await countCalls(bot.id);
    const limited = calls.findIndex((c) => c.errorCode === 429);
    expect(limited).toBe(0);
    expect(calls).toHaveLength(4);
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(2000);
    for (const chat of chats) {
      const row = await db.prisma.protectedGroup.findFirstOrThrow({
        where: { botInstanceId: bot.instanceId, chatId: BigInt(chat.id) },
      });
      expect(row.memberCount).toBe(await simCount(chat.id));
    }
  });

  it('isolates bots: a long retry_after defers that bot, an open breaker skips it, the others are synced in full', async () => {
    const ctx = await context();
    const [limited, broken, failing, healthy] = [
      await addBot(ctx),
      await addBot(ctx),
      await addBot(ctx),
      await addBot(ctx),
    ];
    const chatsOf = new Map<number, number[]>();
    for (const bot of [limited, broken, failing, healthy]) {
      const ids = [];
      for (let i = 0; i < 4; i++) ids.push((await simChat(bot, 'supergroup', i)).id);
      for (const id of ids) await protect(bot.instanceId, id);
      chatsOf.set(bot.id, ids);
      await client.clearCalls(bot.id);
    }
    await client.addFaults(limited.id, [
      { kind: 'retry_after', method: 'getChatMemberCount', count: 1, retryAfter: 30 },
    ]);
    // A verifier of this bot saw Telegram fail and opened its breaker (recorded in Redis for every process).
    await ctx.redis.set(breakerKey(ctx.keys, broken.instanceId), 'open', 'EX', 60);
    // Telegram answers 502 to everything: retried, then this bot's own breaker opens during the sync.
    await client.addFaults(failing.id, [{ kind: 'server_error', method: 'getChatMemberCount' }]);

    const started = Date.now();
    const result = await syncCounts(deps(ctx));
    expect(Date.now() - started).toBeLessThan(15_000); // nobody waited 30 s
    expect(result).toMatchObject({ bots: 4, skippedBots: 1, synced: 4 });

    const limitedCalls = await countCalls(limited.id);
    expect(limitedCalls).toHaveLength(1);
    expect(limitedCalls[0]!.errorCode).toBe(429);
    expect(await metric(ctx, limited.instanceId, 'deferred')).toBe(4);
    expect(await countCalls(broken.id)).toHaveLength(0);
    expect(await metric(ctx, broken.instanceId, 'skipped')).toBe(4);
    const failingCalls = await countCalls(failing.id);
    expect(failingCalls.length).toBeGreaterThanOrEqual(5); // the breaker counts 5 consecutive failures…
    expect(failingCalls.length).toBeLessThanOrEqual(6); // …then no more calls leave for this bot
    expect(await metric(ctx, failing.instanceId, 'ok')).toBe(0);
    expect(
      (await metric(ctx, failing.instanceId, 'failed')) + (await metric(ctx, failing.instanceId, 'deferred')),
    ).toBe(4);
    expect(await metric(ctx, failing.instanceId, 'deferred')).toBeGreaterThanOrEqual(2);
    expect(await ctx.redis.get(breakerKey(ctx.keys, failing.instanceId))).toBe('open');

    expect(await countCalls(healthy.id)).toHaveLength(4);
    for (const id of chatsOf.get(healthy.id)!) {
      const row = await db.prisma.protectedGroup.findFirstOrThrow({
        where: { botInstanceId: healthy.instanceId, chatId: BigInt(id) },
      });
      expect(row.memberCount).toBe(await simCount(id));
    }
    const notSynced = await db.prisma.protectedGroup.count({
      where: {
        botInstanceId: { in: [limited.instanceId, broken.instanceId, failing.instanceId] },
        lastSyncAt: { not: null },
      },
    });
    expect(notSynced).toBe(0);
  });

  it('runs from one job scheduler, registered once by every maintenance process', async () => {
    const one = await context({ REDIS_PREFIX: `${redis.prefix}s`, COUNTS_SYNC_INTERVAL_MS: '600000' });
    const two = await context({ REDIS_PREFIX: `${redis.prefix}s`, COUNTS_SYNC_INTERVAL_MS: '600000' });
    const queue = openQueue(maintenanceQueue, { connection: one.newRedis('worker'), prefix: `${redis.prefix}s` });
    try {
      const bot = await addBot(one);
      const chat = await simChat(bot, 'supergroup', 6);
      const { group } = await protect(bot.instanceId, chat.id);
      await startMaintenance(one);
      await startMaintenance(two);
      await startMaintenance(one);
      const schedulers = (await queue.getJobSchedulers()).filter((s) => s.key === 'counts-sync');
      expect(schedulers).toHaveLength(1);
      expect(schedulers[0]).toMatchObject({ every: 600_000, name: 'counts-sync' });
      // An interval scheduler's first run is due at once: the count arrives through the queue.
      const synced = await waitFor(
        async () => (await db.prisma.protectedGroup.findUniqueOrThrow({ where: { id: group.id } })).memberCount,
        15_000,
        'a counts sync through the scheduler',
      );
      expect(synced).toBe(await simCount(chat.id));
      // Its calls are in the api_call_log like every other Telegram call (flushed at shutdown at the latest).
      await waitFor(
        async () =>
          (await db.prisma.apiCallLog.count({
            where: { botInstanceId: bot.instanceId, method: 'getChatMemberCount' },
          })) > 0,
        10_000,
        'the api_call_log row',
      );
      const completed = await queue.getJobs(['completed'], 0, 10);
      expect(completed.filter((j) => j.name === 'counts-sync').length).toBeGreaterThanOrEqual(1);
      expect(JSON.stringify(completed.map((j) => [j.data, j.returnvalue]))).not.toContain(bot.token);
    } finally {
      await queue.close();
      for (const ctx of [one, two]) await ctx.lifecycle.shutdown('test done', 10_000);
      // Keys under this second prefix are not covered by useTestRedis' clean-up.
      const keys = await redis.redis.keys(`${redis.prefix}s:*`);
      if (keys.length) await redis.redis.unlink(...keys);
    }
  });
});
