import type { Message } from 'telegraf/types';
import { isTelegramError } from '../core/telegram/errors';
import { deleteMessage, recordMissingRight } from './enforce';
import type { GroupPolicy } from './groups';
import type { BotJob } from './job';

/** Deleted posts of one channel in one group are counted until a day passes without one. */
const COUNT_TTL_S = 86_400;

/**
 * A message written on behalf of a chat (`sender_chat`). The group's own are left alone: the group itself
 * (anonymous admins, `from` GroupAnonymousBot), its linked channel (automatic forwards and its admins' posts)
 * and the channels the group requires. Any other channel is someone posting as a channel of their own:
 * Telegram shows only the channel (`from` is Channel_Bot), so the person cannot be checked, and a muted or
 * unsubscribed user would get around every check that way. Such a post is deleted, and at its
 * `sender_chat_ban_after`-th deleted post (0 = never) the channel is banned from the group with
 * banChatSenderChat, which stops it writing there at all.
 */
export async function onForeignChannelPost(
  job: BotJob,
  group: GroupPolicy,
  message: Message,
  senderChat: { id: number; type: string },
): Promise<void> {
  const chatId = message.chat.id;
  if (senderChat.id === chatId || group.channels.some((c) => c.channelId === BigInt(senderChat.id))) return;
  if (BigInt(senderChat.id) === (await linkedChat(job, group))) return;
  const bot = String(job.bot.id);
  await deleteMessage(job, chatId, message.message_id);
  job.metrics.channelPosts.inc({ bot, action: 'deleted' });
  job.log.info('deleted a post written on behalf of a foreign channel', { chatId, senderChatId: senderChat.id });
  if (!group.senderChatBanAfter) return;
  // A set of message ids, so a retried job does not count its post twice.
  const key = job.keys.bot(job.bot.id, 'channel-posts', chatId, senderChat.id);
  const [, , count] = (await job.redis
    .multi()
    .sadd(key, String(message.message_id))
    .expire(key, COUNT_TTL_S)
    .scard(key)
    .exec())!.map(([, v]) => Number(v));
  if (count! < group.senderChatBanAfter) return;
  try {
    await job.api.call('banChatSenderChat', { chat_id: chatId, sender_chat_id: senderChat.id });
  } catch (err) {
    if (isTelegramError(err, 400) && /not enough rights|CHAT_ADMIN_REQUIRED/i.test(err.description))
      return recordMissingRight(job, group, 'can_restrict_members');
    throw err;
  }
  job.metrics.channelPosts.inc({ bot, action: 'banned' });
  job.log.info('banned a foreign channel from the group', { chatId, senderChatId: senderChat.id, posts: count });
}

/**
 * The group's linked discussion channel as Telegram has it now (getChat; posts on behalf of a channel are
 * rare, so the question is cheap), kept on the group's record.
 */
async function linkedChat(job: BotJob, group: GroupPolicy): Promise<bigint | null> {
  const chat = await job.api.call('getChat', { chat_id: Number(group.chatId) });
  const linked = 'linked_chat_id' in chat && chat.linked_chat_id ? BigInt(chat.linked_chat_id) : null;
  if (linked !== group.linkedChatId) {
    await job.db.protectedGroup.update({ where: { id: group.id }, data: { linkedChatId: linked } });
    await job.groups.changed(job.bot.id, group.chatId);
  }
  return linked;
}
