import { beforeAll, describe, expect, it } from 'vitest';
import { protectedGroup, usePlatform } from '../support/platform';
import { waitFor } from '../support/process';
import { buttons, logRows, press, promptsFor, settled, waitMuted, waitPrompt, waitUnmuted, type Bot } from './helpers';

const platform = usePlatform();
let bot: Bot;

beforeAll(async () => {
  bot = await platform.addBot();
});

const openRestrictions = (userId: number) =>
  platform.ctx.db.restriction.count({ where: { userId: BigInt(userId), liftedAt: null } });

describe('joins', () => {
  it('names the channels in the order the admin listed them, whatever order the bot first saw them in', async () => {
    const { client } = platform;
    const { owner, group, channels } = await protectedGroup(platform, bot, 3);
    // The bot was made admin of the channels in the order 0, 1, 2; the admin now lists them 2, 0, 1.
    const order = [channels[2]!, channels[0]!, channels[1]!];
    await client.sendMessage(group.id, {
      fromId: owner.id,
      text: `/protect ${order.map((c) => `@${c.chat.username}`).join(' ')}`,
    });
    const firstLinked = async () =>
      (
        await platform.ctx.db.groupChannelLink.findFirst({
          where: { group: { chatId: BigInt(group.id) }, position: 0 },
          select: { channel: { select: { channelId: true } } },
        })
      )?.channel.channelId;
    await waitFor(async () => (await firstLinked()) === BigInt(channels[2]!.id), 15_000, 'the new order to be saved');

    const user = await client.createUser({ firstName: 'Ordered' });
    await client.join(group.id, user.id);
    const prompt = await waitPrompt(platform, group.id, user.id);
    const urls = buttons(prompt)
      .map((b) => b.url)
      .filter(Boolean);
    expect(urls).toEqual(order.map((c) => `https://t.me/${c.chat.username}`));
  });

  it('names every missing channel in one prompt, with a join button each and an "I\'ve joined" button', async () => {
    const { client } = platform;
    const { group, channels } = await protectedGroup(platform, bot, 3);
    const user = await client.createUser({ firstName: 'Partly' });
    await client.join(channels[1]!.id, user.id);
    await client.join(group.id, user.id);

    await waitMuted(platform, group.id, user.id);
    const prompt = await waitPrompt(platform, group.id, user.id);
    const urls = buttons(prompt)
      .map((b) => b.url)
      .filter(Boolean);
    expect(urls).toEqual([`https://t.me/${channels[0]!.chat.username}`, `https://t.me/${channels[2]!.chat.username}`]);
    expect(prompt.text).toContain(`@${channels[0]!.chat.username}`);
    expect(prompt.text).toContain(`@${channels[2]!.chat.username}`);
    expect(prompt.text).not.toContain(`@${channels[1]!.chat.username}`);
    expect(buttons(prompt).at(-1)!.callback_data).toBe(`v:${user.id}`);

    // Pressing too early lists what is still missing and changes nothing.
    await client.join(channels[0]!.id, user.id);
    const early = await press(platform, group.id, prompt.message_id, user.id, `v:${user.id}`);
    expect(early.show_alert).toBe(true);
    expect(early.text).toContain(`@${channels[2]!.chat.username}`);
    expect(early.text).not.toContain(`@${channels[0]!.chat.username}`);
    expect((await client.member(group.id, user.id)).status).toBe('restricted');

    await client.join(channels[2]!.id, user.id);
    await waitUnmuted(platform, group.id, user.id);
    await waitFor(
      async () => (await promptsFor(platform, group.id, user.id)).length === 0,
      10_000,
      'the prompt to be deleted',
    );
    expect((await logRows(platform, group.id, user.id, 2)).map((r) => r.status)).toEqual(['restricted', 'verified']);
    expect(await openRestrictions(user.id)).toBe(0);
  });

  it('verifies a user who is already subscribed, without muting or prompting', async () => {
    const { client } = platform;
    const { group, channels } = await protectedGroup(platform, bot, 2);
    const user = await client.createUser({ firstName: 'Fan' });
    for (const c of channels) await client.join(c.id, user.id);
    await client.join(group.id, user.id);

    const rows = await logRows(platform, group.id, user.id, 1);
    expect(rows.map((r) => r.status)).toEqual(['verified']);
    await settled(platform, bot);
    expect((await client.member(group.id, user.id)).status).toBe('member');
    expect(await promptsFor(platform, group.id, user.id)).toHaveLength(0);
    expect(await openRestrictions(user.id)).toBe(0);
  });

  it('counts a restricted user who is still in a channel as subscribed, and one restricted outside it as not', async () => {
    const { client } = platform;
    const { group, channels } = await protectedGroup(platform, bot, 1);
    const inside = await client.createUser({ firstName: 'Inside' });
    const outside = await client.createUser({ firstName: 'Outside' });
    await client.setMember(channels[0]!.id, inside.id, { status: 'restricted', isMember: true, permissions: {} });
    await client.setMember(channels[0]!.id, outside.id, { status: 'restricted', isMember: false, permissions: {} });
    await client.join(group.id, inside.id);
    await client.join(group.id, outside.id);

    expect((await logRows(platform, group.id, inside.id, 1)).map((r) => r.status)).toEqual(['verified']);
    await waitMuted(platform, group.id, outside.id);
    await waitPrompt(platform, group.id, outside.id);
    await settled(platform, bot);
    expect((await client.member(group.id, inside.id)).status).toBe('member');
  });

  it('verifies the user an admin added, not the admin', async () => {
    const { client } = platform;
    const { group, owner } = await protectedGroup(platform, bot, 1);
    const admin = await client.createUser({ firstName: 'Admin' });
    await client.setMember(group.id, admin.id, { status: 'administrator', rights: { can_invite_users: true } });
    const added = await client.createUser({ firstName: 'Added' });
    await client.join(group.id, added.id, { actorId: admin.id });

    await waitMuted(platform, group.id, added.id);
    const prompt = await waitPrompt(platform, group.id, added.id);
    expect(prompt.text).toContain('Added');
    await settled(platform, bot);
    expect((await client.member(group.id, admin.id)).status).toBe('administrator');
    expect(await promptsFor(platform, group.id, admin.id)).toHaveLength(0);
    expect(
      await platform.ctx.db.verificationLog.count({ where: { userId: { in: [BigInt(admin.id), BigInt(owner.id)] } } }),
    ).toBe(0);
    // One join, two signals (chat_member and the service message): one mute, one prompt, one log row.
    expect(await promptsFor(platform, group.id, added.id)).toHaveLength(1);
    expect((await logRows(platform, group.id, added.id, 1)).map((r) => r.status)).toEqual(['restricted']);
  });

  it("does not lift an admin's own mute when the user joins the group or the channel", async () => {
    const { client } = platform;
    const { group, channels } = await protectedGroup(platform, bot, 1);
    const user = await client.createUser({ firstName: 'Troublemaker' });
    // The admin restricted them before they came back (restricted, not in the chat).
    await client.setMember(group.id, user.id, {
      status: 'restricted',
      isMember: false,
      permissions: { can_send_messages: false },
    });
    await client.join(group.id, user.id);
    await settled(platform, bot);
    await client.join(channels[0]!.id, user.id);
    await settled(platform, bot);

    const member = await client.member(group.id, user.id);
    expect(member.status).toBe('restricted');
    expect(member.effectivePermissions.can_send_messages).toBe(false);
    expect(await promptsFor(platform, group.id, user.id)).toHaveLength(0);
    expect(await openRestrictions(user.id)).toBe(0);

    // A member the admin muted in place, who then leaves and re-joins the channel: still the admin's mute.
    const muted = await client.createUser({ firstName: 'Muted' });
    await client.join(channels[0]!.id, muted.id);
    await client.join(group.id, muted.id);
    await logRows(platform, group.id, muted.id, 1);
    await client.setMember(group.id, muted.id, {
      status: 'restricted',
      isMember: true,
      permissions: { can_send_messages: false },
    });
    await client.leave(channels[0]!.id, muted.id);
    await settled(platform, bot);
    await client.join(channels[0]!.id, muted.id);
    await settled(platform, bot);
    const after = await client.member(group.id, muted.id);
    expect(after.status).toBe('restricted');
    expect(after.effectivePermissions.can_send_messages).toBe(false);
    expect(await promptsFor(platform, group.id, muted.id)).toHaveLength(0);
  });
});

