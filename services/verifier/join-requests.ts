import type { ChatJoinRequest, User } from 'telegraf/types';
import { isTelegramError } from '../core/telegram/errors';
import { CHECK_AGAIN_PREFIX, joinButtons, logDecision, plainChannelNames } from './enforce';
import type { GroupPolicy } from './groups';
import { checkChannels, forgetMembership } from './membership';
import type { BotRuntime, VerifierDeps } from './runtime';
import { escapeHtml, text } from './texts';

/** Telegram lets the bot message a requester for 5 minutes; the request waits at most that long. */
const MAX_WAIT_SECONDS = 300;

const pendingKey = (deps: VerifierDeps, rt: BotRuntime, chatId: number, userId: number) => deps.ctx.keys.bot(rt.bot.id, 'join-request', chatId, userId);

async function settle(rt: BotRuntime, method: 'approveChatJoinRequest' | 'declineChatJoinRequest', chatId: number, userId: number): Promise<boolean> {
  try {
    await rt.api.call(method, { chat_id: chatId, user_id: userId });
    return true;
  } catch (err) {
    // Already handled by an admin, or the user is already in: nothing left to do.
    if (isTelegramError(err, 400) && /HIDE_REQUESTER_MISSING|USER_ALREADY_PARTICIPANT|request not found/i.test(err.description)) return false;
    throw err;
  }
}

/** Join-request mode: approve subscribers at once; message the others with join buttons and wait for them. */
export async function onJoinRequest(deps: VerifierDeps, rt: BotRuntime, request: ChatJoinRequest, startedAt: number): Promise<void> {
  const group = await deps.groups.get(rt.bot.id, request.chat.id);
  if (!group?.enabled || group.mode !== 'join_request' || request.from.is_bot) return;
  const chatId = request.chat.id;
  const userId = request.from.id;
  if (group.whitelist.has(BigInt(userId)) || !group.channels.length) {
    if (await settle(rt, 'approveChatJoinRequest', chatId, userId)) await logDecision(deps, rt, chatId, userId, 'approved', startedAt, true);
    return;
  }
  const { missing, cached } = await checkChannels(deps, rt, group.channels, userId);
  if (!missing.length) {
    if (await settle(rt, 'approveChatJoinRequest', chatId, userId)) await logDecision(deps, rt, chatId, userId, 'approved', startedAt, cached);
    return;
  }
  const key = pendingKey(deps, rt, chatId, userId);
  if ((await deps.ctx.redis.set(key, '1', 'EX', MAX_WAIT_SECONDS + 60, 'NX')) !== 'OK') return;
  const wait = Math.min(group.promptLifetimeSeconds, MAX_WAIT_SECONDS);
  await rt.api.call('sendMessage', {
    chat_id: request.user_chat_id,
    text: text(group.language, 'joinRequestPrompt', { group: escapeHtml(group.title), channels: escapeHtml(plainChannelNames(missing)) }),
    parse_mode: 'HTML',
    reply_markup: { inline_keyboard: [...joinButtons(group, missing), [{ text: text(group.language, 'checkAgainButton'), callback_data: `${CHECK_AGAIN_PREFIX}${chatId}` }]] },
  });
  await rt.queue.add('expire-join-request', { botInstanceId: rt.bot.id, chatId, userId }, { delay: wait * 1000, jobId: `jr-${rt.bot.id}-${-chatId}-${userId}-${request.date}` });
}

/** "Check again" in the private chat: approve once every channel is joined. */
export async function onCheckAgain(deps: VerifierDeps, rt: BotRuntime, group: GroupPolicy, user: User, callbackId: string, startedAt: number) {
  const chatId = Number(group.chatId);
  const answer = (t: string, alert = true) => rt.api.call('answerCallbackQuery', { callback_query_id: callbackId, text: t, show_alert: alert });
  if (!(await deps.ctx.redis.exists(pendingKey(deps, rt, chatId, user.id)))) return void (await answer(text(group.language, 'invalidButton')));
  await forgetMembership(deps, rt, group.channels.map((c) => c.channelId), user.id);
  const { missing } = await checkChannels(deps, rt, group.channels, user.id);
  if (missing.length) return void (await answer(text(group.language, 'stillMissing', { channels: plainChannelNames(missing) })));
  if ((await deps.ctx.redis.del(pendingKey(deps, rt, chatId, user.id))) === 0) return void (await answer(text(group.language, 'invalidButton')));
  // The bot may message the requester only while the request is pending: tell them first, then settle it.
  await rt.api.call('sendMessage', { chat_id: user.id, text: text(group.language, 'joinRequestApproved', { group: escapeHtml(group.title) }), parse_mode: 'HTML' }).catch(() => {});
  if (await settle(rt, 'approveChatJoinRequest', chatId, user.id)) await logDecision(deps, rt, chatId, user.id, 'approved', startedAt, false);
  await answer(text(group.language, 'joinRequestApproved', { group: group.title }), false);
}

/** The wait is over: a request still pending is declined. */
export async function expireJoinRequest(deps: VerifierDeps, rt: BotRuntime, chatId: number, userId: number): Promise<void> {
  if ((await deps.ctx.redis.del(pendingKey(deps, rt, chatId, userId))) === 0) return;
  const started = Date.now();
  // The bot may message the requester only while the request is pending: tell them first, then decline.
  const group = await deps.groups.get(rt.bot.id, chatId);
  await rt.api
    .call('sendMessage', { chat_id: userId, text: text(group?.language ?? 'en', 'joinRequestDeclined', { group: escapeHtml(group?.title ?? '') }), parse_mode: 'HTML' })
    .catch(() => {});
  if (!(await settle(rt, 'declineChatJoinRequest', chatId, userId))) return;
  await logDecision(deps, rt, chatId, userId, 'declined', started, false);
}
