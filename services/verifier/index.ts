import { Queue, Worker } from 'bullmq';
import { defaultJobOptions, updatesQueueName } from '../../queues';
import { loadActiveBots, type ActiveBot } from '../core/bots';
import type { AppContext } from '../core/context';
import { apiCallLogWriter, verificationLogWriter } from '../core/log-writer';
import { BotApi } from '../core/telegram/client';
import { describeError } from '../core/telegram/errors';
import { GroupStore } from './groups';
import { createProcessor } from './processor';
import type { BotRuntime, VerifierDeps } from './runtime';

const RECONCILE_MS = 2_000;

/** VERIFIER_SHARD=k/n: this process serves the bots whose id is k modulo n. */
export const inShard = (botId: number, shard: { index: number; count: number }) => botId % shard.count === shard.index;

/**
 * The verifier role: one BullMQ worker per active bot queue in this process' shard, started and stopped as
 * bots come and go, without a restart. Workers hold no state of their own; any number of verifier
 * processes can serve the same queues.
 */
export async function startVerifier(ctx: AppContext): Promise<void> {
  const apiCalls = apiCallLogWriter(ctx.db, ctx.log, ctx.metrics);
  const deps: VerifierDeps = { ctx, groups: new GroupStore(ctx.db), verifications: verificationLogWriter(ctx.db, ctx.log, ctx.metrics) };
  const producer = ctx.newRedis('worker');
  const served = new Map<number, { worker: Worker; queue: Queue; token: string }>();
  let stopping = false;

  const startBot = (bot: ActiveBot) => {
    const log = ctx.log.child({ botId: bot.id });
    const api = new BotApi({
      botInstanceId: bot.id,
      token: bot.token,
      apiRoot: ctx.config.TELEGRAM_API_ROOT,
      redis: ctx.redis,
      keys: ctx.keys,
      metrics: ctx.metrics,
      log,
      onCall: (record) => apiCalls.push(record),
    });
    const queue = new Queue(updatesQueueName(bot.id), { connection: producer, prefix: ctx.config.REDIS_PREFIX, defaultJobOptions });
    queue.on('error', (err) => log.warn('queue error', { error: describeError(err) }));
    const rt: BotRuntime = { bot, telegramBotId: Number(bot.telegramBotId), api, log, queue };
    const worker = new Worker(updatesQueueName(bot.id), createProcessor(deps, rt), {
      connection: ctx.newRedis('worker'),
      prefix: ctx.config.REDIS_PREFIX,
      concurrency: ctx.config.VERIFIER_CONCURRENCY,
      // Jobs hand themselves back when rate limited; a stalled job (its worker died) is retried.
      maxStalledCount: 2,
    });
    worker.on('error', (err) => log.warn('worker error', { error: describeError(err) }));
    served.set(bot.id, { worker, queue, token: bot.token });
    log.info('verifying bot', { username: bot.username });
  };

  const stopBot = async (botId: number) => {
    const entry = served.get(botId);
    if (!entry) return;
    served.delete(botId);
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

  let reconciling: Promise<void> = reconcile();
  await reconciling;
  const timer = setInterval(() => {
    reconciling = reconciling.then(reconcile).catch((err) => {
      ctx.log.warn('verifier reconcile failed', { err });
    });
  }, RECONCILE_MS);

  ctx.lifecycle.onShutdown('workers', 'verifier workers', async () => {
    stopping = true;
    clearInterval(timer);
    await reconciling.catch(() => {});
    // close() lets active jobs finish; waiting jobs stay queued for the next worker.
    await Promise.all([...served.keys()].map(stopBot));
  });
  ctx.lifecycle.onShutdown('buffers', 'verification log', () => deps.verifications.close());
  ctx.lifecycle.onShutdown('buffers', 'verifier api-call log', () => apiCalls.close());
}
