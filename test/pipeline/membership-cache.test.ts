import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db';
import { useTestRedis } from '../support/redis';
import { protectedGroup, startPlatform, type Platform } from '../support/platform';
import { logRows, press, settled, waitMuted, waitPrompt, waitUnmuted, type Bot } from './helpers';

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

/** `nezuko_membership_cache_total` of this bot, by result. */
async function cacheCounts() {
  const metric = await platform.ctx.metrics.registry.getSingleMetric('nezuko_membership_cache_total')!.get();
  const of = (result: string) =>
    metric.values.find((v) => v.labels.bot === String(bot.instanceId) && v.labels.result === result)?.value ?? 0;
  return { hit: of('hit'), miss: of('miss') };
}

/** getChatMember calls asking Telegram whether `userId` is in `channelId`. */
async function membershipReads(channelId: number, userId: number) {
  const { calls } = await platform.client.calls(bot.id, { method: 'getChatMember' });
  return calls.filter((c) => c.params.chat_id === channelId && c.params.user_id === userId).length;
}

describe('the membership cache', () => {
  it('answers repeated checks without asking Telegram, and counts hits and misses', async () => {
    const { client } = platform;
    const { group, channels } = await protectedGroup(platform, bot, 1);
    const member = await client.createUser({ firstName: 'Chatty' });
    // Members from before protection (no updates about it), so nothing is cached yet.
    await client.bulkJoin(group.id, [member.id]);
    await client.bulkJoin(channels[0]!.id, [member.id]);
    const before = await cacheCounts();

    await client.sendMessage(group.id, { fromId: member.id, text: 'first' });
    // The first message is checked with Telegram (and that decision logged): the answer is cached from then on.
    await logRows(platform, group.id, member.id, 1);
    for (const text of ['second', 'third', 'fourth']) await client.sendMessage(group.id, { fromId: member.id, text });
    await settled(platform, bot);

    expect(await membershipReads(channels[0]!.id, member.id)).toBe(1);
    const after = await cacheCounts();
    expect(after.miss - before.miss).toBe(1);
    expect(after.hit - before.hit).toBe(3);
    expect((await client.messages(group.id)).messages.filter((m) => m.from?.id === member.id)).toHaveLength(4);
  });

  it('is cleared by a press of "I\'ve joined": a user who joined unseen is unmuted at once', async () => {
    const { client } = platform;
    const { group, channels } = await protectedGroup(platform, bot, 1);
    const user = await client.createUser({ firstName: 'Quiet' });
    await client.join(group.id, user.id);
    await waitMuted(platform, group.id, user.id);
    const prompt = await waitPrompt(platform, group.id, user.id);
    await settled(platform, bot);
    // Cached: not in the channel (for a minute). They join with no update reaching the bot.
    await client.bulkJoin(channels[0]!.id, [user.id]);
    const reads = await membershipReads(channels[0]!.id, user.id);
    const before = await cacheCounts();

    const answer = await press(platform, group.id, prompt.message_id, user.id, `v:${user.id}`);
    expect(answer.show_alert).not.toBe(true);
    await waitUnmuted(platform, group.id, user.id);
    expect(await membershipReads(channels[0]!.id, user.id)).toBe(reads + 1);
    expect((await cacheCounts()).miss - before.miss).toBe(1);
  });

  it('takes a channel leave or join from the update itself, without asking Telegram again', async () => {
    const { client } = platform;
    const { group, channels } = await protectedGroup(platform, bot, 1);
    const user = await client.createUser({ firstName: 'Restless' });
    await client.join(channels[0]!.id, user.id);
    await client.join(group.id, user.id);
    expect((await logRows(platform, group.id, user.id, 1)).map((r) => r.status)).toEqual(['verified']);
    await settled(platform, bot);
    // Cached: in the channel (for ten minutes).
    const reads = await membershipReads(channels[0]!.id, user.id);

    await client.leave(channels[0]!.id, user.id);
    await waitMuted(platform, group.id, user.id);
    await waitPrompt(platform, group.id, user.id);
    await client.join(channels[0]!.id, user.id);
    await waitUnmuted(platform, group.id, user.id);
    await settled(platform, bot);
    expect((await logRows(platform, group.id, user.id, 3)).map((r) => r.status)).toEqual([
      'verified',
      'restricted',
      'verified',
    ]);
    expect(await membershipReads(channels[0]!.id, user.id)).toBe(reads);
  });
});
