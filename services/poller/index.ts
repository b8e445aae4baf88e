import { randomUUID } from 'node:crypto';
import { openQueue, subscribeControl, updatesQueue, type JobQueue } from '../../queues';
import { loadActiveBots, type ActiveBot } from '../core/bots';
import type { AppContext } from '../core/context';
import { apiCallLogWriter } from '../core/log-writer';
import { BotApi } from '../core/telegram/client';
import { BotPoller, type PollerExit } from './bot-poller';
import { Lease } from './lease';

export const LEASE_TTL_MS = 15_000;
/** The safety net behind pub/sub: a missed control message is applied within this time anyway. */
const RECONCILE_MS = 5_000;
/**
 * How often a poller announces itself and looks for free leases (a dead poller's bots) or an unfair share
 * (a poller joined or left). Only Redis is read; the database only when something is to be taken or shed.
 */
export const LEASE_CHECK_MS = 1_000;
/** A poller that has not announced itself for this long no longer counts for the fair share. */
const POLLER_STALE_MS = 5_000;

type BotStatus = 'starting' | 'running' | 'stopping' | 'stopped' | 'crashed' | 'restarting';

interface Running {
  bot: ActiveBot;
  poller: BotPoller;
  queue: JobQueue<'updates'>;
  lease: Lease;
  /** Restart times within the window, for the restart limit. */
  restarts: number[];
}

/**
 * The poller role: polls every active bot whose lease it holds. Any number of poller processes share the
 * bots: each takes free leases up to its fair share (bots ÷ live pollers), so load spreads and a dead
 * poller's bots are taken over once its leases expire. A poll loop that gives up is restarted with
 * exponential backoff, at most BOT_MAX_RESTARTS times per window, then the bot is marked crashed.
 */
