import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import { loadActiveBots, type ActiveBot } from '../core/bots';
import type { AppContext } from '../core/context';
import { apiCallLogWriter } from '../core/log-writer';
import { BotApi } from '../core/telegram/client';
import { BotPoller, updatesQueue, type PollerStopReason } from './bot-poller';
import { Lease } from './lease';

export const LEASE_TTL_MS = 15_000;
const RECONCILE_MS = 2_000;

/**
 * The poller role: polls every active bot whose lease it holds. Any number of poller processes share the
 * bots: each takes free leases up to its fair share (bots ÷ live pollers), so load spreads and a dead
 * poller's bots are taken over once its leases expire.
 */
export async function startPoller(ctx: AppContext): Promise<void> {
  const owner = `${process.pid}-${randomUUID().slice(0, 8)}`;
  const connection = ctx.newRedis('worker');
  const apiCalls = apiCallLogWriter(ctx.db, ctx.log, ctx.metrics);
  const running = new Map<number, { poller: BotPoller; queue: Queue; lease: Lease }>();
  const pollersKey = ctx.keys.key('pollers');
  let stopping = false;

  const stopBot = async (botId: number) => {
    const entry = running.get(botId);
    if (!entry) return;
    running.delete(botId);
    await entry.poller.stop();
    await entry.lease.release().catch(() => {});
    await entry.queue.close();
  };

  const onStopped = (bot: ActiveBot, reason: PollerStopReason) => {
    if (reason === 'stopped' || stopping) return;
    ctx.log.warn('poller stopped', { botId: bot.id, reason });
    void stopBot(bot.id);
    if (reason === 'token revoked') {
      void ctx.db.botInstance
        .update({ where: { id: bot.id }, data: { status: 'stopped', statusReason: 'token revoked (Telegram answered 401)', isActive: false } })
        .catch((err) => ctx.log.error('could not record revoked token', { botId: bot.id, err }));
    }
  };

  const startBot = async (bot: ActiveBot) => {
    const lease = new Lease(ctx.redis, ctx.keys.bot(bot.id, 'poller-lease'), owner, LEASE_TTL_MS);
    if (!(await lease.acquire())) return;
    const api = new BotApi({
      botInstanceId: bot.id,
      token: bot.token,
      apiRoot: ctx.config.TELEGRAM_API_ROOT,
      redis: ctx.redis,
      keys: ctx.keys,
      metrics: ctx.metrics,
      log: ctx.log,
      onCall: (record) => apiCalls.push(record),
    });
    const queue = updatesQueue(ctx, bot.id, connection);
    const poller = new BotPoller(ctx, bot, api, queue, lease);
    running.set(bot.id, { poller, queue, lease });
    void poller.done.then((reason) => onStopped(bot, reason));
    await ctx.db.botInstance
      .update({ where: { id: bot.id }, data: { status: 'running', statusReason: null, startedAt: new Date() } })
      .catch((err) => ctx.log.warn('could not record bot status', { botId: bot.id, err }));
    ctx.log.info('polling bot', { botId: bot.id, username: bot.username });
  };

  const reconcile = async () => {
    const now = Date.now();
    await ctx.redis.zadd(pollersKey, now, owner);
    await ctx.redis.zremrangebyscore(pollersKey, 0, now - LEASE_TTL_MS);
    const livePollers = Math.max(1, await ctx.redis.zcard(pollersKey));
    const bots = await loadActiveBots(ctx.db, ctx.config);
    const active = new Set(bots.map((b) => b.id));
    await Promise.all([...running.keys()].filter((id) => !active.has(id)).map(stopBot));
    const fairShare = Math.ceil(bots.length / livePollers);
    for (const bot of bots) {
      if (stopping || running.size >= fairShare) break;
      if (!running.has(bot.id)) await startBot(bot);
    }
  };

  let reconciling: Promise<void> = reconcile();
  await reconciling;
  const timer = setInterval(() => {
    reconciling = reconciling.then(reconcile).catch((err) => {
      ctx.log.warn('poller reconcile failed', { err });
    });
  }, RECONCILE_MS);

  ctx.lifecycle.onShutdown('pollers', 'pollers', async () => {
    stopping = true;
    clearInterval(timer);
    await reconciling.catch(() => {});
    // Releasing leases lets another poller take the bots at once instead of after the TTL.
    await Promise.all([...running.keys()].map(stopBot));
    await ctx.redis.zrem(pollersKey, owner).catch(() => {});
  });
  ctx.lifecycle.onShutdown('buffers', 'poller api-call log', () => apiCalls.close());
}
