import { beforeAll, describe, expect, it } from 'vitest';
import { protectedGroup, usePlatform } from '../support/platform';
import { waitFor } from '../support/process';
import {
  buttons,
  logRows,
  press,
  promptsFor,
  settled,
  waitMuted,
  waitPrompt,
  waitReply,
  waitUnmuted,
  type Bot,
} from './helpers';

const platform = usePlatform();
let bot: Bot;

beforeAll(async () => {
  bot = await platform.addBot();
});

/** Sends a command and waits for the bot's reply to it. */
async function command(chatId: number, fromId: number, text: string) {
  const sent = await platform.client.sendMessage(chatId, { fromId, text });
  return (await waitReply(platform, chatId, sent.message_id)).text ?? '';
}

describe('commands', () => {
  it('gives non-admins a short reply and changes nothing', async () => {
    const { client } = platform;
    const { group, channels } = await protectedGroup(platform, bot, 1);
    const member = await client.createUser({ firstName: 'Member' });
    await client.join(channels[0]!.id, member.id);
    await client.join(group.id, member.id);
    await logRows(platform, group.id, member.id, 1);

    expect(await command(group.id, member.id, '/unprotect')).toBe('Only group admins can use this command.');
    expect(await command(group.id, member.id, `/set@${bot.username} mode join_request`)).toBe(
      'Only group admins can use this command.',
    );
    const row = await platform.ctx.db.protectedGroup.findFirstOrThrow({ where: { chatId: BigInt(group.id) } });
    expect(row.enabled).toBe(true);
    expect(row.mode).toBe('mute');

    // A command is no way around the channel check: a non-subscriber's message still goes.
    const outsider = await client.createUser({ firstName: 'Outsider' });
    await client.bulkJoin(group.id, [outsider.id]);
    const spam = await client.sendMessage(group.id, {
      fromId: outsider.id,
      text: '/help buy followers at spam.example',
    });
    expect((await waitReply(platform, group.id, spam.message_id)).text).toBe('Only group admins can use this command.');
    await waitMuted(platform, group.id, outsider.id);
    await waitPrompt(platform, group.id, outsider.id);
    await waitFor(
      async () => (await client.messages(group.id)).messages.every((m) => m.message_id !== spam.message_id),
      10_000,
      'the message to be deleted',
    );
  });

  it('answers invalid /set values with a friendly error and keeps the setting', async () => {
    const { group, owner } = await protectedGroup(platform, bot, 1);
    expect(await command(group.id, owner.id, '/set prompt_lifetime 5')).toBe(
      'Invalid value for prompt_lifetime: 10 s to 1 d (e.g. 300, 5m)',
    );
    expect(await command(group.id, owner.id, '/set mute_duration soon')).toMatch(/^Invalid value for mute_duration: /);
    expect(await command(group.id, owner.id, '/set language xx')).toBe('Invalid value for language: en, ru');
    expect(await command(group.id, owner.id, '/set colour red')).toMatch(/^Usage: \/set /);
    expect(await command(group.id, owner.id, '/set mode')).toMatch(/^Usage: \/set /);
    expect(await command(group.id, owner.id, '/set prompt_lifetime 2m')).toBe('prompt_lifetime is now 120 s.');
    const row = await platform.ctx.db.protectedGroup.findFirstOrThrow({ where: { chatId: BigInt(group.id) } });
    expect(row).toMatchObject({ promptLifetimeSeconds: 120, muteDurationSeconds: 0, language: 'en' });
  });

  it("prompts in Russian when the group's language is ru", async () => {
    const { client } = platform;
    const { group, owner, channels } = await protectedGroup(platform, bot, 1);
    expect(await command(group.id, owner.id, '/set language ru')).toBe('language теперь ru.');
    const user = await client.createUser({ firstName: 'Иван' });
    await client.join(group.id, user.id);
    await waitMuted(platform, group.id, user.id);
    const prompt = await waitPrompt(platform, group.id, user.id);
    expect(prompt.text).toContain('чтобы писать в этой группе');
    expect(prompt.text).toContain(`@${channels[0]!.chat.username}`);
    expect(buttons(prompt).map((b) => b.text)).toEqual(['Подписаться: Channel 1', '✅ Я подписался']);
    const answer = await press(platform, group.id, prompt.message_id, user.id, `v:${user.id}`);
    expect(answer.text).toBe(`Вы ещё не подписались: @${channels[0]!.chat.username}`);
  });
});

