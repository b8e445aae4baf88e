// A mute's life after the decision (issue 15, section 2): a timed mute ends everywhere it is counted, and a
// job that is retried continues from what it already did.
import { beforeAll, describe, expect, it } from 'vitest';
import { restrictionUpkeep } from '../../services/maintenance/restriction-upkeep';
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

const rowOf = (userId: number) =>
  platform.ctx.db.restriction.findFirstOrThrow({ where: { userId: BigInt(userId) }, orderBy: { id: 'desc' } });

describe('timed mutes', () => {
  it(
    'end: the row is closed as expired, /status stops counting it and the prompt is gone, even when its expiry job was lost',
    { timeout: 90_000 },
    async () => {
      const { client } = platform;
      const { group, owner } = await protectedGroup(platform, bot, 1);
      // The shortest mute Telegram keeps as timed (under 30 s means forever).
      expect(await command(group.id, owner.id, '/set mute_duration 30')).toBe('mute_duration is now 30 s.');
      const onTime = await client.createUser({ firstName: 'OnTime' });
      const lost = await client.createUser({ firstName: 'LostJob' });
      for (const u of [onTime, lost]) {
        await client.join(group.id, u.id);
        await waitMuted(platform, group.id, u.id);
        await waitPrompt(platform, group.id, u.id);
      }
      await settled(platform, bot);
      const [a, b] = [await rowOf(onTime.id), await rowOf(lost.id)];
      expect(a.mutedUntil!.getTime() - a.mutedAt.getTime()).toBeGreaterThanOrEqual(30_000);
      expect((await client.member(group.id, onTime.id)).untilDate * 1000).toBe(a.mutedUntil!.getTime());
      expect(await command(group.id, owner.id, '/status')).toContain('Muted by me now: 2');

      // The second mute's expiry job is lost (as with a Redis that kept nothing): the maintenance sweep covers it.
      const queue = platform.queue(bot.instanceId);
      const expiries = (await queue.getDelayed()).filter((j) => j.name === 'expire-restriction');
      expect(expiries.map((j) => j.data.restrictionId).sort()).toEqual([a.id, b.id].sort());
      await expiries.find((j) => j.data.restrictionId === b.id)!.remove();

      await waitFor(async () => (await rowOf(onTime.id)).liftReason === 'expired', 45_000, 'the timed mute to expire');
      expect(await promptsFor(platform, group.id, onTime.id)).toHaveLength(0);
      expect((await client.member(group.id, onTime.id)).status).toBe('member');
      // The lost one (muted a moment later) is over at Telegram too, and no longer counted, although its row
      // waits for the sweep.
      await waitFor(
        async () => (await client.member(group.id, lost.id)).status === 'member',
        15_000,
        'the second mute to end at Telegram',
      );
      expect((await rowOf(lost.id)).liftedAt).toBeNull();
      expect(await command(group.id, owner.id, '/status')).toContain('Muted by me now: 0');

      expect((await restrictionUpkeep(platform.ctx.db, () => queue)).expired).toBe(1);
      await waitFor(
        async () => (await rowOf(lost.id)).liftReason === 'expired',
        10_000,
        'the sweep to close the lost one',
      );
      expect(await promptsFor(platform, group.id, lost.id)).toHaveLength(0);
      expect(
        await platform.ctx.db.restriction.count({ where: { group: { chatId: BigInt(group.id) }, liftedAt: null } }),
      ).toBe(0);
    },
  );
});

describe('retries', () => {
  it('a job handed back while prompting continues where it stopped: one restrictChatMember per muted user, one prompt', async () => {
    const { client } = platform;
    const { group, channels } = await protectedGroup(platform, bot, 1);
    const fans = [await client.createUser({ firstName: 'Fan' })];
    const others = [];
    for (let i = 0; i < 4; i++) others.push(await client.createUser({ firstName: `Delayed${i}` }));
    await client.join(channels[0]!.id, fans[0]!.id);
    await client.clearCalls(bot.id);
    // Every first prompt is answered 429 with a wait too long to sit out in process: each job is handed back
    // delayed after its mute and runs again.
    await client.addFaults(bot.id, [
      { kind: 'retry_after', method: 'sendMessage', count: others.length, retryAfter: 2 },
    ]);
    for (const u of [...fans, ...others]) await client.join(group.id, u.id);
    for (const u of others) {
      await waitMuted(platform, group.id, u.id);
      await waitPrompt(platform, group.id, u.id, 20_000);
    }
    await settled(platform, bot);

    const { calls, counters } = await client.calls(bot.id);
    expect(counters.tooManyRequests429).toBe(others.length);
    const restricts = (userId: number) =>
      calls.filter((c) => c.method === 'restrictChatMember' && c.params.user_id === userId && c.outcome === 'ok')
        .length;
    for (const u of others) {
      expect(restricts(u.id), `restrictChatMember calls for ${u.first_name}`).toBe(1);
      expect(await promptsFor(platform, group.id, u.id)).toHaveLength(1);
      expect((await logRows(platform, group.id, u.id, 1)).map((r) => r.status)).toEqual(['restricted']);
    }
    expect(restricts(fans[0]!.id)).toBe(0);
  });
});
