import type { BotJob } from './job';

/**
 * A basic group upgraded to a supergroup becomes a new chat: Telegram posts `migrate_to_chat_id` in the old
 * chat and `migrate_from_chat_id` in the new one, and both reach the bot. The group's record (settings,
 * channels, whitelist, restrictions) moves to the new chat id, so protection carries on without a new
 * /protect. The new chat may already have a record of its own, made when the bot was promoted there: a bare
 * one (off, nothing linked) gives way; one an admin has set up stands, and the old record is switched off.
 * Whichever of the two messages comes second finds nothing left at the old id.
 */
export async function onGroupMigrated(job: BotJob, fromChatId: number, toChatId: number): Promise<void> {
  const botInstanceId = job.bot.id;
  const from = BigInt(fromChatId);
  const to = BigInt(toChatId);
  const outcome = await job.db.$transaction(async (tx) => {
    const old = await tx.protectedGroup.findUnique({
      where: { botInstanceId_chatId: { botInstanceId, chatId: from } },
    });
    if (!old) return 'nothing to move';
    const current = await tx.protectedGroup.findUnique({
      where: { botInstanceId_chatId: { botInstanceId, chatId: to } },
      include: { _count: { select: { channelLinks: true, whitelist: true, restrictions: true } } },
    });
    // The two messages are handled concurrently: every write below holds only while the old record is
    // still at the old id, and what the other handler already moved is never mistaken for the new chat's own.
    if (current && current.id !== old.id) {
      const { channelLinks, whitelist, restrictions } = current._count;
      if (current.enabled || channelLinks || whitelist || restrictions) {
        await tx.protectedGroup.updateMany({ where: { id: old.id, chatId: from }, data: { enabled: false } });
        return "kept the supergroup's own settings";
      }
      await tx.protectedGroup.deleteMany({ where: { id: current.id } });
    }
    await tx.protectedGroup.updateMany({
      where: { id: old.id, chatId: from },
      // The bare record knows the bot's rights in the new chat; the old one knew them in the basic group.
      data: {
        chatId: to,
        chatType: 'supergroup',
        ...(current &&
          current.id !== old.id && {
            title: current.title,
            username: current.username,
            missingRights: current.missingRights,
          }),
      },
    });
    return 'moved';
  });
  await job.groups.changed(botInstanceId, from);
  await job.groups.changed(botInstanceId, to);
  if (outcome !== 'nothing to move') job.log.info('group upgraded to a supergroup', { fromChatId, toChatId, outcome });
}