describe('buttons', () => {
  it("answers someone else's button with an alert and changes nothing", async () => {
    const { client } = platform;
    const { group, channels } = await protectedGroup(platform, bot, 1);
    const user = await client.createUser({ firstName: 'Owner of the button' });
    const other = await client.createUser({ firstName: 'Other' });
    await client.join(channels[0]!.id, other.id);
    await client.join(group.id, other.id);
    await client.join(group.id, user.id);
    await waitMuted(platform, group.id, user.id);
    const prompt = await waitPrompt(platform, group.id, user.id);

    const counted = async () =>
      (await platform.ctx.metrics.skippedUpdates.get()).values
        .filter((v) => v.labels.reason === 'someone_elses_button')
        .reduce((n, v) => n + v.value, 0);
    const before = await counted();
    const answer = await press(platform, group.id, prompt.message_id, other.id, `v:${user.id}`);
    expect(answer.show_alert).toBe(true);
    expect(answer.text).toBe('This button is for someone else.');
    expect(await counted()).toBe(before + 1);
    await settled(platform, bot);
    expect((await client.member(group.id, user.id)).status).toBe('restricted');
    expect(await promptsFor(platform, group.id, user.id)).toHaveLength(1);
    expect(await openRestrictions(user.id)).toBe(1);
  });

  it('answers tampered and forged callback data, skips it and counts it', async () => {
    const { client } = platform;
    const { group } = await protectedGroup(platform, bot, 1);
    const user = await client.createUser({ firstName: 'Tamperer' });
    await client.join(group.id, user.id);
    await waitPrompt(platform, group.id, user.id);
    const skipped = async (reason: string) => {
      const metric = await platform.ctx.metrics.registry.getSingleMetric('nezuko_updates_skipped_total')!.get();
      return (
        metric.values.find((v) => v.labels.reason === reason && v.labels.bot === String(bot.instanceId))?.value ?? 0
      );
    };
    const forgedBefore = await skipped('forged_callback');
    const unknownBefore = await skipped('unknown_group');

    // A keyboard with tampered data, as a modified client or an old message of the bot would carry it.
    const forged = ['v:abc', 'x', `v:${user.id};drop table`, '{"v":1}', 'jr:-1009999999999'];
    const response = await fetch(`${platform.sim.apiRoot}/bot${bot.token}/sendMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        chat_id: group.id,
        text: 'old keyboard',
        reply_markup: { inline_keyboard: forged.map((data) => [{ text: data, callback_data: data }]) },
      }),
    });
    const { result: keyboard } = (await response.json()) as { result: { message_id: number } };
    for (const data of forged.slice(0, 4)) {
      const answer = await press(platform, group.id, keyboard.message_id, user.id, data);
      expect(answer.text).toBe('This button is no longer valid.');
    }
    const answer = await press(platform, group.id, keyboard.message_id, user.id, forged[4]!);
    expect(answer.text).toBe('This button is no longer valid.');
    await waitFor(
      async () => (await skipped('forged_callback')) - forgedBefore === 4,
      5_000,
      'forged callbacks counted',
    );
    expect((await skipped('unknown_group')) - unknownBefore).toBe(1);
    await settled(platform, bot);
    expect((await client.member(group.id, user.id)).status).toBe('restricted');
    expect(await promptsFor(platform, group.id, user.id)).toHaveLength(1);
  });
});

describe('messages from members who were there before protection', () => {
  it("deletes a non-subscriber's message, mutes and prompts them once", async () => {
    const { client } = platform;
    const { group, channels } = await protectedGroup(platform, bot, 1);
    const [oldTimer, subscriber] = await Promise.all([
      client.createUser({ firstName: 'Oldtimer' }),
      client.createUser({ firstName: 'Subscriber' }),
    ]);
    await client.bulkJoin(group.id, [oldTimer.id, subscriber.id]);
    await client.join(channels[0]!.id, subscriber.id);
    const first = await client.sendMessage(group.id, { fromId: oldTimer.id, text: 'hello' });
    const fine = await client.sendMessage(group.id, { fromId: subscriber.id, text: 'hi' });

    await waitMuted(platform, group.id, oldTimer.id);
    await waitPrompt(platform, group.id, oldTimer.id);
    await settled(platform, bot);
    const visible = (await client.messages(group.id)).messages.map((m) => m.message_id);
    expect(visible).not.toContain(first.message_id);
    expect(visible).toContain(fine.message_id);
    expect((await client.member(group.id, subscriber.id)).status).toBe('member');
    expect(await promptsFor(platform, group.id, oldTimer.id)).toHaveLength(1);
    expect((await logRows(platform, group.id, oldTimer.id, 1)).map((r) => r.status)).toEqual(['restricted']);
    expect(await openRestrictions(oldTimer.id)).toBe(1);
  });

  it("exempts anonymous admins and the linked channel's automatic forwards", async () => {
    const { client } = platform;
    const { group, owner } = await protectedGroup(platform, bot, 1);
    const linked = await client.createChat({
      type: 'channel',
      title: 'Discussion source',
      username: `lk${Date.now().toString(36)}`,
      ownerId: owner.id,
      linkedChatId: group.id,
    });
    await client.updateChat(group.id, { linkedChatId: linked.id });
    const anonymous = await client.sendMessage(group.id, { anonymousAdmin: true, text: 'from the admins' });
    const { forwarded } = await client.postToChannel(linked.id, 'news');
    expect(forwarded?.is_automatic_forward).toBe(true);
    await settled(platform, bot);

    const visible = (await client.messages(group.id)).messages.map((m) => m.message_id);
    expect(visible).toContain(anonymous.message_id);
    expect(visible).toContain(forwarded!.message_id);
    expect(await platform.ctx.db.verificationLog.count({ where: { chatId: BigInt(group.id) } })).toBe(0);
    expect(await platform.ctx.db.restriction.count({ where: { group: { chatId: BigInt(group.id) } } })).toBe(0);
  });
});

describe('service messages', () => {
  it('never mutes or prompts a non-subscriber for leaving the group (the left_chat_member message is not them writing)', async () => {
    const { client } = platform;
    const { group } = await protectedGroup(platform, bot, 1);
    const leaver = await client.createUser({ firstName: 'Leaver' });
    await client.bulkJoin(group.id, [leaver.id]);
    const notQueued = async () => {
      const metric = await platform.ctx.metrics.registry.getSingleMetric('nezuko_updates_not_queued_total')!.get();
      return (
        metric.values.find((v) => v.labels.reason === 'not_actionable' && v.labels.bot === String(bot.instanceId))
          ?.value ?? 0
      );
    };
    const before = await notQueued();
    await client.leave(group.id, leaver.id);
    await settled(platform, bot);
    // Both signals of the leave (chat_member and the left_chat_member message) were read and left out of the queue.
    await waitFor(async () => (await notQueued()) - before === 2, 5_000, 'the leave to be polled');

    expect((await client.member(group.id, leaver.id)).status).toBe('left');
    expect(await promptsFor(platform, group.id, leaver.id)).toHaveLength(0);
    expect(await platform.ctx.db.restriction.count({ where: { userId: BigInt(leaver.id) } })).toBe(0);
    expect(await platform.ctx.db.verificationLog.count({ where: { userId: BigInt(leaver.id) } })).toBe(0);
  });
});

describe('leaving a channel', () => {
  it('mutes a verified member again with a prompt, and the button unmutes them after they re-join', async () => {
    const { client } = platform;
    const { group, channels } = await protectedGroup(platform, bot, 2);
    const user = await client.createUser({ firstName: 'Fickle' });
    for (const c of channels) await client.join(c.id, user.id);
    await client.join(group.id, user.id);
    await logRows(platform, group.id, user.id, 1);

    await client.leave(channels[1]!.id, user.id);
    await waitMuted(platform, group.id, user.id);
    const prompt = await waitPrompt(platform, group.id, user.id);
    expect(prompt.text).toContain('you left');
    expect(prompt.text).toContain(`@${channels[1]!.chat.username}`);
    expect(prompt.text).not.toContain(`@${channels[0]!.chat.username}`);
    const restriction = await platform.ctx.db.restriction.findFirstOrThrow({
      where: { userId: BigInt(user.id), liftedAt: null },
    });
    expect(restriction.reason).toBe('left_channel');

    // Re-joining the channel lifts the mute by itself; the button then just says thanks.
    await client.join(channels[1]!.id, user.id);
    await waitUnmuted(platform, group.id, user.id);
    expect((await logRows(platform, group.id, user.id, 3)).map((r) => r.status)).toEqual([
      'verified',
      'restricted',
      'verified',
    ]);
    expect(await openRestrictions(user.id)).toBe(0);
  });
});