describe('rights', () => {
  it('records a missing restrict right, tells the group, and logs the failed mute without crashing', async () => {
    const { client } = platform;
    const { group, owner } = await protectedGroup(platform, bot, 1);
    // The owner takes the restrict right away from the bot.
    await client.makeAdmin(group.id, bot.id, { can_delete_messages: true, can_invite_users: true });
    await waitFor(
      async () =>
        (await client.messages(group.id)).messages.some(
          (m) => m.from?.id === bot.id && /can_restrict_members/.test(m.text ?? ''),
        ),
      10_000,
      'the missing-rights notice',
    );
    const user = await client.createUser({ firstName: 'Unmutable' });
    await client.join(group.id, user.id);

    const [row] = await logRows(platform, group.id, user.id, 1);
    expect(row).toMatchObject({ status: 'error', errorType: 'no_rights' });
    const saved = await platform.ctx.db.protectedGroup.findFirstOrThrow({ where: { chatId: BigInt(group.id) } });
    expect(saved.missingRights).toEqual(['can_restrict_members']);
    expect((await client.member(group.id, user.id)).status).toBe('member');
    expect(await promptsFor(platform, group.id, user.id)).toHaveLength(0);
    // Still serving the group.
    expect(await command(group.id, owner.id, '/status')).toContain('Missing rights: can_restrict_members');
  });
});

describe('/unprotect', () => {
  it('unmutes everyone the bot muted, and only them', async () => {
    const { client } = platform;
    const { group, owner } = await protectedGroup(platform, bot, 1);
    const users = await Promise.all([1, 2, 3].map((i) => client.createUser({ firstName: `Muted${i}` })));
    for (const u of users) await client.join(group.id, u.id);
    for (const u of users) await waitPrompt(platform, group.id, u.id);
    const byAdmin = await client.createUser({ firstName: 'AdminMuted' });
    await client.join(group.id, byAdmin.id);
    await waitPrompt(platform, group.id, byAdmin.id);
    // The admin takes over this one: a mute of their own, kept when protection ends.
    await client.setMember(group.id, byAdmin.id, {
      status: 'restricted',
      permissions: { can_send_messages: false, can_send_photos: true },
    });
    await platform.ctx.db.restriction.updateMany({
      where: { userId: BigInt(byAdmin.id) },
      data: { liftedAt: new Date(), liftReason: 'manual' },
    });

    expect(await command(group.id, owner.id, '/unprotect')).toBe(
      'Protection is off. I am unmuting everyone I muted here.',
    );
    for (const u of users) await waitUnmuted(platform, group.id, u.id);
    await waitFor(
      async () =>
        (await platform.ctx.db.restriction.count({
          where: { group: { chatId: BigInt(group.id) }, liftedAt: null },
        })) === 0,
      10_000,
      'restrictions closed',
    );
    const closed = await platform.ctx.db.restriction.findMany({
      where: { userId: { in: users.map((u) => BigInt(u.id)) } },
    });
    expect(closed.map((r) => r.liftReason)).toEqual(['unprotected', 'unprotected', 'unprotected']);
    for (const u of users) expect(await promptsFor(platform, group.id, u.id)).toHaveLength(0);
    await settled(platform, bot);
    const admins = await client.member(group.id, byAdmin.id);
    expect(admins.status).toBe('restricted');
    expect(admins.effectivePermissions.can_send_photos).toBe(true);

    // Off means off: a newcomer is left alone.
    const late = await client.createUser({ firstName: 'Late' });
    await client.join(group.id, late.id);
    await settled(platform, bot);
    expect((await client.member(group.id, late.id)).status).toBe('member');
  });
});

