import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlBot } from '../../queues';
import { useTestDatabase } from '../support/db';
import { useTestRedis } from '../support/redis';
import { protectedGroup, startPlatform, type Platform } from '../support/platform';
import { waitFor } from '../support/process';
import { logRows, promptsFor, settled, waitMuted, waitPrompt, waitReply, type Bot } from './helpers';

const database = useTestDatabase();
const redis = useTestRedis();
let platform: Platform;
let bot: Bot;

beforeAll(async () => {
  platform = await startPlatform({ databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix });
  await platform.startRoles();
  bot = await platform.addBot();
});
afterAll(async () => {
  await platform?.stop();
});

const canWrite = async (chatId: number, userId: number) =>
  (await platform.client.member(chatId, userId)).effectivePermissions.can_send_messages === true;

describe('prompts', () => {
  it("are deleted once the group's prompt lifetime is over; the user stays muted", async () => {
    const { client } = platform;
    const { group, owner } = await protectedGroup(platform, bot, 1);
    const set = await client.sendMessage(group.id, { fromId: owner.id, text: '/set prompt_lifetime 10' });
    await waitReply(platform, group.id, set.message_id);
    const user = await client.createUser({ firstName: 'Slow' });
    await client.join(group.id, user.id);
    await waitMuted(platform, group.id, user.id);
    const prompt = await waitPrompt(platform, group.id, user.id);

    await waitFor(
      async () => (await promptsFor(platform, group.id, user.id)).length === 0,
      25_000,
      'the prompt to be deleted',
    );
    const { calls } = await client.calls(bot.id);
    const sent = calls.find(
      (c) =>
        c.method === 'sendMessage' &&
        c.outcome === 'ok' &&
        c.params.chat_id === group.id &&
        String(c.params.text).includes('Slow'),
    )!;
    const deleted = calls.find((c) => c.method === 'deleteMessage' && c.params.message_id === prompt.message_id)!;
    // Scheduled when the send was answered, so never before the lifetime counted from the send.
    expect(deleted.at - sent.at).toBeGreaterThanOrEqual(10_000);
    expect(await canWrite(group.id, user.id)).toBe(false);
    const restriction = await platform.ctx.db.restriction.findFirstOrThrow({
      where: { userId: BigInt(user.id), liftedAt: null },
    });
    expect(restriction.promptMessageId).toBeNull();
  });

  it('a burst of messages from a non-subscriber gets one prompt and one mute while the prompt lives; every message is deleted', async () => {
    const { client } = platform;
    const { group } = await protectedGroup(platform, bot, 1);
    const user = await client.createUser({ firstName: 'Burst' });
    await client.bulkJoin(group.id, [user.id]);
    // All written before the bot has read the first (the simulator refuses a message once the mute lands).
    const written = (
      await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) => client.sendMessage(group.id, { fromId: user.id, text: `spam ${i}` })),
      )
    ).flatMap((r) => (r.status === 'fulfilled' ? [r.value.message_id] : []));
    expect(written.length).toBeGreaterThanOrEqual(2);
    await waitMuted(platform, group.id, user.id);
    await waitPrompt(platform, group.id, user.id);
    await settled(platform, bot);
    // The same messages read again after the prompt went out (new updates, as when another message of theirs
    // arrives; a re-delivered update is stopped by its done marker before this): the prompt is live, so they
    // change nothing.
    const queue = platform.queue(bot.instanceId);
    type MessageUpdate = { update_id: number; message?: { chat: { id: number }; message_id: number } };
    const read = (await queue.getCompleted())
      .filter((j) => j.name === 'page')
      .flatMap((j) => j.data.updates as MessageUpdate[])
      .filter((u) => u.message?.chat.id === group.id && written.includes(u.message.message_id));
    expect(read.length).toBe(written.length);
    const [later] = await queue.addBulk([
      {
        name: 'page',
        data: {
          botInstanceId: bot.instanceId,
          updates: read.map((u) => ({ ...u, update_id: u.update_id + 1_000_000 })),
          receivedAt: Date.now(),
        },
        opts: { jobId: `later-${bot.instanceId}-${user.id}` },
      },
    ]);
    await waitFor(async () => (await queue.getJobState(later!.id!)) === 'completed', 10_000, 'the later reads');

    const visible = (await client.messages(group.id)).messages.map((m) => m.message_id);
    for (const id of written) expect(visible).not.toContain(id);
    expect(await promptsFor(platform, group.id, user.id)).toHaveLength(1);
    // Sent once (not sent again and the older one deleted).
    const { calls } = await client.calls(bot.id, { method: 'sendMessage' });
    expect(
      calls.filter((c) => c.outcome === 'ok' && String(c.params.text).includes(`tg://user?id=${user.id}"`)),
    ).toHaveLength(1);
    expect(await platform.ctx.db.restriction.count({ where: { userId: BigInt(user.id) } })).toBe(1);
    expect((await logRows(platform, group.id, user.id, 1)).map((r) => r.status)).toEqual(['restricted']);
  });
});

