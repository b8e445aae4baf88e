// Status transitions as Telegram makes them: join, leave, restrict, unrestrict, ban, expiry.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator, SimClient } from '../../sim/index';
import type { TgUser } from '../../sim/types';
import { buildScene, startTestSimulator, type Scene } from './helpers';

let sim: RunningSimulator;
let client: SimClient;
let s: Scene;

beforeAll(async () => {
  ({ sim, client } = await startTestSimulator());
  s = await buildScene(sim, client);
});
afterAll(() => sim.stop());

const mute = { can_send_messages: false };
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
    const defaults = (await s.api('getChat', { chat_id: s.group.id })).body.result.permissions;
    await restrict(user, defaults);
    expect(await state(user)).toEqual({ status: 'member', isMember: true });
    expect((await client.member(s.group.id, user.id)).effectivePermissions).toEqual(defaults);
  });

  it('restricting someone outside the chat: restricted with is_member false; unrestricting them: left', async () => {
    const user = await client.createUser();
    await restrict(user, mute);
    expect((await client.member(s.group.id, user.id)).chatMember).toMatchObject({ status: 'restricted', is_member: false });
    await restrict(user, { can_send_messages: true, can_send_other_messages: true, can_send_polls: true, can_invite_users: true, can_add_web_page_previews: true });
    expect(await state(user)).toEqual({ status: 'left', isMember: false });
  });

  it('partial permissions short of the defaults keep the user restricted', async () => {
    const user = await client.createUser();
    await client.join(s.group.id, user.id);
    await restrict(user, { can_send_messages: true });
    expect((await client.member(s.group.id, user.id)).chatMember).toMatchObject({ status: 'restricted', can_send_messages: true, can_send_photos: false });
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
    const group = await client.createChat({ type: 'supergroup', title: 'strict', ownerId: s.owner.id, permissions: { can_send_messages: true } });
    const user = await client.createUser();
    await client.join(group.id, user.id);
    expect((await client.member(group.id, user.id)).effectivePermissions).toMatchObject({ can_send_messages: true, can_send_photos: false });
    await client.updateChat(group.id, { permissions: { can_send_messages: true, can_send_photos: true } });
    expect((await client.member(group.id, user.id)).effectivePermissions.can_send_photos).toBe(true);
    expect((await client.member(group.id, s.owner.id)).effectivePermissions.can_pin_messages).toBe(true);
  });
});
