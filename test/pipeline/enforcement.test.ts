// Enforcement as Telegram behaves (issue 15, section 1): a verified user is a plain member again and stays
// enforceable; an admin's earlier restriction survives our mute; users unmuted the old way are repaired.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { restrictionUpkeep } from '../../services/maintenance/restriction-upkeep';
import { PERMISSION_KEYS } from '../../sim/types';
import { protectedGroup, usePlatform } from '../support/platform';
import { waitFor } from '../support/process';
import { logRows, promptsFor, settled, waitMuted, waitPrompt, waitUnmuted, type Bot } from './helpers';

const platform = usePlatform();
let bot: Bot;

beforeAll(async () => {
  bot = await platform.addBot();
});

const everything = Object.fromEntries(PERMISSION_KEYS.map((key) => [key, true]));

/** A Bot API call as the bot itself (what an earlier version of Nezuko did through Telegram). */
async function asBot(method: string, params: Record<string, unknown>) {
  const response = await fetch(`${platform.sim.apiRoot}/bot${bot.token}/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(params),
  });
  const body = (await response.json()) as { ok: boolean; result?: unknown; description?: string };
  if (!body.ok) throw new Error(`${method}: ${body.description}`);
  return body.result;
}

const defaultsOf = async (chatId: number) =>
  ((await asBot('getChat', { chat_id: chatId })) as { permissions: Record<string, boolean> }).permissions;
const openRestriction = (chatId: number, userId: number) =>
  platform.ctx.db.restriction.findFirst({
    where: { userId: BigInt(userId), liftedAt: null, group: { chatId: BigInt(chatId) } },
  });
const restrictCalls = async (userId: number) =>
  (await platform.client.calls(bot.id, { method: 'restrictChatMember' })).calls.filter(
    (c) => c.params.user_id === userId && c.outcome === 'ok',
  ).length;

/** A non-subscriber joins, is muted and prompted, joins the channel and is unmuted: verified. */
async function muteAndVerify(groupId: number, channelId: number, userId: number) {
  await platform.client.join(groupId, userId);
  await waitMuted(platform, groupId, userId);
  await waitPrompt(platform, groupId, userId);
  await platform.client.join(channelId, userId);
  return waitUnmuted(platform, groupId, userId);
}

describe('a verified user stays enforceable', () => {
  it("is a plain member with the group's defaults after the unmute, and leaving a channel mutes them again", async () => {
    const { client } = platform;
    const { group, channels } = await protectedGroup(platform, bot, 1);
    const user = await client.createUser({ firstName: 'Verified' });
    const member = await muteAndVerify(group.id, channels[0]!.id, user.id);
    // Every permission granted: Telegram's plain member, who may do what the group's defaults allow.
    expect(member!.chatMember.status).toBe('member');
    expect(member!.effectivePermissions).toEqual(await defaultsOf(group.id));
    await waitFor(
      async () => (await promptsFor(platform, group.id, user.id)).length === 0,
      10_000,
      'the prompt to be deleted',
    );

    await client.leave(channels[0]!.id, user.id);
    await waitMuted(platform, group.id, user.id);
    const prompt = await waitPrompt(platform, group.id, user.id);
    expect(prompt.text).toContain('you left');
    expect((await openRestriction(group.id, user.id))!.reason).toBe('left_channel');
    expect((await logRows(platform, group.id, user.id, 3)).map((r) => r.status)).toEqual([
      'restricted',
      'verified',
      'restricted',
    ]);
  });

  it('is checked again on re-joining the group after leaving it', async () => {
    const { client } = platform;
    const { group, channels } = await protectedGroup(platform, bot, 1);
    const user = await client.createUser({ firstName: 'Returning' });
    await muteAndVerify(group.id, channels[0]!.id, user.id);
    await client.leave(group.id, user.id);
    // Out of the group, they also leave the channel; nothing to mute them in then.
    await client.leave(channels[0]!.id, user.id);
    await settled(platform, bot);
    expect((await client.member(group.id, user.id)).status).toBe('left');

    // A person comes back seconds later at the soonest (the two signals of one join, chat_member and the
    // service message, may be a second apart and count as one).
    await client.advanceClock(3);
    await client.join(group.id, user.id);
    await waitMuted(platform, group.id, user.id);
    await waitPrompt(platform, group.id, user.id);
    expect((await logRows(platform, group.id, user.id, 3)).map((r) => r.status)).toEqual([
      'restricted',
      'verified',
      'restricted',
    ]);
  });
});

describe("an admin's earlier restriction", () => {
  it('survives our mute and unmute, end date included, when the user writes unsubscribed', async () => {
    const { client } = platform;
    const { group, channels } = await protectedGroup(platform, bot, 1);
    const user = await client.createUser({ firstName: 'NoMedia' });
    await client.bulkJoin(group.id, [user.id]);
    const until = (await client.state()).now + 7 * 86_400;
    // The admin took media away for a week; the user may still write text.
    await client.setMember(group.id, user.id, {
      status: 'restricted',
      permissions: { ...everything, can_send_photos: false, can_send_videos: false },
      untilDate: until,
    });
    await client.sendMessage(group.id, { fromId: user.id, text: 'hello' });
    await waitMuted(platform, group.id, user.id);
    await waitPrompt(platform, group.id, user.id);
    expect((await openRestriction(group.id, user.id))!.priorUntil!.getTime()).toBe(until * 1000);

    await client.join(channels[0]!.id, user.id);
    const restored = await waitFor(
      async () => {
        const m = await client.member(group.id, user.id);
        return m.chatMember.status === 'restricted' && m.effectivePermissions.can_send_messages ? m : undefined;
      },
      15_000,
      "the admin's restriction to be back",
    );
    expect(restored!.chatMember).toMatchObject({
      status: 'restricted',
      is_member: true,
      until_date: until,
      can_send_messages: true,
      can_send_photos: false,
      can_send_videos: false,
      can_send_documents: true,
    });
    await waitFor(
      async () => (await openRestriction(group.id, user.id)) === null,
      10_000,
      'the restriction row to close',
    );
  });

  it('is kept through a leave and a re-join, and the re-join is checked like any other', async () => {
    const { client } = platform;
    const { group, channels } = await protectedGroup(platform, bot, 1);
    const user = await client.createUser({ firstName: 'Rejoiner' });
    await client.join(channels[0]!.id, user.id);
    await client.join(group.id, user.id);
    await logRows(platform, group.id, user.id, 1);
    await client.setMember(group.id, user.id, {
      status: 'restricted',
      permissions: { ...everything, can_send_polls: false },
    });
    await client.leave(group.id, user.id);
    await client.leave(channels[0]!.id, user.id);
    expect((await client.member(group.id, user.id)).chatMember).toMatchObject({
      status: 'restricted',
      is_member: false,
    });

    await client.join(group.id, user.id);
    await waitMuted(platform, group.id, user.id);
    await waitPrompt(platform, group.id, user.id);
    await client.join(channels[0]!.id, user.id);
    await waitFor(
      async () => (await client.member(group.id, user.id)).effectivePermissions.can_send_messages,
      15_000,
      'the unmute',
    );
    expect((await client.member(group.id, user.id)).chatMember).toMatchObject({
      status: 'restricted',
      is_member: true,
      can_send_messages: true,
      can_send_polls: false,
    });
  });
});

/**
 * The state an earlier version left behind: it unmuted "to the group's defaults", which Telegram keeps as a
 * restriction, and closed the row; the migration that fixed lifting flagged the row (its own SQL runs here).
 */
async function unmutedTheOldWay(groupId: number, userId: number) {
  await asBot('restrictChatMember', { chat_id: groupId, user_id: userId, permissions: { can_send_messages: false } });
  await asBot('restrictChatMember', {
    chat_id: groupId,
    user_id: userId,
    permissions: await defaultsOf(groupId),
    use_independent_chat_permissions: true,
  });
  const group = await platform.ctx.db.protectedGroup.findFirstOrThrow({
    where: { chatId: BigInt(groupId), botInstanceId: bot.instanceId },
  });
  const row = await platform.ctx.db.restriction.create({
    data: {
      botInstanceId: bot.instanceId,
      groupId: group.id,
      userId: BigInt(userId),
      promptMessageId: null,
      liftedAt: new Date(),
      liftReason: 'verified',
    },
  });
  const migration = readFileSync('prisma/migrations/20261202000200_restrictions_lift_restore/migration.sql', 'utf8');
  const flagging = migration.slice(migration.indexOf('UPDATE "restrictions" r SET "relift_pending" = true'));
  await platform.ctx.db.$executeRawUnsafe(flagging);
  expect((await platform.ctx.db.restriction.findUniqueOrThrow({ where: { id: row.id } })).reliftPending).toBe(true);
  expect((await platform.client.member(groupId, userId)).chatMember).toMatchObject({
    status: 'restricted',
    is_member: true,
    can_send_messages: true,
  });
  return row;
}

describe("users unmuted the old way (restricted with the group's defaults)", () => {
  it('are treated as members: writing after leaving a channel mutes them, and verifying makes them plain members, not restricted again', async () => {
    const { client } = platform;
    const { group, channels } = await protectedGroup(platform, bot, 1);
    const user = await client.createUser({ firstName: 'OldStyle' });
    await client.join(channels[0]!.id, user.id);
    await client.join(group.id, user.id);
    await logRows(platform, group.id, user.id, 1);
    await unmutedTheOldWay(group.id, user.id);
    await client.leave(channels[0]!.id, user.id);
    await waitMuted(platform, group.id, user.id);
    await waitPrompt(platform, group.id, user.id);
    // That was the channel leave; the lazy check catches the one who writes (a second user whose leave came first).
    const writer = await client.createUser({ firstName: 'OldStyleWriter' });
    await client.bulkJoin(group.id, [writer.id]);
    await unmutedTheOldWay(group.id, writer.id);
    const message = await client.sendMessage(group.id, { fromId: writer.id, text: 'still here' });
    await waitMuted(platform, group.id, writer.id);
    await waitPrompt(platform, group.id, writer.id);
    await waitFor(
      async () => (await client.messages(group.id)).messages.every((m) => m.message_id !== message.message_id),
      10_000,
      'the message to be deleted',
    );
    // Their leftover restriction was ours, not an admin's: nothing to put back.
    expect((await openRestriction(group.id, writer.id))!.priorPermissions).toBeNull();

    for (const u of [user, writer]) {
      await client.join(channels[0]!.id, u.id);
      const m = await waitUnmuted(platform, group.id, u.id);
      expect(m!.chatMember.status).toBe('member');
    }
  });

  it('are lifted properly by the one-off relift pass; users muted or lifted since are left alone', async () => {
    const { client } = platform;
    const { group } = await protectedGroup(platform, bot, 1);
    const leftover = await client.createUser({ firstName: 'Leftover' });
    const mutedSince = await client.createUser({ firstName: 'MutedSince' });
    const memberSince = await client.createUser({ firstName: 'MemberSince' });
    await client.bulkJoin(group.id, [leftover.id, mutedSince.id, memberSince.id]);
    for (const u of [leftover, mutedSince, memberSince]) await unmutedTheOldWay(group.id, u.id);
    await client.setMember(group.id, mutedSince.id, {
      status: 'restricted',
      permissions: { can_send_messages: false },
    });
    await client.setMember(group.id, memberSince.id, { status: 'member' });
    await client.clearCalls(bot.id);

    const handed = await restrictionUpkeep(platform.ctx.db, () => platform.queue(bot.instanceId));
    expect(handed.relifts).toBeGreaterThanOrEqual(3);
    await waitFor(
      async () => (await platform.ctx.db.restriction.count({ where: { reliftPending: true } })) === 0,
      15_000,
      'the relift jobs',
    );

    expect((await client.member(group.id, leftover.id)).chatMember.status).toBe('member');
    expect((await client.member(group.id, mutedSince.id)).chatMember).toMatchObject({
      status: 'restricted',
      can_send_messages: false,
    });
    expect((await client.member(group.id, memberSince.id)).chatMember.status).toBe('member');
    expect(await restrictCalls(leftover.id)).toBe(1);
    expect(await restrictCalls(mutedSince.id)).toBe(0);
    expect(await restrictCalls(memberSince.id)).toBe(0);
    // Once: nothing is left to hand over.
    expect((await restrictionUpkeep(platform.ctx.db, () => platform.queue(bot.instanceId))).relifts).toBe(0);
  });
});
