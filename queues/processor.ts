import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { z } from 'zod';
import { Prisma } from '../services/core/db';
import { errorFingerprint, type Logger } from '../services/core/logger';
import type { Metrics } from '../services/core/metrics';
import {
  BotUnavailableError,
  describeError,
  isTelegramError,
  isTransient,
  RateLimitedError,
} from '../services/core/telegram/errors';
import { inSpan, SpanKind } from '../services/core/tracing';
import { JOBS, type JobData, type JobName, type QueueKind, type QueueRef } from './jobs';

/**
 * One way for every worker to run a job: validate the payload, run its handler, sort how it ended, count it.
 *
 * - completed: the handler returned (its value is the job's result).
 * - skipped: the payload fails its schema, the job is unknown, or the handler threw SkipError (a forged
 *   button, a group we do not know): completed, logged and counted by reason, never retried.
 * - delayed: Telegram asked the bot to wait (429), its breaker is open, or the handler threw RetryLaterError:
 *   handed back to the queue until then, without spending an attempt.
 * - rejected: Telegram refused the call for good (400, 403): completed, logged.
 * - code_error: an error only a code change fixes (TypeError, RangeError, …): logged with its fingerprint,
 *   counted (NezukoJobCodeError), retried once (the state it met may have been passing), then failed for good
 *   and kept in Bull Board's failed list.
 * - failed: anything else is transient: rethrown, and BullMQ retries with backoff.
 */

/** Thrown by a handler: there is nothing to do with this job. */
export class SkipError extends Error {
  override name = 'SkipError';
  constructor(readonly reason: string) {
    super(reason);
  }
}

/**
 * Someone else is deciding this very thing right now (another worker holds the claim): the job is handed back
 * delayed until `retryAt`, without spending an attempt, and then finds the decision made or the claim free.
 */
export class RetryLaterError extends Error {
  override name = 'RetryLaterError';
  constructor(
    readonly retryAt: number,
    reason: string,
  ) {
    super(reason);
  }
}

export class MissingHandlerError extends Error {
  override name = 'MissingHandlerError';
}

/** A job that hit a code error runs once more, then fails for good. */
export const CODE_ERROR_ATTEMPTS = 2;

/** Errors only a code change fixes: the same job would hit them on every retry. */
function isCodeError(err: unknown): err is Error {
  return (
    err instanceof TypeError ||
    err instanceof RangeError ||
    err instanceof ReferenceError ||
    err instanceof SyntaxError ||
    err instanceof Prisma.PrismaClientValidationError
  );
}

/** How an error ends a piece of work (a job, or one update of a page): see the top of this file. */
export type Ending =
  | { outcome: 'skipped'; reason: string }
  | { outcome: 'delayed'; reason: 'rate_limited' | 'bot_unavailable' | 'retry_later'; retryAt: number; why: string }
  | { outcome: 'rejected'; reason: string }
  | { outcome: 'code_error'; err: Error }
  | { outcome: 'failed' };

export function sortError(err: unknown): Ending {
  if (err instanceof SkipError) return { outcome: 'skipped', reason: err.reason };
  if (err instanceof RateLimitedError)
    return { outcome: 'delayed', reason: 'rate_limited', retryAt: err.retryAt, why: err.message };
  if (err instanceof BotUnavailableError)
    return { outcome: 'delayed', reason: 'bot_unavailable', retryAt: err.retryAt, why: "the bot's breaker is open" };
  if (err instanceof RetryLaterError)
    return { outcome: 'delayed', reason: 'retry_later', retryAt: err.retryAt, why: err.message };
  if (isTelegramError(err) && (err.code === 400 || err.code === 403))
    return { outcome: 'rejected', reason: err.description };
  if (isCodeError(err) && !isTransient(err)) return { outcome: 'code_error', err };
  return { outcome: 'failed' };
}

/** A job's handler: the worker's job-scoped object, the validated payload, and BullMQ's job (progress, timestamps). */
export type Handler<K extends QueueKind, N extends JobName<K>, S> = (
  scope: S,
  data: JobData<K, N>,
  job: Job,
) => Promise<unknown>;
export type Handlers<K extends QueueKind, S> = { [N in JobName<K>]: Handler<K, N, S> };

/**
 * Start-up check: every job name of a queue has exactly one handler and no handler is for an unknown job.
 * (A Record keyed by job name cannot hold two handlers for one name, so "exactly one" is "none missing".)
 */
export function assertHandlers(queue: string, jobs: Record<string, unknown>, handlers: Record<string, unknown>): void {
  const missing = Object.keys(jobs).filter((name) => typeof handlers[name] !== 'function');
  const unknown = Object.keys(handlers).filter((name) => !(name in jobs));
  if (missing.length || unknown.length) {
    const parts = [
      missing.length && `no handler for ${missing.join(', ')}`,
      unknown.length && `handler for unknown job ${unknown.join(', ')}`,
    ];
    throw new MissingHandlerError(`Queue ${queue}: ${parts.filter(Boolean).join('; ')}`);
  }
}

