import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { Prisma } from '../core/db';
import { errorFingerprint } from '../core/logger';
import type { CallbackQuery, ChatJoinRequest, ChatMemberUpdated, Message } from 'telegraf/types';
import { assertHandlers, updateJobs, type UpdateJobData, type UpdateJobName } from '../../queues';
import { BotUnavailableError, describeError, isTelegramError, isTransient, RateLimitedError } from '../core/telegram/errors';
import { onMyChatMember } from './bot-membership';
import { onCommand } from './commands';
import { CHECK_AGAIN_PREFIX, deleteMessage, expireRestriction, liftRestriction, reliftOldUnmute, VERIFY_PREFIX } from './enforce';
import { expireJoinRequest, onCheckAgain, onJoinRequest } from './join-requests';
import { onChatMember, onGroupMessage, onNewChatMembers, onVerifyButton } from './joins';
import { onGroupMigrated } from './migration';
import { RetryLaterError } from './retry-later';
import type { BotRuntime, VerifierDeps } from './runtime';
import { text } from './texts';
import { inSpan, SpanKind } from '../core/tracing';
import { classifyUpdate } from './update-schemas';

const DELETE_IF_EQUAL = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/** Skipped work is completed (never retried forever), logged and counted by reason. */
class SkipError extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** A job that hit a code error runs once more (the state it met may have been passing), then fails for good. */
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

async function onCallback(deps: VerifierDeps, rt: BotRuntime, query: CallbackQuery.DataQuery, startedAt: number) {
  const data = query.data;
  const verify = new RegExp(`^${VERIFY_PREFIX}(\\d{1,15})$`).exec(data);
  const checkAgain = new RegExp(`^${CHECK_AGAIN_PREFIX}(-\\d{1,15})$`).exec(data);
  const group = verify && query.message ? await deps.groups.get(rt.bot.id, query.message.chat.id) : checkAgain ? await deps.groups.get(rt.bot.id, Number(checkAgain[1])) : null;
  if (!group) {
    await rt.api.call('answerCallbackQuery', { callback_query_id: query.id, text: text('en', 'invalidButton'), show_alert: true }).catch(() => {});
    throw new SkipError(verify || checkAgain ? 'unknown_group' : 'forged_callback');
  }
  if (verify) return onVerifyButton(deps, rt, group, Number(verify[1]), query.from, query.id, startedAt);
  return onCheckAgain(deps, rt, group, query.from, query.id, startedAt);
}

async function onUpdate(deps: VerifierDeps, rt: BotRuntime, data: UpdateJobData<'update'>) {
  const kind = classifyUpdate(data.update);
  if ('skip' in kind) throw new SkipError(kind.skip);
  const startedAt = data.receivedAt;
  switch (kind.type) {
    case 'message': {
      const message = kind.payload as Message;
      if ('migrate_to_chat_id' in message) return onGroupMigrated(deps, rt, message.chat.id, message.migrate_to_chat_id);
      if ('migrate_from_chat_id' in message) return onGroupMigrated(deps, rt, message.migrate_from_chat_id, message.chat.id);
      if ('text' in message && message.text.startsWith('/') && (await onCommand(deps, rt, message))) return;
      if ('new_chat_members' in message) return onNewChatMembers(deps, rt, message, startedAt);
      if (message.chat.type === 'group' || message.chat.type === 'supergroup') return onGroupMessage(deps, rt, message, startedAt);
      return;
    }
    case 'callback_query': {
      const query = kind.payload as CallbackQuery;
      if (!('data' in query) || !query.data) throw new SkipError('callback_without_data');
      return onCallback(deps, rt, query, startedAt);
    }
    case 'chat_member':
      return onChatMember(deps, rt, kind.payload as ChatMemberUpdated, startedAt);
    case 'my_chat_member':
      return onMyChatMember(deps, rt, kind.payload as ChatMemberUpdated);
    case 'chat_join_request':
      return onJoinRequest(deps, rt, kind.payload as ChatJoinRequest, startedAt);
  }
}

/** /unprotect: lifts every open restriction of the group, a page at a time; a 429 midway resumes where it stopped. */
async function liftAll(deps: VerifierDeps, rt: BotRuntime, data: UpdateJobData<'lift-restrictions'>) {
  const group = await deps.ctx.db.protectedGroup.findFirst({ where: { id: data.groupId, botInstanceId: rt.bot.id } });
  if (!group) return;
  for (;;) {
    const page = await deps.ctx.db.restriction.findMany({ where: { groupId: group.id, liftedAt: null }, select: { userId: true }, take: 50, orderBy: { id: 'asc' } });
    if (!page.length) return;
    for (const { userId } of page) await liftRestriction(deps, rt, group, Number(userId), 'unprotected');
  }
}

