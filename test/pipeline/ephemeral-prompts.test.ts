import { describe, expect, it } from 'vitest';
import { protectedGroup, usePlatform } from '../support/platform';
import { waitFor } from '../support/process';
import { promptsFor, settled, waitMuted, waitPrompt, waitReply, waitUnmuted, type Bot } from './helpers';

const platform = usePlatform();

/** A protected group whose owner chose ephemeral prompts with /set, as an owner does it. */
async function ephemeralGroup(bot: Bot, extra: string[] = []) {
  const scene = await protectedGroup(platform, bot, 1);
  for (const command of ['/set prompt_style ephemeral', ...extra]) {
    const sent = await platform.client.sendMessage(scene.group.id, { fromId: scene.owner.id, text: command });
    await waitReply(platform, scene.group.id, sent.message_id);
  }
  return scene;
}

/** The ephemeral prompts this user sees in the chat now. */
async function seenPrompts(chatId: number, userId: number) {
  const { ephemeral } = await platform.client.viewAs(chatId, userId);
  return ephemeral.filter((e) => JSON.stringify(e.message.reply_markup ?? {}).includes(`"v:${userId}"`));
}

async function waitSeenPrompt(chatId: number, userId: number) {
  return (await waitFor(
    async () => (await seenPrompts(chatId, userId))[0],
    15_000,
    `an ephemeral prompt for ${userId}`,
  ))!;
}

describe('ephemeral prompts', () => {
  it('/settings shows the style; a joiner sees a prompt nobody else sees, edited in place on a press, deleted when they join', async () => {
    const { client } = platform;
    const bot = await platform.addBot();
    const { group, channels, owner } = await ephemeralGroup(bot);
    const settings = await client.sendMessage(group.id, { fromId: owner.id, text: '/settings' });
    expect((await waitReply(platform, group.id, settings.message_id)).text).toContain('prompt_style = ephemeral');

    const user = await client.createUser({ firstName: 'Quiet' });
    await client.join(group.id, user.id);
    await waitMuted(platform, group.id, user.id);
    const { message: prompt } = await waitSeenPrompt(group.id, user.id);
    expect(prompt.text).toContain('Quiet');
    await settled(platform, bot);
    // Only the muted user sees it: nothing in the group, nothing for the owner.
    expect(await promptsFor(platform, group.id, user.id)).toHaveLength(0);
    expect((await client.viewAs(group.id, owner.id)).ephemeral).toHaveLength(0);
    // Sent with Bot API 10.3's parameters.
    const { calls } = await client.calls(bot.id, { method: 'sendMessage' });
    expect(calls.find((c) => c.params.ephemeral_message_parameters)?.params.ephemeral_message_parameters).toEqual({
      receiver_user_id: user.id,
    });

    // Pressed before joining: the prompt itself now says what is missing.
    const ephemeralId = (prompt as { ephemeral_message_id?: number }).ephemeral_message_id!;
    const { callbackQueryId } = await client.pressEphemeralButton(group.id, ephemeralId, user.id, `v:${user.id}`);
    await waitFor(async () => (await client.callbackQuery(callbackQueryId)).answered, 10_000, 'the answer');
    await waitFor(
      async () => (await seenPrompts(group.id, user.id))[0]?.message.text?.includes('You have not joined yet'),
      10_000,
      'the prompt to be edited',
    );
    expect((await client.member(group.id, user.id)).status).toBe('restricted');

    // Joining the channel unmutes them, and their prompt is deleted (deleteEphemeralMessage).
    await client.join(channels[0]!.id, user.id);
    await waitUnmuted(platform, group.id, user.id);
    await waitFor(async () => (await seenPrompts(group.id, user.id)).length === 0, 10_000, 'the prompt to go');
    const deleted = await client.calls(bot.id, { method: 'deleteEphemeralMessage' });
    expect(deleted.calls.some((c) => c.outcome === 'ok' && c.params.ephemeral_message_id === ephemeralId)).toBe(true);
  });

  it("is deleted when the group's prompt lifetime is over; the user stays muted", async () => {
    const { client } = platform;
    const bot = await platform.addBot();
    const { group } = await ephemeralGroup(bot, ['/set prompt_lifetime 10']);
    const user = await client.createUser({ firstName: 'Slow' });
    await client.join(group.id, user.id);
    await waitMuted(platform, group.id, user.id);
    await waitSeenPrompt(group.id, user.id);
    await waitFor(async () => (await seenPrompts(group.id, user.id)).length === 0, 25_000, 'the prompt to expire');
    expect((await client.member(group.id, user.id)).status).toBe('restricted');
    const row = await platform.ctx.db.restriction.findFirstOrThrow({
      where: { userId: BigInt(user.id), liftedAt: null },
    });
    expect(row.promptEphemeralId).toBeNull();
  });

  it('an offline user who never got it is shown a group prompt when they try again; a press there is answered in place, to them alone', async () => {
    const { client } = platform;
    const bot = await platform.addBot();
    const { group, owner } = await ephemeralGroup(bot);
    const user = await client.createUser({ firstName: 'Away' });
    await client.setUserOnline(user.id, false);
    await client.join(group.id, user.id);
    await waitMuted(platform, group.id, user.id);
    await waitFor(
      async () => (await client.ephemeralMessages(group.id)).messages.some((m) => m.receiverId === user.id),
      10_000,
      'the ephemeral prompt to be sent',
    );
    await settled(platform, bot);
    // Telegram answered the send, but the user got nothing, and nothing is in the group.
    const [sent] = (await client.ephemeralMessages(group.id)).messages.filter((m) => m.receiverId === user.id);
    expect(sent!.delivered).toBe(false);
    expect(await seenPrompts(group.id, user.id)).toHaveLength(0);
    expect(await promptsFor(platform, group.id, user.id)).toHaveLength(0);

    // Back online, still unable to write, they leave and join again: now the group shows their prompt.
    await client.setUserOnline(user.id, true);
    // Two seconds on: a join a second apart from the first would be taken for its other signal (joins.ts).
    await new Promise((r) => setTimeout(r, 2_100));
    await client.leave(group.id, user.id);
    await client.join(group.id, user.id);
    const groupPrompt = await waitPrompt(platform, group.id, user.id);
    // Muted once: the fallback prompt does not mute again.
    const restricts = await client.calls(bot.id, { method: 'restrictChatMember' });
    expect(restricts.calls.filter((c) => c.outcome === 'ok' && c.params.user_id === user.id)).toHaveLength(1);

    // Pressed before joining the channel: the answer is an ephemeral message in place of the group prompt.
    const { callbackQueryId } = await client.pressButton(group.id, groupPrompt.message_id, user.id, `v:${user.id}`);
    await waitFor(async () => (await client.callbackQuery(callbackQueryId)).answered, 10_000, 'the answer');
    const view = await waitFor(
      async () => {
        const v = await client.viewAs(group.id, user.id);
        return v.ephemeral.find((e) => e.replacesMessageId === groupPrompt.message_id) ? v : undefined;
      },
      10_000,
      'an answer in place of the group prompt',
    );
    const answer = view!.ephemeral.find((e) => e.replacesMessageId === groupPrompt.message_id)!;
    expect(answer.message.text).toContain('You have not joined yet');
    expect(view!.messages.map((m) => m.message_id)).not.toContain(groupPrompt.message_id);
    // Everyone else still sees the group prompt.
    expect((await client.viewAs(group.id, owner.id)).messages.map((m) => m.message_id)).toContain(
      groupPrompt.message_id,
    );
  });
});
