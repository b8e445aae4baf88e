// Channels in and around a protected group (issue 15, section 2): posts on behalf of a foreign channel, and a
// required channel the bot cannot check.
import { beforeAll, describe, expect, it } from 'vitest';
import { announceGroupChange } from '../../queues';
import { protectedGroup, usePlatform } from '../support/platform';
import { waitFor } from '../support/process';
import { logRows, promptsFor, settled, waitMuted, waitPrompt, waitReply, type Bot } from './helpers';

const platform = usePlatform();
let bot: Bot;

beforeAll(async () => {
  bot = await platform.addBot();
});

async function command(chatId: number, fromId: number, text: string) {
  const sent = await platform.client.sendMessage(chatId, { fromId, text });
  return (await waitReply(platform, chatId, sent.message_id)).text ?? '';
}

const visible = async (chatId: number) => (await platform.client.messages(chatId)).messages.map((m) => m.message_id);
const posts = async (action: string) =>
  (await platform.ctx.metrics.channelPosts.get()).values.find(
    (v) => v.labels.bot === String(bot.instanceId) && v.labels.action === action,
  )?.value ?? 0;

describe('posts on behalf of a channel', () => {
  it("a muted user posting as their own channel loses the post, and the channel is banned at its third; the group's own posts stay", async () => {
    const { client } = platform;
    const { group, owner, channels } = await protectedGroup(platform, bot, 1);
    // The group's linked discussion channel, linked after /protect (the bot learns it when it needs it).
    const linked = await client.createChat({
      type: 'channel',
      title: 'Discussion',
      username: `dl${Date.now().toString(36)}`,
      ownerId: owner.id,
      linkedChatId: group.id,
    });
    await client.updateChat(group.id, { linkedChatId: linked.id });
    const user = await client.createUser({ firstName: 'Sneaky' });
    const own = await client.createChat({ type: 'channel', title: 'Sneaky news', ownerId: user.id });
    await client.join(group.id, user.id);
    await waitMuted(platform, group.id, user.id);
    await waitPrompt(platform, group.id, user.id);
    // Muted, they cannot write as themselves; as their channel Telegram lets them.
    await expect(client.sendMessage(group.id, { fromId: user.id, text: 'let me in' })).rejects.toMatchObject({
      status: 403,
    });
    const before = { deleted: await posts('deleted'), banned: await posts('banned') };

    const mine = [];
    for (let i = 1; i <= 3; i++) {
      const post = await client.sendMessage(group.id, { fromId: user.id, senderChatId: own.id, text: `ad ${i}` });
      mine.push(post.message_id);
      await waitFor(
        async () => !(await visible(group.id)).includes(post.message_id),
        10_000,
        `post ${i} to be deleted`,
      );
      if (i < 3) expect((await client.getChat(group.id)).bannedSenderChats).not.toContain(own.id);
    }
    await waitFor(
      async () => (await client.getChat(group.id)).bannedSenderChats.includes(own.id),
      10_000,
      'the channel to be banned',
    );
    await expect(
      client.sendMessage(group.id, { fromId: user.id, senderChatId: own.id, text: 'ad 4' }),
    ).rejects.toMatchObject({ status: 403 });
    expect((await posts('deleted')) - before.deleted).toBe(3);
    expect((await posts('banned')) - before.banned).toBe(1);

    // Never touched: anonymous admins, the linked channel (its automatic forwards and its admins' posts as it),
    // and the channel the group requires.
    const anonymous = await client.sendMessage(group.id, { anonymousAdmin: true, text: 'from the admins' });
    const { forwarded } = await client.postToChannel(linked.id, 'news');
    const asLinked = await client.sendMessage(group.id, {
      fromId: owner.id,
      senderChatId: linked.id,
      text: 'as the linked channel',
    });
    const asRequired = await client.sendMessage(group.id, {
      fromId: owner.id,
      senderChatId: channels[0]!.id,
      text: 'as the required channel',
    });
    await settled(platform, bot);
    const now = await visible(group.id);
    for (const id of [anonymous.message_id, forwarded!.message_id, asLinked.message_id, asRequired.message_id])
      expect(now).toContain(id);
    expect((await client.getChat(group.id)).bannedSenderChats).toEqual([own.id]);
    const row = await platform.ctx.db.protectedGroup.findFirstOrThrow({ where: { chatId: BigInt(group.id) } });
    expect(row.linkedChatId).toBe(BigInt(linked.id));
    // /allow in reply to such a post would exempt Telegram's stand-in (every anonymous admin or channel): refused.
    const allow = await client.sendMessage(group.id, {
      fromId: owner.id,
      text: '/allow',
      replyToMessageId: anonymous.message_id,
    });
    expect((await waitReply(platform, group.id, allow.message_id)).text).toBe(
      'Reply to a message with /allow, or give a user id: /allow 123456',
    );
    expect(await platform.ctx.db.groupWhitelist.count({ where: { groupId: row.id } })).toBe(0);
  });

  it('with channel_ban_after 0, posts are only deleted', async () => {
    const { client } = platform;
    const { group, owner } = await protectedGroup(platform, bot, 1);
    expect(await command(group.id, owner.id, '/set channel_ban_after 0')).toBe(
      'channel_ban_after is now never (posts as channels are only deleted).',
    );
    expect(await command(group.id, owner.id, '/set channel_ban_after 101')).toMatch(
      /^Invalid value for channel_ban_after/,
    );
    const user = await client.createUser({ firstName: 'Poster' });
    const own = await client.createChat({ type: 'channel', title: 'Poster news', ownerId: user.id });
    await client.bulkJoin(group.id, [user.id]);
    for (let i = 1; i <= 4; i++) {
      const post = await client.sendMessage(group.id, { fromId: user.id, senderChatId: own.id, text: `post ${i}` });
      await waitFor(
        async () => !(await visible(group.id)).includes(post.message_id),
        10_000,
        `post ${i} to be deleted`,
      );
    }
    expect((await client.getChat(group.id)).bannedSenderChats).toEqual([]);
  });
});

