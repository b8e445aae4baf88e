import { Queue } from 'bullmq';
import type { Update } from 'telegraf/types';
import { defaultJobOptions, updateJobId, updatesQueueName } from '../../queues';
import type { ActiveBot } from '../core/bots';
import type { AppContext } from '../core/context';
import type { Logger } from '../core/logger';
import type { BotApi } from '../core/telegram/client';
import { describeError, isTelegramError } from '../core/telegram/errors';
import type { Lease } from './lease';

/** What the verifier handles; `chat_member` must be asked for explicitly (Telegram leaves it out by default). */
export const ALLOWED_UPDATES = ['message', 'callback_query', 'chat_member', 'my_chat_member', 'chat_join_request'] as const;
const POLL_TIMEOUT_SECONDS = 30;

export type PollerStopReason = 'stopped' | 'lease lost' | 'token revoked';

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

/**
 * One bot's getUpdates loop. Each batch is written with one addBulk (job id per update, so a re-delivered
 * update is a no-op) and only then confirmed by advancing the offset: a crash in between re-delivers,
 * never loses. Pending updates are never dropped, also not at start-up.
 */
export class BotPoller {
  private readonly abort = new AbortController();
  private offset: number | undefined;
  private readonly log: Logger;
  readonly done: Promise<PollerStopReason>;

  constructor(
    private readonly ctx: AppContext,
    readonly bot: ActiveBot,
    private readonly api: BotApi,
    private readonly queue: Queue,
    private readonly lease: Lease,
  ) {
    this.log = ctx.log.child({ botId: bot.id });
    this.done = this.run();
  }

  /** Stops after the current step; an in-flight long poll is aborted (its updates stay unconfirmed at Telegram). */
  async stop(): Promise<PollerStopReason> {
    this.abort.abort();
    return this.done;
  }

  private async run(): Promise<PollerStopReason> {
    const { signal } = this.abort;
    const bot = String(this.bot.id);
    let failures = 0;
    const renewal = setInterval(() => void this.lease.renew().catch(() => {}), Math.floor(this.lease.ttlMs / 3));
    try {
      while (!signal.aborted) {
        if (!this.lease.held && !(await this.lease.renew().catch(() => false))) return 'lease lost';
        let updates: Update[];
        try {
          updates = await this.api.getUpdates(
            { offset: this.offset, limit: 100, timeout: POLL_TIMEOUT_SECONDS, allowed_updates: [...ALLOWED_UPDATES] },
            signal,
          );
          failures = 0;
        } catch (err) {
          if (signal.aborted) break;
          if (isTelegramError(err, 401)) return 'token revoked';
          const kind = isTelegramError(err, 409) ? 'conflict' : isTelegramError(err) ? `http_${err.code}` : 'network';
          this.ctx.metrics.pollErrors.inc({ bot, kind });
          failures++;
          const backoffMs = Math.min(30_000, 500 * 2 ** Math.min(failures, 6)) * (0.5 + Math.random() / 2);
          this.log.warn('getUpdates failed; retrying', { kind, error: describeError(err), backoffMs: Math.round(backoffMs) });
          await sleep(backoffMs, signal);
          continue;
        }
        if (!updates.length) continue;
        if (!(await this.enqueue(updates))) break;
        this.offset = updates[updates.length - 1]!.update_id + 1;
        this.ctx.metrics.updatesPolled.inc({ bot }, updates.length);
        await this.ctx.redis.set(this.ctx.keys.bot(this.bot.id, 'heartbeat'), Date.now(), 'PX', 120_000).catch(() => {});
      }
      return 'stopped';
    } finally {
      clearInterval(renewal);
    }
  }

  /**
   * Retries until the batch is in Redis: the updates exist only here and at Telegram until then.
   * False when stopped first; the batch then stays unconfirmed at Telegram for the next poller.
   */
  private async enqueue(updates: Update[]): Promise<boolean> {
    const receivedAt = Date.now();
    const jobs = updates.map((update) => ({
      name: 'update' as const,
      data: { botInstanceId: this.bot.id, update: update as unknown as { update_id: number }, receivedAt },
      opts: { jobId: updateJobId(this.bot.id, update.update_id) },
    }));
    for (let attempt = 1; ; attempt++) {
      try {
        await this.queue.addBulk(jobs);
        return true;
      } catch (err) {
        if (this.abort.signal.aborted) return false;
        this.log.error('addBulk failed; retrying before confirming the batch', { attempt, err });
        await new Promise((r) => setTimeout(r, Math.min(5_000, 200 * attempt)));
      }
    }
  }
}

export function updatesQueue(ctx: AppContext, botId: number, connection: import('ioredis').Redis): Queue {
  const queue = new Queue(updatesQueueName(botId), { connection, prefix: ctx.config.REDIS_PREFIX, defaultJobOptions });
  queue.on('error', (err) => ctx.log.warn('queue error', { botId, error: describeError(err) }));
  return queue;
}
