import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { usePlatform } from '../support/platform';
import { waitFor } from '../support/process';
import { logRows, waitMuted, waitPrompt, type Bot } from './helpers';

const platform = usePlatform();
let bot: Bot;

beforeAll(async () => {
  bot = await platform.addBot();
});

/** The bot's replies to a message, in order. */
async function replies(chatId: number, messageId: number, count: number): Promise<Array<string | undefined>> {
  return (await waitFor(
    async () => {
      const found = (await platform.client.messages(chatId)).messages.filter(
        (m) => m.reply_to_message?.message_id === messageId && m.from?.is_bot,
      );
      return found.length >= count ? found.map((m) => m.text) : undefined;
    },
    15_000,
    `${count} replies to message ${messageId}`,
  ))!;
}

describe('a basic group upgraded to a supergroup', () => {
  it('keeps its protection, settings and whitelist under the new chat id', async () => {
    const { client } = platform;
    const owner = await client.createUser({ firstName: 'Owner' });
    const group = await client.createChat({
      type: 'group',
      title: `Basic ${randomBytes(2).toString('hex')}`,
      ownerId: owner.id,
    });
    const channel = await client.createChat({
      type: 'channel',
      title: 'News',
      username: `ch${randomBytes(4).toString('hex')}`,
      ownerId: owner.id,
    });
    await client.makeAdmin(channel.id, bot.id, { can_invite_users: true, can_post_messages: true });
    await client.makeAdmin(group.id, bot.id, {
      can_restrict_members: true,
      can_delete_messages: true,
      can_invite_users: true,
    });

    // Telegram mutes only in supergroups: the admin is told, and the settings are kept for the upgrade.
    const protect = await client.sendMessage(group.id, {
      fromId: owner.id,
      text: `/protect @${channel.chat.username}`,
    });
    const [on, basic] = await replies(group.id, protect.message_id, 2);
    expect(on).toContain('Protection is on');
    expect(basic).toMatch(/^Telegram lets bots mute members only in supergroups\./);
    const friend = await client.createUser({ firstName: 'Friend' });
    const allow = await client.sendMessage(group.id, { fromId: owner.id, text: `/allow ${friend.id}` });
    const set = await client.sendMessage(group.id, { fromId: owner.id, text: '/set prompt_lifetime 2m' });
    await replies(group.id, allow.message_id, 1);
    await replies(group.id, set.message_id, 1);
    // A joiner before the upgrade: nothing can be enforced yet, and nothing is recorded as if it had been.
    const early = await client.createUser({ firstName: 'Early' });
    await client.join(group.id, early.id);

    const { chat: supergroup } = await client.migrateToSupergroup(group.id);
    const row = await waitFor(
      () =>
        platform.ctx.db.protectedGroup.findFirst({
          where: { botInstanceId: bot.instanceId, chatId: BigInt(supergroup.id) },
          include: { whitelist: true, channelLinks: { include: { channel: true } } },
        }),
      15_000,
      'the group record to move to the supergroup',
    );
    expect(row).toMatchObject({ enabled: true, chatType: 'supergroup', promptLifetimeSeconds: 120 });
    expect(row!.whitelist.map((w) => Number(w.userId))).toEqual([friend.id]);
    expect(row!.channelLinks.map((l) => Number(l.channel.channelId))).toEqual([channel.id]);
    expect(
      await platform.ctx.db.protectedGroup.count({
        where: { botInstanceId: bot.instanceId, chatId: BigInt(group.id) },
      }),
    ).toBe(0);

    // Enforced in the supergroup at once: a non-subscriber is muted and prompted, the whitelisted friend is not.
    const stranger = await client.createUser({ firstName: 'Stranger' });
    await client.join(supergroup.id, friend.id);
    await client.join(supergroup.id, stranger.id);
    await waitMuted(platform, supergroup.id, stranger.id);
    const prompt = await waitPrompt(platform, supergroup.id, stranger.id);
    expect(prompt.text).toContain(`@${channel.chat.username}`);
    expect((await logRows(platform, supergroup.id, friend.id, 1)).map((r) => r.status)).toEqual(['skipped']);
    expect((await client.member(supergroup.id, friend.id)).status).toBe('member');
    const open = await platform.ctx.db.restriction.findMany({ where: { groupId: row!.id, liftedAt: null } });
    expect(open.map((r) => Number(r.userId))).toEqual([stranger.id]);
    const { calls } = await client.calls(bot.id, { method: 'restrictChatMember' });
    expect(calls.filter((c) => c.params.chat_id === group.id)).toEqual([]);
  });

  it('moves the record of a group nobody has protected yet, once, whichever message comes first', async () => {
    const { client } = platform;
    const owner = await client.createUser({ firstName: 'Owner' });
    const group = await client.createChat({
      type: 'group',
      title: `Plain ${randomBytes(2).toString('hex')}`,
      ownerId: owner.id,
    });
    await client.makeAdmin(group.id, bot.id, {
      can_restrict_members: true,
      can_delete_messages: true,
      can_invite_users: true,
    });
    await waitFor(
      () =>
        platform.ctx.db.protectedGroup.findFirst({
          where: { botInstanceId: bot.instanceId, chatId: BigInt(group.id) },
        }),
      15_000,
      'the group to be registered',
    );

    const { chat: supergroup } = await client.migrateToSupergroup(group.id);
    // Both service messages are handled, concurrently: neither may take the moved record for a stale one.
    await waitFor(
      async () =>
        (await client.pendingUpdates(bot.id)).updates.length === 0 &&
        (await platform.ctx.db.protectedGroup.count({
          where: { botInstanceId: bot.instanceId, chatId: BigInt(group.id) },
        })) === 0,
      15_000,
      'the old record to move',
    );
    await new Promise((r) => setTimeout(r, 1_000));
    const rows = await platform.ctx.db.protectedGroup.findMany({
      where: { botInstanceId: bot.instanceId, chatId: { in: [BigInt(group.id), BigInt(supergroup.id)] } },
    });
    expect(rows.map((r) => [Number(r.chatId), r.chatType, r.enabled])).toEqual([[supergroup.id, 'supergroup', false]]);

    // /protect works there as in any supergroup.
    const channel = await client.createChat({
      type: 'channel',
      title: 'News',
      username: `ch${randomBytes(4).toString('hex')}`,
      ownerId: owner.id,
    });
    await client.makeAdmin(channel.id, bot.id, { can_invite_users: true, can_post_messages: true });
    const protect = await client.sendMessage(supergroup.id, {
      fromId: owner.id,
      text: `/protect @${channel.chat.username}`,
    });
    expect(await replies(supergroup.id, protect.message_id, 1)).toEqual([expect.stringContaining('Protection is on')]);
  });
});
