import type { Update } from 'telegraf/types';
import { addJob, ALLOWED_UPDATES, beat, countForBot, pageJobId, type JobQueue } from '../../queues';
import type { ActiveBot } from '../core/bots';
import type { AppContext } from '../core/context';
import type { Logger } from '../core/logger';
import type { BotApi } from '../core/telegram/client';
import { describeError, isTelegramError } from '../core/telegram/errors';
import { inSpan, SpanKind, traceCarrier } from '../core/tracing';
import { worthQueueing } from './worth-queueing';
import type { Lease } from './lease';

const POLL_TIMEOUT_SECONDS = 30;
/**
 * After a page that was not full, the next poll waits this long, so that a steady trickle of updates makes
 * pages of several updates instead of one job per update: a page costs BullMQ about nine Redis round trips
 * however small it is. A backlog (full pages) is read without pause. Adds at most this much to an update's
 * latency. bench:pipeline at 1,000 updates/s: 15 ms gave pages of ~6 updates and 565–625 µs of CPU per update,
 * 45 ms 359–376 µs, for a p99 of 35–51 vs 63–74 ms (target 100).
 */
const LINGER_MS = 45;

export type PollerExit =
  { reason: 'stopped' } | { reason: 'lease lost' } | { reason: 'token revoked' } | { reason: 'crashed'; error: string };

export interface PollerHooks {
  /** A recoverable problem worth showing on the bot's status (409 conflict, repeated failures). */
  onProblem(description: string): void;
  /** The loop is healthy again after a problem. */
  onRecovered(): void;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });

async function sleepUntil(deadline: number, signal: AbortSignal) {
  while (!signal.aborted && Date.now() < deadline) await sleep(deadline - Date.now(), signal);
}

/**
 * One bot's getUpdates loop. Each batch is written as one page job (its id from the bot and the update ids,
 * so a page re-delivered as it was is a no-op, and the verifier's per-update done markers catch one cut
 * differently) and only then confirmed by advancing the offset: a crash in between re-delivers, never loses.
 * Pending updates are never dropped, also not at start-up. After POLL_MAX_FAILURES failures in a row the loop
 * exits as crashed and its supervisor decides whether to restart it.
 */
export class BotPoller {
  private readonly abort = new AbortController();
  private offset: number | undefined;
  /** Set when a renewal finds the lease taken: another poller owns the bot now. */
  private leaseLost = false;
  private readonly log: Logger;
  readonly done: Promise<PollerExit>;

  constructor(
    private readonly ctx: AppContext,
    readonly bot: ActiveBot,
    private readonly api: BotApi,
    private readonly queue: JobQueue<'updates'>,
    private readonly lease: Lease,
    private readonly hooks: PollerHooks,
  ) {
    this.log = ctx.log.child({ botId: bot.id });
    this.done = this.run().catch((err): PollerExit => ({ reason: 'crashed', error: describeError(err) }));
  }

  /** Stops after the current step; an in-flight long poll is aborted (its updates stay unconfirmed at Telegram). */
  async stop(): Promise<PollerExit> {
    this.abort.abort();
    return this.done;
  }

  private async heartbeat() {
    await beat(this.ctx.redis, this.ctx.keys, this.bot.id).catch(() => {});
  }

  private async run(): Promise<PollerExit> {
    const { signal } = this.abort;
    const bot = String(this.bot.id);
    let failures = 0;
    let lastError: string;
    const renewal = setInterval(
      () => {
        void this.lease
          .renew()
          .then(async (held) => {
            if (held) return this.heartbeat();
            // Another poller holds the lease (ours expired, e.g. this process stalled): end the in-flight long
            // poll now, or the new holder's getUpdates would overlap it (409) until it times out.
            this.leaseLost = true;
            this.abort.abort();
          })
          .catch(() => {});
      },
      Math.floor(this.lease.ttlMs / 3),
    );
    await this.heartbeat();
    try {
      while (!signal.aborted) {
        if (!this.lease.held && !(await this.lease.renew().catch(() => false))) return { reason: 'lease lost' };
        let updates: Update[];
        try {
          updates = await this.api.getUpdates(
            { offset: this.offset, limit: 100, timeout: POLL_TIMEOUT_SECONDS, allowed_updates: [...ALLOWED_UPDATES] },
            signal,
          );
          if (failures) this.hooks.onRecovered();
          failures = 0;
        } catch (err) {
          if (signal.aborted) break;
          if (isTelegramError(err, 401)) return { reason: 'token revoked' };
          const conflict = isTelegramError(err, 409);
          const kind = conflict ? 'conflict' : isTelegramError(err) ? `http_${err.code}` : 'network';
          this.ctx.metrics.pollErrors.inc({ bot, kind });
          await countForBot(this.ctx.redis, this.ctx.keys, this.bot.id, 'errors').catch(() => {});
          failures++;
          lastError = describeError(err);
          if (conflict)
            this.hooks.onProblem(
              '409 Conflict: another process is polling this token with getUpdates (or a webhook is set)',
            );
          else if (failures >= this.ctx.config.POLL_MAX_FAILURES)
            return { reason: 'crashed', error: `getUpdates failed ${failures} times in a row: ${lastError}` };
          // A 429 says exactly how long to wait; anything else backs off exponentially with jitter.
          const retryAfterMs = isTelegramError(err, 429) ? (err.parameters?.retry_after ?? 1) * 1000 : 0;
          const backoffMs =
            retryAfterMs || Math.min(30_000, 250 * 2 ** Math.min(failures, 7)) * (0.5 + Math.random() / 2);
          this.log.warn('getUpdates failed; retrying', { kind, error: lastError, backoffMs: Math.round(backoffMs) });
          // By the wall clock: a timer set late in a busy tick can fire that much early (+1: Date.now() floors).
          await sleepUntil(Date.now() + backoffMs + 1, signal);
          continue;
        }
        if (!updates.length) continue;
        const queued = await inSpan('poll batch', SpanKind.PRODUCER, (span) => {
          span.setAttributes({ 'nezuko.bot': this.bot.id, 'nezuko.updates': updates.length });
          return this.enqueue(updates);
        });
        if (!queued) break;
        this.offset = updates[updates.length - 1]!.update_id + 1;
        this.ctx.metrics.updatesPolled.inc({ bot }, updates.length);
        // Bookkeeping only: the next long poll need not wait for it.
        void countForBot(this.ctx.redis, this.ctx.keys, this.bot.id, 'updates_polled', updates.length).catch(() => {});
        void this.heartbeat();
        if (updates.length < 100) await sleep(LINGER_MS, signal);
      }
      return this.leaseLost ? { reason: 'lease lost' } : { reason: 'stopped' };
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
    const trace = traceCarrier();
    const { queued, leftOut } = worthQueueing(updates);
    for (const [reason, count] of leftOut)
      this.ctx.metrics.updatesNotQueued.inc({ bot: String(this.bot.id), reason }, count);
    if (!queued.length) return true;
    const page = {
      botInstanceId: this.bot.id,
      updates: queued,
      receivedAt,
      ...(trace ? { trace } : {}),
    };
    const jobId = pageJobId(
      this.bot.id,
      queued.map((u) => u.update_id),
    );
    for (let attempt = 1; ; attempt++) {
      try {
        await addJob(this.queue, 'page', page, { jobId });
        return true;
      } catch (err) {
        if (this.abort.signal.aborted) return false;
        this.log.error('queueing the page failed; retrying before confirming the batch', { attempt, err });
        await new Promise((r) => setTimeout(r, Math.min(5_000, 200 * attempt)));
      }
    }
  }
}