/** A queue kind's handler table, checked when its module loads: a process with a job it cannot handle never starts. */
export function defineHandlers<K extends QueueKind, S>(kind: K, handlers: Handlers<K, S>): Handlers<K, S> {
  assertHandlers(kind, JOBS[kind], handlers);
  return handlers;
}

export interface ProcessorOptions<K extends QueueKind, S> {
  queue: QueueRef<K>;
  handlers: Handlers<K, S>;
  metrics: Metrics;
  log: Logger;
  /** The bot whose queue this is: its skips are counted by reason, and hand-backs and code errors carry its label. */
  botId?: number;
  /** The object a handler works with for this one job, from the job and its validated payload. */
  scope: (job: Job, data: JobData<K, JobName<K>>) => S;
  /** Why a valid payload is still not this worker's to handle (it names another bot…), or undefined. */
  refuse?: (data: JobData<K, JobName<K>>) => string | undefined;
}

/** The BullMQ processor for a queue: see the top of this file for how each job ends. */
export function jobProcessor<K extends QueueKind, S>(
  options: ProcessorOptions<K, S>,
): (job: Job, token?: string) => Promise<unknown> {
  const { queue, handlers, metrics, log, botId } = options;
  const schemas = JOBS[queue.kind] as unknown as Record<string, z.ZodType<JobData<K, JobName<K>>>>;
  assertHandlers(queue.kind, schemas, handlers);
  const table = handlers as Record<string, Handler<K, JobName<K>, S>>;
  const bot = botId === undefined ? '' : String(botId);
  // Series start at 0, so the first code error is an increase Prometheus can see (NezukoJobCodeError).
  for (const job of Object.keys(schemas)) metrics.jobCodeErrors.inc({ bot, job }, 0);

  return async (job, token) => {
    const started = performance.now();
    let outcome = 'completed';
    try {
      const schema = schemas[job.name];
      if (!schema) throw new SkipError('unknown_job');
      const parsed = schema.safeParse(job.data);
      if (!parsed.success) throw new SkipError('malformed');
      const data = parsed.data;
      const refused = options.refuse?.(data);
      if (refused) throw new SkipError(refused);
      const carrier = (data as { trace?: Record<string, string> }).trace;
      return await inSpan(
        `job ${job.name}`,
        SpanKind.CONSUMER,
        (span) => {
          span.setAttributes({ 'nezuko.job': String(job.id), ...(botId === undefined ? {} : { 'nezuko.bot': botId }) });
          return table[job.name]!(options.scope(job, data), data, job);
        },
        carrier,
      );
    } catch (err) {
      const ending = sortError(err);
      if (ending.outcome === 'skipped') {
        outcome = 'skipped';
        if (botId !== undefined) metrics.skippedUpdates.inc({ bot, reason: ending.reason });
        log.warn('job skipped', { queue: queue.name, jobId: job.id, job: job.name, reason: ending.reason });
        return undefined;
      }
      if (ending.outcome === 'delayed') {
        outcome = 'delayed';
        metrics.jobsHandedBack.inc({ bot, reason: ending.reason });
        await job.moveToDelayed(ending.retryAt + Math.floor(Math.random() * 250), token);
        throw new DelayedError();
      }
      if (ending.outcome === 'rejected') {
        outcome = 'rejected';
        log.warn('telegram refused; not retrying', {
          queue: queue.name,
          jobId: job.id,
          job: job.name,
          reason: ending.reason,
        });
        return undefined;
      }
      const attempt = job.attemptsMade + 1;
      if (ending.outcome === 'code_error') {
        outcome = 'code_error';
        const fingerprint = errorFingerprint(ending.err);
        metrics.jobCodeErrors.inc({ bot, job: job.name });
        log.error('job hit a code error', {
          queue: queue.name,
          jobId: job.id,
          job: job.name,
          attempt,
          fingerprint,
          err,
        });
        if (attempt >= CODE_ERROR_ATTEMPTS)
          throw new UnrecoverableError(`code error ${fingerprint}: ${describeError(err)}`);
        throw err;
      }
      outcome = 'failed';
      const retrying = attempt < (job.opts.attempts ?? 1);
      log.warn(retrying ? 'job failed; will retry' : 'job failed', {
        queue: queue.name,
        jobId: job.id,
        job: job.name,
        attempt,
        error: describeError(err),
      });
      throw err;
    } finally {
      metrics.jobDuration.observe({ queue: queue.kind, job: job.name, outcome }, (performance.now() - started) / 1000);
    }
  };
}
