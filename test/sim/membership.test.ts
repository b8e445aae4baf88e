// Status transitions as Telegram makes them: join, leave, restrict, unrestrict, ban, expiry, join requests,
// and who may write.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator, SimClient } from '../../sim/index';
import { PERMISSION_KEYS, type TgUser } from '../../sim/types';
import { buildScene, callApi, startTestSimulator, type Scene } from './helpers';

let sim: RunningSimulator;
let client: SimClient;
let s: Scene;

beforeAll(async () => {
  ({ sim, client } = await startTestSimulator());
  s = await buildScene(sim, client);
});
afterAll(() => sim.stop());

const mute = { can_send_messages: false };
const everything = Object.fromEntries(PERMISSION_KEYS.map((key) => [key, true]));
const state = async (user: TgUser) => {
  const m = await client.member(s.group.id, user.id);
  return { status: m.status, isMember: m.isMember };
};
const restrict = (user: TgUser, permissions: Record<string, boolean>, extra: Record<string, unknown> = {}) =>
  s.api('restrictChatMember', { chat_id: s.group.id, user_id: user.id, permissions, ...extra });

describe('membership transitions', () => {
  it('join → member → restricted → leave (restricted, not a member) → rejoin (restricted member) → unrestrict → member', async () => {
    const user = await client.createUser();
    expect(await state(user)).toEqual({ status: 'left', isMember: false });
    await client.join(s.group.id, user.id);
    expect(await state(user)).toEqual({ status: 'member', isMember: true });
    await restrict(user, mute);
    expect(await state(user)).toEqual({ status: 'restricted', isMember: true });
    expect((await client.member(s.group.id, user.id)).effectivePermissions.can_send_messages).toBe(false);
    await client.leave(s.group.id, user.id);
    expect(await state(user)).toEqual({ status: 'restricted', isMember: false });
    await client.join(s.group.id, user.id);
    expect(await state(user)).toEqual({ status: 'restricted', isMember: true });
    await restrict(user, everything);
    expect(await state(user)).toEqual({ status: 'member', isMember: true });
    expect((await client.member(s.group.id, user.id)).effectivePermissions).toEqual(
      (await s.api('getChat', { chat_id: s.group.id })).body.result.permissions,
    );
  });

  it("permissions equal to the group's defaults are still a restriction: the user stays restricted, and is not a plain member again until every permission is granted", async () => {
    const user = await client.createUser();
    await client.join(s.group.id, user.id);
    await restrict(user, mute);
    const defaults = (await s.api('getChat', { chat_id: s.group.id })).body.result.permissions;
    expect(defaults.can_pin_messages).toBe(false);
    await restrict(user, defaults, { use_independent_chat_permissions: true });
    expect((await client.member(s.group.id, user.id)).chatMember).toMatchObject({
      status: 'restricted',
      is_member: true,
      until_date: 0,
      can_send_messages: true,
      can_pin_messages: false,
    });
    // Every permission but one: still restricted.
    await restrict(user, { ...everything, can_manage_topics: false });
    expect((await state(user)).status).toBe('restricted');
    await restrict(user, everything);
    expect(await state(user)).toEqual({ status: 'member', isMember: true });
    // What the user may do is the group's defaults either way.
    expect((await client.member(s.group.id, user.id)).effectivePermissions).toEqual(defaults);
  });

  it("an admin's restriction follows the same rule: defaults keep the user restricted, every permission makes a member", async () => {
    const user = await client.createUser();
    await client.join(s.group.id, user.id);
    const defaults = (await s.api('getChat', { chat_id: s.group.id })).body.result.permissions;
    await client.setMember(s.group.id, user.id, { status: 'restricted', permissions: defaults });
    expect((await state(user)).status).toBe('restricted');
    await client.setMember(s.group.id, user.id, { status: 'restricted', permissions: everything });
    expect(await state(user)).toEqual({ status: 'member', isMember: true });
  });

  it('restricting someone outside the chat: restricted with is_member false; unrestricting them: left', async () => {
    const user = await client.createUser();
    await restrict(user, mute);
    expect((await client.member(s.group.id, user.id)).chatMember).toMatchObject({
      status: 'restricted',
      is_member: false,
    });
    await restrict(user, {
      can_send_messages: true,
      can_send_other_messages: true,
      can_send_polls: true,
      can_invite_users: true,
      can_add_web_page_previews: true,
    });
    expect((await client.member(s.group.id, user.id)).chatMember).toMatchObject({
      status: 'restricted',
      is_member: false,
      can_send_messages: true,
    });
    await restrict(user, everything);
    expect(await state(user)).toEqual({ status: 'left', isMember: false });
  });

  it('a restricted user who leaves keeps the restriction (is_member false) and has it again when their join request is approved', async () => {
    const group = await client.createChat({
      type: 'supergroup',
      title: 'by request',
      ownerId: s.owner.id,
      joinByRequest: true,
    });
    await client.makeAdmin(group.id, s.bot.id);
    const user = await client.createUser();
    await client.setMember(group.id, user.id, { status: 'member' });
    await s.api('restrictChatMember', {
      chat_id: group.id,
      user_id: user.id,
      permissions: { can_send_messages: true },
    });
    await client.leave(group.id, user.id);
    expect((await client.member(group.id, user.id)).chatMember).toMatchObject({
      status: 'restricted',
      is_member: false,
      can_send_messages: true,
      can_send_photos: false,
    });
    expect(await client.join(group.id, user.id)).toEqual({ outcome: 'requested' });
    await client.approveJoinRequest(group.id, user.id);
    expect((await client.member(group.id, user.id)).chatMember).toMatchObject({
      status: 'restricted',
      is_member: true,
      can_send_photos: false,
    });
    // The same through the Bot API.
    await client.leave(group.id, user.id);
    await client.requestJoin(group.id, user.id);
    expect(
      (await callApi(sim.apiRoot, s.bot.token, 'approveChatJoinRequest', { chat_id: group.id, user_id: user.id })).body
        .ok,
    ).toBe(true);
    expect((await client.member(group.id, user.id)).chatMember).toMatchObject({
      status: 'restricted',
      is_member: true,
      can_send_photos: false,
    });
  });

  it('partial permissions short of the defaults keep the user restricted', async () => {
    const user = await client.createUser();
    await client.join(s.group.id, user.id);
    await restrict(user, { can_send_messages: true });
    expect((await client.member(s.group.id, user.id)).chatMember).toMatchObject({
      status: 'restricted',
      can_send_messages: true,
      can_send_photos: false,
    });
  });

  it('a timed restriction ends by itself (member again) and a timed ban too (left)', async () => {
    const muted = await client.createUser();
    const banned = await client.createUser();
    await client.join(s.group.id, muted.id);
    await client.join(s.group.id, banned.id);
    const now = (await client.state()).now;
    await restrict(muted, mute, { until_date: now + 120 });
    await s.api('banChatMember', { chat_id: s.group.id, user_id: banned.id, until_date: now + 120 });
    expect((await state(muted)).status).toBe('restricted');
    expect((await state(banned)).status).toBe('kicked');
    await client.advanceClock(121);
    expect(await state(muted)).toEqual({ status: 'member', isMember: true });
    expect(await state(banned)).toEqual({ status: 'left', isMember: false });
  });

  it('a banned user cannot join until unbanned; member count follows every change', async () => {
    const count = async () => (await client.getChat(s.group.id)).memberCount;
    const user = await client.createUser();
    const before = await count();
    await client.join(s.group.id, user.id);
    expect(await count()).toBe(before + 1);
    await s.api('banChatMember', { chat_id: s.group.id, user_id: user.id });
    expect(await count()).toBe(before);
    await expect(client.join(s.group.id, user.id)).rejects.toMatchObject({ status: 409 });
    await s.api('unbanChatMember', { chat_id: s.group.id, user_id: user.id });
    await client.join(s.group.id, user.id);
    await restrict(user, mute);
    expect(await count()).toBe(before + 1); // restricted members still count
    await client.leave(s.group.id, user.id);
    expect(await count()).toBe(before);
  });

  it('admins get every permission; group defaults changed through the control API apply to members', async () => {
    const group = await client.createChat({
      type: 'supergroup',
      title: 'strict',
      ownerId: s.owner.id,
      permissions: { can_send_messages: true },
    });
    const user = await client.createUser();
    await client.join(group.id, user.id);
    expect((await client.member(group.id, user.id)).effectivePermissions).toMatchObject({
      can_send_messages: true,
      can_send_photos: false,
    });
    await client.updateChat(group.id, { permissions: { can_send_messages: true, can_send_photos: true } });
    expect((await client.member(group.id, user.id)).effectivePermissions.can_send_photos).toBe(true);
    expect((await client.member(group.id, s.owner.id)).effectivePermissions.can_pin_messages).toBe(true);
  });
});

