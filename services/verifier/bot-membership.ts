import type { ChatMemberAdministrator, ChatMemberUpdated } from 'telegraf/types';
import { channelCheckable, channelUncheckable } from './channel-access';
import type { BotJob } from './job';
import { text } from './texts';

const GROUP_RIGHTS = ['can_restrict_members', 'can_delete_messages', 'can_invite_users'] as const;

/** Rights the bot lacks in a group, from its own ChatMember. */
export function missingGroupRights(member: ChatMemberUpdated['new_chat_member']): Array<(typeof GROUP_RIGHTS)[number]> {
  if (member.status === 'creator') return [];
  if (member.status !== 'administrator') return [...GROUP_RIGHTS];
  return GROUP_RIGHTS.filter((right) => !(member as ChatMemberAdministrator)[right]);
}

/**
 * my_chat_member: the bot was added, promoted, demoted or removed. Groups and channels are registered (a
 * group stays off until an admin runs /protect), missing rights are recorded and announced once, and a group
 * the bot left is disabled.
 */
export async function onMyChatMember(job: BotJob, update: ChatMemberUpdated): Promise<void> {
  const { db } = job;
  const chat = update.chat;
  const status = update.new_chat_member.status;
  const present =
    status === 'member' ||
    status === 'administrator' ||
    status === 'creator' ||
    (status === 'restricted' && (update.new_chat_member as { is_member?: boolean }).is_member === true);
  const title = ('title' in chat && chat.title?.trim()) || String(chat.id);
  const username = ('username' in chat && chat.username) || null;

  if (chat.type === 'channel') {
    const botIsAdmin = status === 'administrator' || status === 'creator';
    // Demoted in (or removed from) a channel a group requires: its members can no longer be checked.
    if (botIsAdmin) await channelCheckable(job, BigInt(chat.id));
    else await channelUncheckable(job, BigInt(chat.id), `bot is ${status} in the channel`);
    await db.enforcedChannel.upsert({
      where: { botInstanceId_channelId: { botInstanceId: job.bot.id, channelId: BigInt(chat.id) } },
      create: { botInstanceId: job.bot.id, channelId: BigInt(chat.id), title, username, botIsAdmin },
      update: { title, username, botIsAdmin, lastSyncAt: new Date() },
    });
    return;
  }
  if (chat.type !== 'group' && chat.type !== 'supergroup') return;
  const chatId = BigInt(chat.id);

  if (!present) {
    await db.protectedGroup.updateMany({
      where: { botInstanceId: job.bot.id, chatId },
      data: { enabled: false, botRemovedAt: new Date() },
    });
    await db.restriction.updateMany({
      where: { botInstanceId: job.bot.id, group: { chatId }, liftedAt: null },
      data: { liftedAt: new Date(), liftReason: 'bot_removed' },
    });
    await job.groups.changed(job.bot.id, chatId);
    return;
  }

  const missing = missingGroupRights(update.new_chat_member);
  const before = await db.protectedGroup.findUnique({
    where: { botInstanceId_chatId: { botInstanceId: job.bot.id, chatId } },
  });
  const group = await db.protectedGroup.upsert({
    where: { botInstanceId_chatId: { botInstanceId: job.bot.id, chatId } },
    create: { botInstanceId: job.bot.id, chatId, title, username, chatType: chat.type, missingRights: missing },
    update: {
      title,
      username,
      chatType: chat.type,
      missingRights: missing,
      botRemovedAt: null,
      lastSyncAt: new Date(),
    },
  });
  await job.groups.changed(job.bot.id, chatId);
  // Tell the group once per change of what is missing, not on every update.
  const changed =
    !before ||
    before.missingRights.slice().sort().join() !== missing.slice().sort().join() ||
    before.botRemovedAt !== null;
  if (missing.length && changed) {
    await job.api
      .call('sendMessage', {
        chat_id: chat.id,
        text: text(group.language, 'missingRights', { rights: missing.join(', ') }),
      })
      .catch((err) => job.log.info('could not announce missing rights', { chatId: chat.id, err: String(err) }));
    await db.protectedGroup.update({ where: { id: group.id }, data: { rightsNotifiedAt: new Date() } });
  }
}
