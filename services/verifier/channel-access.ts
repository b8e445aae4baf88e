import type { BotRuntime, VerifierDeps } from './runtime';
import { text } from './texts';

const toldKey = (deps: VerifierDeps, rt: BotRuntime, channelId: bigint) => deps.ctx.keys.bot(rt.bot.id, 'uncheckable-told', String(channelId));

/**
 * Whether the bot can read a required channel's members (enforced_channels.bot_is_admin). Telegram answers
 * getChatMember on a channel only to its admins ("member list is inaccessible"): that is "cannot check",
 * never "not subscribed", so nobody is muted for that channel meanwhile. The first sign of it (a check that
 * failed, or the bot demoted in the channel) marks the channel and tells every enabled group that requires
 * it, once (until the channel can be checked again); /status, the API and the dashboard show it meanwhile.
 */
export async function channelUncheckable(deps: VerifierDeps, rt: BotRuntime, channelId: bigint, reason: string): Promise<void> {
  const { count } = await deps.ctx.db.enforcedChannel.updateMany({ where: { botInstanceId: rt.bot.id, channelId, botIsAdmin: true }, data: { botIsAdmin: false } });
  const groups = await deps.groups.linkedToChannel(rt.bot.id, channelId);
  if (count) for (const group of groups) await deps.groups.changed(rt.bot.id, group.chatId);
  if (!groups.length || (await deps.ctx.redis.set(toldKey(deps, rt, channelId), reason.slice(0, 200), 'NX')) !== 'OK') return;
  rt.log.warn('cannot check a required channel: is the bot an admin there?', { channelId: String(channelId), reason });
  for (const group of groups) {
    const channel = group.channels.find((c) => c.channelId === channelId);
    const name = channel?.username ? `@${channel.username}` : (channel?.title ?? String(channelId));
    await rt.api
      .call('sendMessage', { chat_id: Number(group.chatId), text: text(group.language, 'channelUncheckable', { channel: name }) })
      .catch((err) => rt.log.info('could not tell the group about a channel it cannot check', { chatId: Number(group.chatId), err: String(err) }));
  }
}

/** A check worked (or the bot was made an admin there): the channel is checkable again. */
export async function channelCheckable(deps: VerifierDeps, rt: BotRuntime, channelId: bigint): Promise<void> {
  await deps.ctx.redis.del(toldKey(deps, rt, channelId));
  const { count } = await deps.ctx.db.enforcedChannel.updateMany({ where: { botInstanceId: rt.bot.id, channelId, botIsAdmin: false }, data: { botIsAdmin: true } });
  if (!count) return;
  rt.log.info('a required channel can be checked again', { channelId: String(channelId) });
  for (const group of await deps.groups.linkedToChannel(rt.bot.id, channelId)) await deps.groups.changed(rt.bot.id, group.chatId);
}
