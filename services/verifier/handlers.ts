import type { CallbackQuery, ChatMemberUpdated, Message } from 'telegraf/types';
import type { Job } from 'bullmq';
import {
  defineHandlers,
  jobProcessor,
  RetryLaterError,
  SkipError,
  updatesQueue,
  type UpdateJobData,
} from '../../queues';
import { onMyChatMember } from './bot-membership';
import { onCommand } from './commands';
import {
  CHECK_AGAIN_PREFIX,
  deleteEphemeralPrompt,
  deleteMessage,
  expireRestriction,
  forgetPromptNote,
  liftRestriction,
  reliftOldUnmute,
  VERIFY_PREFIX,
} from './enforce';
import { onGuardCheck, onGuardQuery, onGuardTimeout, type GuardJoinRequest } from './guard-bot';
import type { BotJob, BotScope } from './job';
import { expireJoinRequest, onCheckAgain, onJoinRequest } from './join-requests';
import { onChatMember, onGroupMessage, onNewChatMembers, onVerifyButton } from './joins';
import { onGroupMigrated } from './migration';
import { claimUpdate, markUpdateDone, onPage, updateSlots } from './page';
import { sendWaitingPrompts } from './prompt-waves';
import { text } from './texts';
import { classifyUpdate } from './update-schemas';

async function onCallback(job: BotJob, query: CallbackQuery.DataQuery) {
  const data = query.data;
  const verify = new RegExp(`^${VERIFY_PREFIX}(\\d{1,15})$`).exec(data);
  const checkAgain = new RegExp(`^${CHECK_AGAIN_PREFIX}(-\\d{1,15})$`).exec(data);
  const group =
    verify && query.message
      ? await job.groups.get(job.bot.id, query.message.chat.id)
      : checkAgain
        ? await job.groups.get(job.bot.id, Number(checkAgain[1]))
        : null;
  if (!group) {
    await job.api
      .call('answerCallbackQuery', { callback_query_id: query.id, text: text('en', 'invalidButton'), show_alert: true })
      .catch(() => {});
    throw new SkipError(verify || checkAgain ? 'unknown_group' : 'forged_callback');
  }
  if (verify) return onVerifyButton(job, group, Number(verify[1]), query.from, query.id, query.message);
  return onCheckAgain(job, group, query.from, query.id);
}

/** A Telegram update: validated (update-schemas.ts), then handed to the handler of its kind. */
async function onUpdate(job: BotJob, data: UpdateJobData<'update'>) {
  const kind = classifyUpdate(data.update);
  if ('skip' in kind) throw new SkipError(kind.skip);
  switch (kind.type) {
    case 'message': {
      const message = kind.payload as Message;
      if ('migrate_to_chat_id' in message) return onGroupMigrated(job, message.chat.id, message.migrate_to_chat_id);
      if ('migrate_from_chat_id' in message) return onGroupMigrated(job, message.migrate_from_chat_id, message.chat.id);
      if ('text' in message && message.text.startsWith('/') && (await onCommand(job, message))) return;
      if ('new_chat_members' in message) return onNewChatMembers(job, message);
      if (message.chat.type === 'group' || message.chat.type === 'supergroup') return onGroupMessage(job, message);
      return;
    }
    case 'callback_query': {
      const query = kind.payload as CallbackQuery;
      if (!('data' in query) || !query.data) throw new SkipError('callback_without_data');
      return onCallback(job, query);
    }
    case 'chat_member':
      return onChatMember(job, kind.payload as ChatMemberUpdated);
    case 'my_chat_member':
      return onMyChatMember(job, kind.payload as ChatMemberUpdated);
    case 'chat_join_request': {
      const request = kind.payload as GuardJoinRequest;
      return request.query_id ? onGuardQuery(job, request) : onJoinRequest(job, request);
    }
  }
}

/** A claim on an update held by a page or job that is on it (or died on it): look again this soon. */
const CLAIMED_RETRY_MS = 2_000;

/**
 * An update on its own (handed off by its page): claimed like a page's updates, so it is never handled twice
 * alongside a page that holds it too, and marked done after.
 */
async function onHandedOffUpdate(job: BotJob, data: UpdateJobData<'update'>, bullJob: Job) {
  const state = await claimUpdate(job, data.update.update_id, `job:${bullJob.id}`);
  if (state === 'done') return;
  if (state === 'busy')
    throw new RetryLaterError(Date.now() + CLAIMED_RETRY_MS, 'the update is claimed by another run');
  await updateSlots(job).run(() => onUpdate(job, data));
  await markUpdateDone(job, data.update.update_id);
}

/** /unprotect: lifts every open restriction of the group, a page at a time; a 429 midway resumes where it stopped. */
async function liftAll(job: BotJob, data: UpdateJobData<'lift-restrictions'>) {
  const group = await job.db.protectedGroup.findFirst({ where: { id: data.groupId, botInstanceId: job.bot.id } });
  if (!group) return;
  for (;;) {
    const page = await job.db.restriction.findMany({
      where: { groupId: group.id, liftedAt: null },
      select: { userId: true },
      take: 50,
      orderBy: { id: 'asc' },
    });
    if (!page.length) return;
    for (const { userId } of page) await liftRestriction(job, group, Number(userId), 'unprotected');
  }
}

/** The prompt's lifetime is over: delete it; a later join may prompt again. */
async function deletePrompt(job: BotJob, data: UpdateJobData<'delete-prompt'>) {
  await deleteMessage(job, data.chatId, data.messageId);
  const where = { botInstanceId: job.bot.id, promptMessageId: data.messageId, group: { chatId: BigInt(data.chatId) } };
  const owners = await job.db.restriction.findMany({ where, select: { userId: true } });
  await job.db.restriction.updateMany({ where, data: { promptMessageId: null } });
  for (const { userId } of owners) await forgetPromptNote(job, data.chatId, Number(userId), data.messageId);
}

/** Every job a bot's queue carries, and who handles it. */
export const updateHandlers = defineHandlers<'updates', BotJob>('updates', {
  page: (job, data, bullJob) => onPage(job, data, bullJob, onUpdate),
  update: onHandedOffUpdate,
  'delete-prompt': deletePrompt,
  'delete-ephemeral-prompt': deleteEphemeralPrompt,
  'send-prompts': sendWaitingPrompts,
  'expire-join-request': (job, data) => expireJoinRequest(job, data.chatId, data.userId),
  'guard-check': (job, data) => onGuardCheck(job, data.chatId, data.userId),
  'guard-timeout': (job, data) => onGuardTimeout(job, data.chatId, data.userId, data.queryId),
  'lift-restrictions': liftAll,
  'expire-restriction': (job, data) => expireRestriction(job, data.restrictionId),
  relift: (job, data) => reliftOldUnmute(job, data.restrictionId),
});
export type UpdateHandlers = typeof updateHandlers;

/**
 * The processor of one bot's queue: the contract's processor (queues/processor.ts) around these handlers, each
 * job in a BotJob of its own. A job that names another bot is skipped.
 */
export function botProcessor(scope: BotScope, handlers: UpdateHandlers = updateHandlers) {
  return jobProcessor({
    queue: updatesQueue(scope.bot.id),
    handlers,
    metrics: scope.metrics,
    log: scope.log,
    botId: scope.bot.id,
    refuse: (data) => (data.botInstanceId === scope.bot.id ? undefined : 'wrong_bot'),
    scope: (_job, data): BotJob => ({ ...scope, startedAt: 'receivedAt' in data ? data.receivedAt : Date.now() }),
  });
}