describe('/allow and /disallow', () => {
  it('an allowed user is left alone; after /disallow (as a reply) their next message is checked', async () => {
    const { client } = platform;
    const { group, owner } = await protectedGroup(platform, bot, 1);
    const user = await client.createUser({ firstName: 'Guest' });
    const allow = await client.sendMessage(group.id, { fromId: owner.id, text: `/allow ${user.id}` });
    expect((await waitReply(platform, group.id, allow.message_id)).text).toContain('is exempt');
    await client.join(group.id, user.id);
    expect((await logRows(platform, group.id, user.id, 1)).map((r) => r.status)).toEqual(['skipped']);
    const hello = await client.sendMessage(group.id, { fromId: user.id, text: 'hello' });
    await settled(platform, bot);
    expect(await canWrite(group.id, user.id)).toBe(true);
    expect((await client.messages(group.id)).messages.map((m) => m.message_id)).toContain(hello.message_id);

    const disallow = await client.sendMessage(group.id, {
      fromId: owner.id,
      text: '/disallow',
      replyToMessageId: hello.message_id,
    });
    expect((await waitReply(platform, group.id, disallow.message_id)).text).toContain('no longer exempt');
    expect(await platform.ctx.db.groupWhitelist.count({ where: { userId: BigInt(user.id) } })).toBe(0);
    const again = await client.sendMessage(group.id, { fromId: user.id, text: 'hello again' });
    await waitMuted(platform, group.id, user.id);
    await waitPrompt(platform, group.id, user.id);
    await settled(platform, bot);
    expect((await client.messages(group.id)).messages.map((m) => m.message_id)).not.toContain(again.message_id);
  });
});

describe('a join seen only as a new_chat_members message', () => {
  it('is checked like any other: muted and prompted once', async () => {
    const { client, ctx } = platform;
    const { group } = await protectedGroup(platform, bot, 1);
    // The token was polled meanwhile by something asking for Telegram's default updates, which leave out
    // chat_member: Telegram keeps to the list in force when an update is created, so this join reaches the
    // bot only as its service message.
    const lease = ctx.keys.bot(bot.instanceId, 'poller-lease');
    await controlBot(ctx, bot.instanceId, 'stop');
    await waitFor(async () => !(await ctx.redis.exists(lease)), 10_000, 'polling to stop');
    // (No offset: it confirms nothing. Retried while the stopped poller's aborted long poll still counts as open.)
    await waitFor(
      async () =>
        (await fetch(`${platform.sim.apiRoot}/bot${bot.token}/getUpdates?timeout=0&limit=1&allowed_updates=[]`))
          .status === 200,
      5_000,
      "the other program's poll",
    );
    const user = await client.createUser({ firstName: 'Unannounced' });
    await client.join(group.id, user.id);
    const pending = (await client.pendingUpdates(bot.id)).updates.filter((u) =>
      JSON.stringify(u).includes(`"id":${user.id}`),
    );
    expect(pending.map((u) => Object.keys(u).find((k) => k !== 'update_id'))).toEqual(['message']);

    await controlBot(ctx, bot.instanceId, 'start');
    await waitMuted(platform, group.id, user.id);
    await waitPrompt(platform, group.id, user.id);
    await settled(platform, bot);
    expect(await promptsFor(platform, group.id, user.id)).toHaveLength(1);
    expect((await logRows(platform, group.id, user.id, 1)).map((r) => r.status)).toEqual(['restricted']);
    const queued = (await platform.queue(bot.instanceId).getCompleted())
      .filter((j) => j.name === 'page')
      .flatMap((j) => j.data.updates as Array<Record<string, unknown>>)
      .filter((u) => JSON.stringify(u).includes(`"id":${user.id}`));
    expect(queued.map((u) => Object.keys(u).find((k) => k !== 'update_id'))).toEqual(['message']);
  });
});

describe('leaving a channel that several groups require', () => {
  it('mutes the user again, with a prompt, in every one of those groups', async () => {
    const { client } = platform;
    const { group: first, channels, owner } = await protectedGroup(platform, bot, 1);
    const channel = channels[0]!;
    const second = await client.createChat({ type: 'supergroup', title: 'Second group', ownerId: owner.id });
    await client.makeAdmin(second.id, bot.id, {
      can_restrict_members: true,
      can_delete_messages: true,
      can_invite_users: true,
    });
    await client.sendMessage(second.id, { fromId: owner.id, text: `/protect @${channel.chat.username}` });
    await waitFor(
      async () =>
        (await platform.ctx.db.protectedGroup.count({ where: { chatId: BigInt(second.id), enabled: true } })) === 1,
      15_000,
      'the second group to be protected',
    );

    const user = await client.createUser({ firstName: 'Everywhere' });
    await client.join(channel.id, user.id);
    for (const g of [first, second]) {
      await client.join(g.id, user.id);
      expect((await logRows(platform, g.id, user.id, 1)).map((r) => r.status)).toEqual(['verified']);
    }
    await client.leave(channel.id, user.id);
    for (const g of [first, second]) {
      await waitMuted(platform, g.id, user.id);
      expect((await waitPrompt(platform, g.id, user.id)).text).toContain('you left');
    }
    await settled(platform, bot);
    for (const g of [first, second]) expect(await promptsFor(platform, g.id, user.id)).toHaveLength(1);
    expect(
      await platform.ctx.db.restriction.count({
        where: { userId: BigInt(user.id), liftedAt: null, reason: 'left_channel' },
      }),
    ).toBe(2);
  });
});