type Handler<N extends UpdateJobName> = (deps: VerifierDeps, rt: BotRuntime, data: UpdateJobData<N>) => Promise<unknown>;
export type UpdateHandlers = { [N in UpdateJobName]: Handler<N> };
const handlers: UpdateHandlers = {
  update: onUpdate,
  'delete-prompt': async (deps, rt, data) => {
    await deleteMessage(rt, data.chatId, data.messageId);
    const where = { botInstanceId: rt.bot.id, promptMessageId: data.messageId, group: { chatId: BigInt(data.chatId) } };
    const owners = await deps.ctx.db.restriction.findMany({ where, select: { userId: true } });
    await deps.ctx.db.restriction.updateMany({ where, data: { promptMessageId: null } });
    // The prompt is gone: a later join may prompt again (unless the note already names a newer prompt).
    for (const { userId } of owners) {
      await deps.ctx.redis.eval(DELETE_IF_EQUAL, 1, deps.ctx.keys.bot(rt.bot.id, 'prompt', data.chatId, Number(userId)), String(data.messageId));
    }
  },
  'expire-join-request': (deps, rt, data) => expireJoinRequest(deps, rt, data.chatId, data.userId),
  'lift-restrictions': liftAll,
  'expire-restriction': (deps, rt, data) => expireRestriction(deps, rt, data.restrictionId),
  relift: (deps, rt, data) => reliftOldUnmute(deps, rt, data.restrictionId),
};
assertHandlers('updates', updateJobs, handlers);

/**
 * The BullMQ processor for one bot's queue. Errors are classified: skip (a payload or update that fails
 * validation, forged or unknown buttons) and a permanent 400/403 from Telegram complete the job; a 429 or an
 * open breaker hands it back delayed without spending an attempt; a code error (TypeError, RangeError, …) is
 * logged with its fingerprint, counted, and fails the job after CODE_ERROR_ATTEMPTS (it stays in Bull Board's
 * failed list); anything else is transient and retried with backoff.
 */
export function createProcessor(deps: VerifierDeps, rt: BotRuntime, table: UpdateHandlers = handlers) {
  const bot = String(rt.bot.id);
  return async (job: Job, token?: string): Promise<void> => {
    const started = performance.now();
    let outcome = 'ok';
    try {
      const name = job.name as UpdateJobName;
      const schema = updateJobs[name];
      if (!schema) throw new SkipError('unknown_job');
      const parsed = schema.safeParse(job.data);
      if (!parsed.success) throw new SkipError('malformed');
      if (parsed.data.botInstanceId !== rt.bot.id) throw new SkipError('wrong_bot');
      const carrier = 'trace' in parsed.data ? parsed.data.trace : undefined;
      await inSpan(`job ${name}`, SpanKind.CONSUMER, (span) => {
        span.setAttributes({ 'nezuko.bot': rt.bot.id, 'nezuko.job': String(job.id) });
        return (table[name] as Handler<UpdateJobName>)(deps, rt, parsed.data);
      }, carrier);
    } catch (err) {
      if (err instanceof SkipError) {
        outcome = 'skipped';
        deps.ctx.metrics.skippedUpdates.inc({ bot, reason: err.reason });
        rt.log.warn('job skipped', { jobId: job.id, job: job.name, reason: err.reason });
        return;
      }
      if (err instanceof RateLimitedError || err instanceof BotUnavailableError || err instanceof RetryLaterError) {
        outcome = 'delayed';
        const reason = err instanceof RateLimitedError ? 'rate_limited' : err instanceof BotUnavailableError ? 'bot_unavailable' : 'retry_later';
        deps.ctx.metrics.jobsHandedBack.inc({ bot, reason });
        await job.moveToDelayed(err.retryAt + Math.floor(Math.random() * 250), token);
        throw new DelayedError();
      }
      if (isTelegramError(err) && (err.code === 400 || err.code === 403)) {
        outcome = 'rejected';
        rt.log.warn('telegram refused; not retrying', { jobId: job.id, job: job.name, reason: err.description });
        return;
      }
      if (isCodeError(err) && !isTransient(err)) {
        outcome = 'code_error';
        const attempt = job.attemptsMade + 1;
        const fingerprint = errorFingerprint(err);
        deps.ctx.metrics.jobCodeErrors.inc({ bot, job: job.name });
        rt.log.error('job hit a code error', { jobId: job.id, job: job.name, attempt, fingerprint, err });
        if (attempt >= CODE_ERROR_ATTEMPTS) throw new UnrecoverableError(`code error ${fingerprint}: ${describeError(err)}`);
        throw err;
      }
      outcome = 'failed';
      rt.log.warn('job failed; will retry', { jobId: job.id, job: job.name, attempt: job.attemptsMade + 1, error: describeError(err) });
      throw err;
    } finally {
      deps.ctx.metrics.jobDuration.observe({ queue: 'updates', job: job.name, outcome }, (performance.now() - started) / 1000);
    }
  };
}
