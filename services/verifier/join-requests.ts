import type { ChatJoinRequest, User } from 'telegraf/types';
import { addJob, expireJoinRequestJobId } from '../../queues';
import { isTelegramError } from '../core/telegram/errors';
import { CHECK_AGAIN_PREFIX, joinButtons, logDecision, plainChannelNames } from './enforce';
import type { ChannelPolicy, GroupPolicy } from './groups';
import { checkChannels, forgetMembership } from './membership';
import type { BotJob } from './job';
import { escapeHtml, text } from './texts';

/** Telegram lets the bot message a requester for 5 minutes; the request waits at most that long. */
const MAX_WAIT_SECONDS = 300;

const pendingKey = (job: BotJob, chatId: number, userId: number) =>
  job.keys.bot(job.bot.id, 'join-request', chatId, userId);

export async function settle(
  job: BotJob,
  method: 'approveChatJoinRequest' | 'declineChatJoinRequest',
  chatId: number,
  userId: number,
): Promise<boolean> {
  try {
    await job.api.call(method, { chat_id: chatId, user_id: userId });
    return true;
  } catch (err) {
    // Already handled by an admin, or the user is already in: nothing left to do.
    if (
      isTelegramError(err, 400) &&
      /HIDE_REQUESTER_MISSING|USER_ALREADY_PARTICIPANT|request not found/i.test(err.description)
    )
      return false;
    throw err;
  }
}

/** Join-request mode: approve subscribers at once; message the others with join buttons and wait for them. */
export async function onJoinRequest(job: BotJob, request: ChatJoinRequest): Promise<void> {
  const group = await job.groups.get(job.bot.id, request.chat.id);
  if (!group?.enabled || group.mode !== 'join_request' || request.from.is_bot) return;
  const chatId = request.chat.id;
  const userId = request.from.id;
  if (group.whitelist.has(BigInt(userId)) || !group.channels.length) {
    if (await settle(job, 'approveChatJoinRequest', chatId, userId))
      await logDecision(job, { chatId, userId, status: 'approved', cached: true });
    return;
  }
  const { missing, cached } = await checkChannels(job, group.channels, userId);
  if (!missing.length) {
    if (await settle(job, 'approveChatJoinRequest', chatId, userId))
      await logDecision(job, { chatId, userId, status: 'approved', cached });
    return;
  }
  await promptRequester(job, group, request, missing);
}

/** Messages the requester with join buttons and a "Check again" button; the request expires after the wait. */
export async function promptRequester(
  job: BotJob,
  group: GroupPolicy,
  request: ChatJoinRequest,
  missing: ChannelPolicy[],
): Promise<void> {
  const chatId = request.chat.id;
  const userId = request.from.id;
  const key = pendingKey(job, chatId, userId);
  if ((await job.redis.set(key, '1', 'EX', MAX_WAIT_SECONDS + 60, 'NX')) !== 'OK') return;
  const wait = Math.min(group.promptLifetimeSeconds, MAX_WAIT_SECONDS);
  await job.api.call('sendMessage', {
    chat_id: request.user_chat_id,
    text: text(group.language, 'joinRequestPrompt', {
      group: escapeHtml(group.title),
      channels: escapeHtml(plainChannelNames(missing)),
    }),
    parse_mode: 'HTML',
    reply_markup: {
      inline_keyboard: [
        ...joinButtons(group, missing),
        [{ text: text(group.language, 'checkAgainButton'), callback_data: `${CHECK_AGAIN_PREFIX}${chatId}` }],
      ],
    },
  });
  await addJob(
    job.queue,
    'expire-join-request',
    { botInstanceId: job.bot.id, chatId, userId },
    { delay: wait * 1000, jobId: expireJoinRequestJobId(job.bot.id, chatId, userId, request.date) },
  );
}

/** "Check again" in the private chat: approve once every channel is joined. */
export async function onCheckAgain(job: BotJob, group: GroupPolicy, user: User, callbackId: string) {
  const chatId = Number(group.chatId);
  const answer = (t: string, alert = true) =>
    job.api.call('answerCallbackQuery', { callback_query_id: callbackId, text: t, show_alert: alert });
  if (!(await job.redis.exists(pendingKey(job, chatId, user.id))))
    return void (await answer(text(group.language, 'invalidButton')));
  await forgetMembership(
    job,
    group.channels.map((c) => c.channelId),
    user.id,
  );
  const { missing } = await checkChannels(job, group.channels, user.id);
  if (missing.length)
    return void (await answer(text(group.language, 'stillMissing', { channels: plainChannelNames(missing) })));
  if ((await job.redis.del(pendingKey(job, chatId, user.id))) === 0)
    return void (await answer(text(group.language, 'invalidButton')));
  // The bot may message the requester only while the request is pending: tell them first, then settle it.
  await job.api
    .call('sendMessage', {
      chat_id: user.id,
      text: text(group.language, 'joinRequestApproved', { group: escapeHtml(group.title) }),
      parse_mode: 'HTML',
    })
    .catch(() => {});
  if (await settle(job, 'approveChatJoinRequest', chatId, user.id))
    await logDecision(job, { chatId, userId: user.id, status: 'approved', cached: false });
  await answer(text(group.language, 'joinRequestApproved', { group: group.title }), false);
}

/** The wait is over: a request still pending is declined. */
export async function expireJoinRequest(job: BotJob, chatId: number, userId: number): Promise<void> {
  if ((await job.redis.del(pendingKey(job, chatId, userId))) === 0) return;
  const started = Date.now();
  // The bot may message the requester only while the request is pending: tell them first, then decline.
  const group = await job.groups.get(job.bot.id, chatId);
  await job.api
    .call('sendMessage', {
      chat_id: userId,
      text: text(group?.language ?? 'en', 'joinRequestDeclined', { group: escapeHtml(group?.title ?? '') }),
      parse_mode: 'HTML',
    })
    .catch(() => {});
  if (!(await settle(job, 'declineChatJoinRequest', chatId, userId))) return;
  await logDecision(job, { chatId, userId, status: 'declined', cached: false, startedAt: started });
}