describe('a required channel the bot cannot check', () => {
  it('is announced in the group once, shown by /status, and nobody is muted on a check that could not be made', async () => {
    const { client } = platform;
    const { group, owner, channels } = await protectedGroup(platform, bot, 2);
    const [open, closed] = channels as [(typeof channels)[0], (typeof channels)[0]];
    // The channel's owner takes the bot's admin rights away (Telegram then hides the member list from it).
    await client.setMember(closed.id, bot.id, { status: 'member' });
    const announced = async () =>
      (await client.messages(group.id)).messages.filter(
        (m) => m.from?.id === bot.id && m.text?.includes('I cannot see who is subscribed to'),
      );
    await waitFor(async () => (await announced()).length === 1, 10_000, 'the announcement');
    expect((await announced())[0]!.text).toContain(`@${closed.chat.username}`);

    // Subscribed to the channel that can be checked: not muted, whatever the other one would say.
    const fan = await client.createUser({ firstName: 'HalfKnown' });
    await client.join(open.id, fan.id);
    await client.join(group.id, fan.id);
    expect((await logRows(platform, group.id, fan.id, 1)).map((r) => [r.status, r.errorType])).toEqual([
      ['error', 'channel_unchecked'],
    ]);
    // Missing the checkable one: muted for that one only.
    const other = await client.createUser({ firstName: 'Missing' });
    await client.join(group.id, other.id);
    await waitMuted(platform, group.id, other.id);
    const prompt = await waitPrompt(platform, group.id, other.id);
    expect(prompt.text).toContain(`@${open.chat.username}`);
    expect(prompt.text).not.toContain(`@${closed.chat.username}`);
    await settled(platform, bot);
    expect((await client.member(group.id, fan.id)).status).toBe('member');
    expect(await promptsFor(platform, group.id, fan.id)).toHaveLength(0);
    expect(await announced()).toHaveLength(1);
    expect(await command(group.id, owner.id, '/status')).toContain(
      `Channels I cannot check (make me an admin there): @${closed.chat.username}`,
    );

    // Made an admin again: checked again, and /status says so.
    await client.makeAdmin(closed.id, bot.id, { can_invite_users: true });
    await waitFor(
      async () =>
        (await command(group.id, owner.id, '/status')).includes(
          'Channels I cannot check (make me an admin there): none',
        ),
      10_000,
      '/status to show the channel checkable',
    );
  });

  it('is found on a failed check too (a channel linked through the admin API where the bot is no admin), and told once however many checks fail', async () => {
    const { client } = platform;
    const { group, owner, channels } = await protectedGroup(platform, bot, 1);
    const extra = await client.createChat({
      type: 'channel',
      title: 'Not mine',
      username: `nm${Date.now().toString(36)}`,
      ownerId: owner.id,
    });
    // The bot was an admin there once (so the platform knows the channel), then lost it.
    await client.makeAdmin(extra.id, bot.id, { can_invite_users: true });
    await waitFor(
      () => platform.ctx.db.enforcedChannel.findFirst({ where: { channelId: BigInt(extra.id), botIsAdmin: true } }),
      10_000,
      'the channel to be known',
    );
    await client.setMember(extra.id, bot.id, { status: 'member' });
    await waitFor(
      () => platform.ctx.db.enforcedChannel.findFirst({ where: { channelId: BigInt(extra.id), botIsAdmin: false } }),
      10_000,
      'the demotion to be seen',
    );
    // Linked the way POST /api/v1/groups/:id/channels does it (no check of the bot's rights there).
    const row = await platform.ctx.db.protectedGroup.findFirstOrThrow({ where: { chatId: BigInt(group.id) } });
    const channel = await platform.ctx.db.enforcedChannel.findFirstOrThrow({ where: { channelId: BigInt(extra.id) } });
    await platform.ctx.db.groupChannelLink.create({
      data: { groupId: row.id, channelId: channel.id, botInstanceId: bot.instanceId },
    });
    await announceGroupChange(platform.ctx, bot.instanceId, group.id);

    const users = [];
    for (let i = 0; i < 3; i++) users.push(await client.createUser({ firstName: `Unchecked${i}` }));
    const required = channels[0]!.id;
    for (const u of users) {
      await client.join(required, u.id);
      await client.join(group.id, u.id);
    }
    await settled(platform, bot);
    for (const u of users) {
      expect((await logRows(platform, group.id, u.id, 1)).map((r) => r.errorType)).toEqual(['channel_unchecked']);
      expect((await client.member(group.id, u.id)).status).toBe('member');
    }
    const told = (await client.messages(group.id)).messages.filter((m) =>
      m.text?.includes('I cannot see who is subscribed to'),
    );
    expect(told.map((m) => m.text)).toEqual([expect.stringContaining(`@${extra.chat.username}`)]);
  });
});