export async function startPoller(ctx: AppContext): Promise<void> {
  const { config, db, log } = ctx;
  const owner = `${process.pid}-${randomUUID().slice(0, 8)}`;
  const connection = ctx.newRedis('worker');
  const apiCalls = apiCallLogWriter(ctx.sql, log, ctx.metrics);
  const running = new Map<number, Running>();
  const pollersKey = ctx.keys.key('pollers');
  let stopping = false;

  const setStatus = (
    botId: number,
    status: BotStatus,
    statusReason: string | null,
    extra: Record<string, unknown> = {},
  ) =>
    db.botInstance
      .update({ where: { id: botId }, data: { status, statusReason, ...extra } })
      .catch((err) => log.warn('could not record bot status', { botId, status, err }));

  const stopBot = async (botId: number) => {
    const entry = running.get(botId);
    if (!entry) return;
    running.delete(botId);
    await entry.poller.stop();
    await entry.lease.release().catch(() => {});
    await entry.queue.close();
  };

  const launch = (bot: ActiveBot, lease: Lease, restarts: number[]) => {
    const api = new BotApi({
      botInstanceId: bot.id,
      token: bot.token,
      apiRoot: config.TELEGRAM_API_ROOT,
      redis: ctx.redis,
      keys: ctx.keys,
      cooldowns: ctx.cooldowns,
      metrics: ctx.metrics,
      log: log.child({ botId: bot.id }),
      onCall: (record) => apiCalls.push(record),
    });
    const queue = openQueue(updatesQueue(bot.id), {
      connection,
      prefix: config.REDIS_PREFIX,
      log: log.child({ botId: bot.id }),
    });
    const poller = new BotPoller(ctx, bot, api, queue, lease, {
      onProblem: (description) => void setStatus(bot.id, 'running', description),
      onRecovered: () => void setStatus(bot.id, 'running', null),
    });
    const entry: Running = { bot, poller, queue, lease, restarts };
    running.set(bot.id, entry);
    void poller.done.then((exit) => onExit(entry, exit));
  };

  const onExit = async (entry: Running, exit: PollerExit) => {
    if (exit.reason === 'stopped' || stopping || running.get(entry.bot.id) !== entry) return;
    const { bot } = entry;
    log.warn('poll loop ended', { botId: bot.id, ...exit });
    if (exit.reason === 'lease lost') return void (await stopBot(bot.id));
    // The status is written before the lease is released: a poller that sees the free lease must also see
    // that the bot is not to be polled, or it would start it again at once.
    if (exit.reason === 'token revoked') {
      // No restart storm: the bot stays off until someone gives it a valid token.
      await setStatus(bot.id, 'stopped', 'token revoked: Telegram answered 401 Unauthorized', {
        isActive: false,
        lastError: 'Unauthorized',
        lastErrorAt: new Date(),
      });
      return void (await stopBot(bot.id));
    }
    const now = Date.now();
    const recent = entry.restarts.filter((t) => now - t < config.BOT_RESTART_WINDOW_MS);
    if (recent.length >= config.BOT_MAX_RESTARTS) {
      await setStatus(bot.id, 'crashed', `gave up after ${recent.length} restarts: ${exit.error}`, {
        lastError: exit.error,
        lastErrorAt: new Date(),
      });
      return void (await stopBot(bot.id));
    }
    const delay = config.BOT_RESTART_BACKOFF_MS * 2 ** recent.length;
    await setStatus(bot.id, 'restarting', `restart ${recent.length + 1} in ${delay} ms: ${exit.error}`, {
      restartCount: { increment: 1 },
      lastError: exit.error,
      lastErrorAt: new Date(),
    });
    await entry.queue.close();
    await new Promise((r) => setTimeout(r, delay));
    if (stopping || running.get(bot.id) !== entry) return;
    launch(bot, entry.lease, [...recent, now]);
    await setStatus(bot.id, 'running', null, { startedAt: new Date() });
  };

  const startBot = async (bot: ActiveBot) => {
    const lease = new Lease(ctx.redis, ctx.keys.bot(bot.id, 'poller-lease'), owner, LEASE_TTL_MS);
    if (!(await lease.acquire())) return;
    launch(bot, lease, []);
    await setStatus(bot.id, 'running', null, { startedAt: new Date() });
    log.info('polling bot', { botId: bot.id, username: bot.username });
  };

  /** Announces this poller and returns how many pollers are alive. */
  const announce = async () => {
    const now = Date.now();
    await ctx.redis.zadd(pollersKey, now, owner);
    await ctx.redis.zremrangebyscore(pollersKey, 0, now - POLLER_STALE_MS);
    return Math.max(1, await ctx.redis.zcard(pollersKey));
  };
  /** Ids of the bots to poll as of the last reconcile. */
  let wantedIds: number[] = [];

  const reconcile = async () => {
    const livePollers = await announce();
    const crashed = new Set(
      (await db.botInstance.findMany({ where: { status: 'crashed' }, select: { id: true } })).map((b) => b.id),
    );
    const bots = (await loadActiveBots(db, config)).filter((b) => !crashed.has(b.id));
    const wanted = new Map(bots.map((b) => [b.id, b]));
    wantedIds = bots.map((b) => b.id);
    // Gone, deactivated, or its token changed: stop (a changed token starts again below).
    await Promise.all(
      [...running.values()].filter((r) => wanted.get(r.bot.id)?.token !== r.bot.token).map((r) => stopBot(r.bot.id)),
    );
    const fairShare = Math.ceil(bots.length / livePollers);
    // More than our share (another poller joined): hand the excess over; stopping releases each lease at once.
    const excess = [...running.keys()].slice(fairShare);
    if (!stopping) await Promise.all(excess.map(stopBot));
    // Up to our share at once (a backlog waits at Telegram for every bot alike); a lease someone else holds leaves
    // its place to the next candidate.
    const candidates = bots.filter((b) => !running.has(b.id));
    while (!stopping && running.size < fairShare && candidates.length)
      await Promise.all(candidates.splice(0, fairShare - running.size).map(startBot));
  };

  /** Between reconciles: reconcile at once when a lease is free for the taking or our share changed. */
  const checkLeases = async () => {
    const fairShare = Math.ceil(wantedIds.length / (await announce()));
    if (running.size > fairShare) return reconcile();
    if (running.size >= fairShare) return;
    const others = wantedIds.filter((id) => !running.has(id));
    if (!others.length) return;
    const holders = await ctx.redis.mget(others.map((id) => ctx.keys.bot(id, 'poller-lease')));
    if (holders.some((h) => h === null)) await reconcile();
  };

  let reconciling: Promise<void> = reconcile();
  await reconciling;
  const schedule = () => {
    reconciling = reconciling.then(reconcile).catch((err) => {
      log.warn('poller reconcile failed', { err });
    });
  };
  const timer = setInterval(schedule, RECONCILE_MS);
  let checking = false;
  const leaseTimer = setInterval(() => {
    if (checking || stopping) return;
    checking = true;
    reconciling = reconciling
      .then(checkLeases)
      .catch((err) => {
        log.warn('poller lease check failed', { err });
      })
      .finally(() => (checking = false));
  }, LEASE_CHECK_MS);
  const unsubscribe = await subscribeControl(ctx, (message) => {
    if (message.type === 'bots-changed') schedule();
    if (message.type === 'bot-restart' && running.has(message.botId)) {
      reconciling = reconciling.then(async () => {
        await stopBot(message.botId);
        await reconcile();
      });
    } else if (message.type === 'bot-restart') schedule();
  });

  ctx.lifecycle.onShutdown('pollers', 'pollers', async () => {
    stopping = true;
    clearInterval(timer);
    clearInterval(leaseTimer);
    await unsubscribe();
    await reconciling.catch(() => {});
    // Releasing leases lets another poller take the bots at once instead of after the TTL.
    await Promise.all([...running.keys()].map(stopBot));
    await ctx.redis.zrem(pollersKey, owner).catch(() => {});
  });
  ctx.lifecycle.onShutdown('buffers', 'poller api-call log', () => apiCalls.close());
}
