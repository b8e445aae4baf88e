import { describe, expect, it } from 'vitest';
import { protectedGroup, usePlatform } from '../support/platform';
import { waitFor } from '../support/process';

const platform = usePlatform();

describe("join → mute → join channel → I've joined → unmute", () => {
  it('mutes a non-subscriber with one prompt and unmutes after they join', async () => {
    const { client } = platform;
    const bot = await platform.addBot();
    const { group, channels } = await protectedGroup(platform, bot, 2);
    const user = await client.createUser({ firstName: 'Newcomer' });
    await client.join(group.id, user.id);

    const muted = await waitFor(
      async () => {
        const m = await client.member(group.id, user.id);
        return m.status === 'restricted' && !m.effectivePermissions.can_send_messages ? m : undefined;
      },
      15_000,
      'the user to be muted',
    );
    expect(muted!.isMember).toBe(true);

    const prompts = await waitFor(
      async () => {
        const { messages } = await client.messages(group.id);
        const found = messages.filter((m) => m.reply_markup && JSON.stringify(m.reply_markup).includes(`v:${user.id}`));
        return found.length ? found : undefined;
      },
      10_000,
      'the prompt',
    );
    expect(prompts).toHaveLength(1);
    for (const channel of channels) expect(JSON.stringify(prompts![0])).toContain(channel.chat.username);

    await client.join(channels[0]!.id, user.id);
    await client.join(channels[1]!.id, user.id);
    await client.pressButton(group.id, prompts![0]!.message_id, user.id, `v:${user.id}`);
    await waitFor(
      async () => (await client.member(group.id, user.id)).status === 'member',
      15_000,
      'the user to be unmuted',
    );
    await waitFor(
      async () => (await client.messages(group.id)).messages.every((m) => m.message_id !== prompts![0]!.message_id),
      10_000,
      'the prompt to be deleted',
    );

    await waitFor(
      async () => (await platform.ctx.db.verificationLog.count({ where: { userId: BigInt(user.id) } })) >= 2,
      10_000,
      'log rows',
    );
    const statuses = (
      await platform.ctx.db.verificationLog.findMany({ where: { userId: BigInt(user.id) }, orderBy: { id: 'asc' } })
    ).map((r) => r.status);
    expect(statuses).toEqual(['restricted', 'verified']);
    const restriction = await platform.ctx.db.restriction.findFirstOrThrow({ where: { userId: BigInt(user.id) } });
    expect(restriction.liftReason).toBe('verified');
  });
});