describe('two bots in one group', () => {
  it('enforce their own channels with fully separate data', async () => {
    const { client } = platform;
    const other = await platform.addBot();
    const owner = await client.createUser({ firstName: 'Owner' });
    const group = await client.createChat({ type: 'supergroup', title: 'Shared', ownerId: owner.id });
    const chA = await client.createChat({
      type: 'channel',
      title: 'A news',
      username: `cha${Date.now().toString(36)}`,
      ownerId: owner.id,
    });
    const chB = await client.createChat({
      type: 'channel',
      title: 'B news',
      username: `chb${Date.now().toString(36)}`,
      ownerId: owner.id,
    });
    await client.makeAdmin(chA.id, bot.id, { can_invite_users: true });
    await client.makeAdmin(chB.id, other.id, { can_invite_users: true });
    for (const b of [bot, other]) await client.makeAdmin(group.id, b.id);
    await client.sendMessage(group.id, { fromId: owner.id, text: `/protect@${bot.username} @${chA.chat.username}` });
    await client.sendMessage(group.id, { fromId: owner.id, text: `/protect@${other.username} @${chB.chat.username}` });
    await waitFor(
      async () =>
        (await platform.ctx.db.protectedGroup.count({ where: { chatId: BigInt(group.id), enabled: true } })) === 2,
      15_000,
      'both protections',
    );

    const user = await client.createUser({ firstName: 'Half' });
    await client.join(chA.id, user.id);
    await client.join(group.id, user.id);
    await waitMuted(platform, group.id, user.id);
    const prompt = await waitPrompt(platform, group.id, user.id);
    expect(prompt.from?.id).toBe(other.id);
    expect(prompt.text).toContain(`@${chB.chat.username}`);
    expect(prompt.text).not.toContain(`@${chA.chat.username}`);
    await logRows(platform, group.id, user.id, 2);
    await settled(platform, bot);
    await settled(platform, other);

    const { db } = platform.ctx;
    const logs = await db.verificationLog.findMany({ where: { userId: BigInt(user.id) }, orderBy: { id: 'asc' } });
    expect(logs.filter((l) => l.botInstanceId === bot.instanceId).map((l) => l.status)).toEqual(['verified']);
    expect(logs.filter((l) => l.botInstanceId === other.instanceId).map((l) => l.status)).toEqual(['restricted']);
    const restrictions = await db.restriction.findMany({ where: { userId: BigInt(user.id) } });
    expect(restrictions.map((r) => r.botInstanceId)).toEqual([other.instanceId]);
    const groups = await db.protectedGroup.findMany({
      where: { chatId: BigInt(group.id) },
      include: { channelLinks: { include: { channel: true } } },
    });
    const channelsOf = (id: number) =>
      groups
        .find((g) => g.botInstanceId === id)!
        .channelLinks.map((l) => [l.botInstanceId, l.channel.botInstanceId, l.channel.username]);
    expect(channelsOf(bot.instanceId)).toEqual([[bot.instanceId, bot.instanceId, chA.chat.username]]);
    expect(channelsOf(other.instanceId)).toEqual([[other.instanceId, other.instanceId, chB.chat.username]]);
    expect(await promptsFor(platform, group.id, user.id)).toHaveLength(1);

    // The other bot lets them write once they join its channel; the first bot is not involved.
    await client.join(chB.id, user.id);
    await waitUnmuted(platform, group.id, user.id);
    expect((await logRows(platform, group.id, user.id, 2, other.instanceId)).map((l) => l.status)).toEqual([
      'restricted',
      'verified',
    ]);
    expect(await db.verificationLog.count({ where: { userId: BigInt(user.id), botInstanceId: bot.instanceId } })).toBe(
      1,
    );
  });
});
