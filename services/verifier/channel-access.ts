import type { BotJob } from './job';
import { text } from './texts';

const toldKey = (job: BotJob, channelId: bigint) => job.keys.bot(job.bot.id, 'uncheckable-told', String(channelId));

/**
 * Whether the bot can read a required channel's members (enforced_channels.bot_is_admin). Telegram answers
 * getChatMember on a channel only to its admins ("member list is inaccessible"): that is "cannot check",
 * never "not subscribed", so nobody is muted for that channel meanwhile. The first sign of it (a check that
 * failed, or the bot demoted in the channel) marks the channel and tells every enabled group that requires
 * it, once (until the channel can be checked again); /status, the API and the dashboard show it meanwhile.
 */
export async function channelUncheckable(job: BotJob, channelId: bigint, reason: string): Promise<void> {
  const { count } = await job.db.enforcedChannel.updateMany({
    where: { botInstanceId: job.bot.id, channelId, botIsAdmin: true },
    data: { botIsAdmin: false },
  });
  const groups = await job.groups.linkedToChannel(job.bot.id, channelId);
  if (count) for (const group of groups) await job.groups.changed(job.bot.id, group.chatId);
  if (!groups.length || (await job.redis.set(toldKey(job, channelId), reason.slice(0, 200), 'NX')) !== 'OK') return;
  job.log.warn('cannot check a required channel: is the bot an admin there?', { channelId: String(channelId), reason });
  for (const group of groups) {
    const channel = group.channels.find((c) => c.channelId === channelId);
    const name = channel?.username ? `@${channel.username}` : (channel?.title ?? String(channelId));
    await job.api
      .call('sendMessage', {
        chat_id: Number(group.chatId),
        text: text(group.language, 'channelUncheckable', { channel: name }),
      })
      .catch((err) =>
        job.log.info('could not tell the group about a channel it cannot check', {
          chatId: Number(group.chatId),
          err: String(err),
        }),
      );
  }
}

/** A check worked (or the bot was made an admin there): the channel is checkable again. */
export async function channelCheckable(job: BotJob, channelId: bigint): Promise<void> {
  await job.redis.del(toldKey(job, channelId));
  const { count } = await job.db.enforcedChannel.updateMany({
    where: { botInstanceId: job.bot.id, channelId, botIsAdmin: false },
    data: { botIsAdmin: true },
  });
  if (!count) return;
  job.log.info('a required channel can be checked again', { channelId: String(channelId) });
  for (const group of await job.groups.linkedToChannel(job.bot.id, channelId))
    await job.groups.changed(job.bot.id, group.chatId);
}