describe('who may write', () => {
  it('a muted member cannot write as themselves; a member may write on behalf of a channel they run, from Channel_Bot, until the group bans the channel', async () => {
    const user = await client.createUser({ firstName: 'Poster' });
    const outsider = await client.createUser();
    const own = await client.createChat({ type: 'channel', title: 'My channel', ownerId: user.id });
    await client.join(s.group.id, user.id);
    await restrict(user, mute);
    await expect(client.sendMessage(s.group.id, { fromId: user.id, text: 'hi' })).rejects.toMatchObject({
      status: 403,
    });
    await expect(client.sendMessage(s.group.id, { fromId: outsider.id, text: 'hi' })).rejects.toMatchObject({
      status: 403,
    });
    await expect(
      client.sendMessage(s.group.id, { fromId: outsider.id, senderChatId: own.id, text: 'hi' }),
    ).rejects.toMatchObject({ status: 403 });
    // Only the channel's own admins may write on its behalf.
    const stranger = await client.createUser();
    await client.join(s.group.id, stranger.id);
    await expect(
      client.sendMessage(s.group.id, { fromId: stranger.id, senderChatId: own.id, text: 'hi' }),
    ).rejects.toMatchObject({ status: 403 });

    const post = await client.sendMessage(s.group.id, { fromId: user.id, senderChatId: own.id, text: 'as my channel' });
    expect(post).toMatchObject({
      from: { id: 136817688, username: 'Channel_Bot', is_bot: true },
      sender_chat: { id: own.id, type: 'channel' },
    });
    expect(post.is_automatic_forward).toBeUndefined();
    // Channel_Bot stands in for the channel: an admin bot of the group gets the message like any other.
    const { updates } = await client.pendingUpdates(s.bot.id);
    expect(updates.some((u) => u.message?.message_id === post.message_id && u.message.chat.id === s.group.id)).toBe(
      true,
    );

    expect((await s.api('banChatSenderChat', { chat_id: s.group.id, sender_chat_id: own.id })).body).toEqual({
      ok: true,
      result: true,
    });
    expect((await client.getChat(s.group.id)).bannedSenderChats).toContain(own.id);
    await expect(
      client.sendMessage(s.group.id, { fromId: user.id, senderChatId: own.id, text: 'again' }),
    ).rejects.toMatchObject({ status: 403 });
    // Banning a channel leaves its earlier messages alone.
    expect((await client.messages(s.group.id)).messages.map((m) => m.message_id)).toContain(post.message_id);
    expect((await s.api('unbanChatSenderChat', { chat_id: s.group.id, sender_chat_id: own.id })).body).toEqual({
      ok: true,
      result: true,
    });
    await client.sendMessage(s.group.id, { fromId: user.id, senderChatId: own.id, text: 'back' });
  });

  it('banChatSenderChat needs a supergroup or channel and can_restrict_members', async () => {
    const own = await client.createChat({ type: 'channel', title: 'Other', ownerId: s.owner.id });
    const basic = await client.createChat({ type: 'group', title: 'basic', ownerId: s.owner.id });
    await client.makeAdmin(basic.id, s.bot.id);
    expect((await s.api('banChatSenderChat', { chat_id: basic.id, sender_chat_id: own.id })).body).toMatchObject({
      ok: false,
      error_code: 400,
    });
    const weak = await client.createBot();
    await client.setMember(s.group.id, weak.id, { status: 'administrator', rights: { can_delete_messages: true } });
    const answer = await callApi(sim.apiRoot, weak.token, 'banChatSenderChat', {
      chat_id: s.group.id,
      sender_chat_id: own.id,
    });
    expect(answer.body).toEqual({
      ok: false,
      error_code: 400,
      description: 'Bad Request: not enough rights to restrict/unrestrict chat member',
    });
    expect((await client.getChat(s.group.id)).bannedSenderChats).not.toContain(own.id);
  });
});
