import { beforeAll, describe, expect, it } from 'vitest';
import { protectedGroup, usePlatform } from '../support/platform';
import { waitFor } from '../support/process';
import { buttons, logRows, press, type Bot } from './helpers';

const platform = usePlatform();
let bot: Bot;

beforeAll(async () => {
  bot = await platform.addBot();
});

/** The bot's private message to the requester with the join buttons. */
async function privatePrompt(userId: number) {
  return (await waitFor(
    async () => (await platform.client.messages(userId)).messages.find((m) => m.from?.id === bot.id && m.reply_markup),
    10_000,
    'the private prompt',
  ))!;
}

describe('join-request mode', () => {
  it('approves a requester who is in every channel at once', async () => {
    const { client } = platform;
    const { group, channels } = await protectedGroup(platform, bot, 2, { mode: 'join_request' });
    const user = await client.createUser({ firstName: 'Subscriber' });
    for (const c of channels) await client.join(c.id, user.id);
    await client.requestJoin(group.id, user.id);

    await waitFor(
      async () => (await client.member(group.id, user.id)).status === 'member',
      10_000,
      'the request to be approved',
    );
    expect((await client.joinRequests(group.id)).requests).toHaveLength(0);
    expect((await logRows(platform, group.id, user.id, 1)).map((r) => r.status)).toEqual(['approved']);
    expect(await platform.ctx.db.restriction.count({ where: { userId: BigInt(user.id) } })).toBe(0);
  });

  it('messages a non-subscriber, approves on "check again" once they have joined', async () => {
    const { client } = platform;
    const { group, channels } = await protectedGroup(platform, bot, 2, { mode: 'join_request' });
    const user = await client.createUser({ firstName: 'Later' });
    await client.join(channels[0]!.id, user.id);
    await client.requestJoin(group.id, user.id);

    const prompt = await privatePrompt(user.id);
    expect(prompt.text).toContain(`@${channels[1]!.chat.username}`);
    expect(prompt.text).not.toContain(`@${channels[0]!.chat.username}`);
    const again = buttons(prompt).at(-1)!;
    expect(again.callback_data).toBe(`jr:${group.id}`);
    expect(buttons(prompt).filter((b) => b.url)).toHaveLength(1);

    const early = await press(platform, user.id, prompt.message_id, user.id, again.callback_data!);
    expect(early.text).toBe(`You have not joined yet: @${channels[1]!.chat.username}`);
    expect((await client.joinRequests(group.id)).requests.map((r) => r.userId)).toEqual([user.id]);

    await client.join(channels[1]!.id, user.id);
    const answer = await press(platform, user.id, prompt.message_id, user.id, again.callback_data!);
    expect(answer.text).toContain('is approved');
    await waitFor(
      async () =>
        (await client.messages(user.id)).messages.some(
          (m) => m.from?.id === bot.id && /is approved/.test(m.text ?? ''),
        ),
      5_000,
      'the approval message',
    );
    expect((await client.member(group.id, user.id)).status).toBe('member');
    expect((await logRows(platform, group.id, user.id, 1)).map((r) => r.status)).toEqual(['approved']);
  });

  it('declines a request whose user did not subscribe within the prompt lifetime', async () => {
    const { client } = platform;
    const { group, owner } = await protectedGroup(platform, bot, 1, { mode: 'join_request' });
    await client.sendMessage(group.id, { fromId: owner.id, text: '/set prompt_lifetime 10' });
    await waitFor(
      async () =>
        (await platform.ctx.db.protectedGroup.findFirst({
          where: { chatId: BigInt(group.id), promptLifetimeSeconds: 10 },
        })) !== null,
      10_000,
      'the setting',
    );
    const user = await client.createUser({ firstName: 'Never' });
    const requested = Date.now();
    await client.requestJoin(group.id, user.id);
    await privatePrompt(user.id);

    await waitFor(
      async () => (await client.joinRequests(group.id)).requests.length === 0,
      20_000,
      'the request to be declined',
    );
    expect(Date.now() - requested).toBeGreaterThanOrEqual(9_500);
    expect(['left', 'kicked']).toContain((await client.member(group.id, user.id)).status);
    expect((await logRows(platform, group.id, user.id, 1)).map((r) => r.status)).toEqual(['declined']);
    await waitFor(
      async () => (await client.messages(user.id)).messages.some((m) => /expired/.test(m.text ?? '')),
      5_000,
      'the decline notice',
    );
  }, 30_000);
});
