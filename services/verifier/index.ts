import type { Worker } from 'bullmq';
import { openQueue, openWorker, subscribeControl, updatesQueue, type JobQueue, type QueueHost } from '../../queues';
import { loadActiveBots, type ActiveBot } from '../core/bots';
import type { AppContext } from '../core/context';
import { apiCallLogWriter, verificationLogWriter } from '../core/log-writer';
import { BotApi } from '../core/telegram/client';
import { sendRates as sendRatesFor } from '../core/telegram/pacing';
import { GroupStore } from './groups';
import { botProcessor, updateHandlers, type UpdateHandlers } from './handlers';
import type { BotScope, VerifierShared } from './job';

/** The safety net behind pub/sub: a missed control message is applied within this time anyway. */
const RECONCILE_MS = 5_000;

/** VERIFIER_SHARD=k/n: this process serves the bots whose id is k modulo n. */
export const inShard = (botId: number, shard: { index: number; count: number }) => botId % shard.count === shard.index;

/**
 * While a bot's breaker is open every job of that bot would only bounce off it and be delayed again, and a
 * minute of such jobs, cycling ever faster, starves the other bots served by this process. So the worker
 * stops taking that bot's jobs (they wait in its queue, nothing is lost) until the breaker may let a call
 * through again; the next job is then the probe, and a failed probe opens the breaker and pauses again.
 */
function holdWhileBreakerOpen(api: BotApi, worker: Worker): () => void {
  let probeTimer: NodeJS.Timeout | undefined;
  const subscription = api.onBreakerChange((state) => {
    clearTimeout(probeTimer);
    if (state !== 'open') return void worker.resume();
    void worker.pause(true);
    probeTimer = setTimeout(() => void worker.resume(), api.breakerOpenMs);
  });
  return () => {
    clearTimeout(probeTimer);
    subscription.dispose();
  };
}

/**
 * The verifier role: one BullMQ worker per active bot queue in this process' shard, started and stopped as
 * bots come and go, without a restart. Workers hold no state of their own; any number of verifier
 * processes can serve the same queues. `handlers` are the platform's own: bench:pipeline gives its floor run
 * the plain bot's checks in the page's place.
 */
export async function startVerifier(ctx: AppContext, handlers: UpdateHandlers = updateHandlers): Promise<void> {
  const apiCalls = apiCallLogWriter(ctx.sql, ctx.log, ctx.metrics);
  const shared: VerifierShared = {
    db: ctx.db,
    redis: ctx.redis,
    keys: ctx.keys,
    metrics: ctx.metrics,
    groups: new GroupStore(ctx.db, ctx),
    verifications: verificationLogWriter(ctx.sql, ctx.log, ctx.metrics),
    updateConcurrency: ctx.config.VERIFIER_CONCURRENCY,
    stopping: { requested: false },
    webAppBaseUrl: ctx.config.WEB_APP_BASE_URL,
  };
  const producer = ctx.newRedis('worker');
  const sendRates = sendRatesFor(ctx.config.PACE_GROUP_WINDOW_MS);
  const served = new Map<
    number,
    { worker: Worker; queue: JobQueue<'updates'>; token: string; stopHolding: () => void }
  >();
  let stopping = false;

  const startBot = (bot: ActiveBot) => {
    const log = ctx.log.child({ botId: bot.id });
    const api = new BotApi({
      botInstanceId: bot.id,
      token: bot.token,
      apiRoot: ctx.config.TELEGRAM_API_ROOT,
      redis: ctx.redis,
      keys: ctx.keys,
      cooldowns: ctx.cooldowns,
      sendRates,
      metrics: ctx.metrics,
      log,
      onCall: (record) => apiCalls.push(record),
    });
    const host: QueueHost = { connection: producer, prefix: ctx.config.REDIS_PREFIX, log };
    const queue = openQueue(updatesQueue(bot.id), host);
    const scope: BotScope = { ...shared, bot, telegramBotId: Number(bot.telegramBotId), api, log, queue };
    // One shared connection for every worker's ordinary commands; BullMQ adds one blocking connection per
    // worker, so a process serving N bots holds about N + 3 connections (see README, "Scale").
    const worker = openWorker(updatesQueue(bot.id), botProcessor(scope, handlers), host, {
      concurrency: ctx.config.VERIFIER_CONCURRENCY,
      // Jobs hand themselves back when rate limited. A killed verifier's jobs lose their lock after 10 s and
      // are found stalled within 5 s more, then run again elsewhere (BullMQ's defaults wait 30–60 s).
      lockDuration: 10_000,
      stalledInterval: 5_000,
      maxStalledCount: 2,
    });
    served.set(bot.id, { worker, queue, token: bot.token, stopHolding: holdWhileBreakerOpen(api, worker) });
    log.info('verifying bot', { username: bot.username });
  };

  const stopBot = async (botId: number) => {
    const entry = served.get(botId);
    if (!entry) return;
    served.delete(botId);
    entry.stopHolding();
    await entry.worker.close();
    await entry.queue.close();
  };

  const reconcile = async () => {
    const bots = (await loadActiveBots(ctx.db, ctx.config)).filter((b) => inShard(b.id, ctx.config.VERIFIER_SHARD));
    const wanted = new Map(bots.map((b) => [b.id, b]));
    for (const [id, entry] of served) {
      // Gone, or its token changed: restart it with the current one.
      if (wanted.get(id)?.token !== entry.token) await stopBot(id);
    }
    for (const bot of bots) if (!stopping && !served.has(bot.id)) startBot(bot);
  };

  // Not fatal: with the database away the first page fails and retries like any other.
  await shared.groups.prepare().catch(() => {});
  let reconciling: Promise<void> = reconcile();
  await reconciling;
  const schedule = () => {
    reconciling = reconciling.then(reconcile).catch((err) => {
      ctx.log.warn('verifier reconcile failed', { err });
    });
  };
  const timer = setInterval(schedule, RECONCILE_MS);
  const unsubscribe = await subscribeControl(ctx, (message) => {
    if (message.type === 'bots-changed') schedule();
    if (message.type === 'group-changed') shared.groups.invalidate(message.botId, BigInt(message.chatId));
  });

  ctx.lifecycle.onShutdown('workers', 'verifier workers', async () => {
    stopping = true;
    shared.stopping!.requested = true;
    clearInterval(timer);
    await unsubscribe();
    await reconciling.catch(() => {});
    // close() lets active jobs finish; waiting jobs stay queued for the next worker.
    await Promise.all([...served.keys()].map(stopBot));
  });
  ctx.lifecycle.onShutdown('buffers', 'verification log', () => shared.verifications.close());
  ctx.lifecycle.onShutdown('buffers', 'verifier api-call log', () => apiCalls.close());
}
