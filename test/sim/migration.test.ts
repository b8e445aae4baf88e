// A basic group upgraded to a supergroup, as a bot sees it: the two service messages, the new chat with the
// same members and settings, and the old id answering every method with migrate_to_chat_id.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningSimulator, SimBot, SimChat, SimClient, TgUpdate, TgUser } from '../../sim/index';
import { callApi, startTestSimulator, type BotApiAnswer } from './helpers';

let sim: RunningSimulator;
let client: SimClient;

const ALL = ['message', 'chat_member', 'my_chat_member'];
const UPGRADED = 'Bad Request: group chat was upgraded to a supergroup chat';

interface GroupScene {
  /** admin of the group (restrict, invite, delete) */
  bot: SimBot;
  /** plain member with privacy mode on */
  quietBot: SimBot;
  owner: TgUser;
  /** human administrator */
  alice: TgUser;
  /** plain member */
  bob: TgUser;
  group: SimChat;
}

let g: GroupScene;

const api = (
  bot: SimBot,
  method: string,
  params: Record<string, unknown> = {},
  encoding?: 'json' | 'form' | 'query',
): Promise<BotApiAnswer> => callApi(sim.apiRoot, bot.token, method, params, encoding);

async function updates(bot: SimBot): Promise<TgUpdate[]> {
  const { body } = await api(bot, 'getUpdates', { timeout: 0 });
  expect(body.ok).toBe(true);
  return body.result;
}

/** Confirms everything pending, so a test sees only what the migration produced. */
async function drain(bot: SimBot): Promise<void> {
  const pending = await updates(bot);
  const last = pending.at(-1);
  if (last) await api(bot, 'getUpdates', { offset: last.update_id + 1, timeout: 0 });
}

beforeAll(async () => {
  ({ sim, client } = await startTestSimulator());
});
afterAll(() => sim.stop());
beforeEach(async () => {
  const bot = await client.createBot({ allowedUpdates: ALL });
  const quietBot = await client.createBot({ allowedUpdates: ALL });
  const owner = await client.createUser({ firstName: 'Owner' });
  const alice = await client.createUser({ firstName: 'Alice' });
  const bob = await client.createUser({ firstName: 'Bob' });
  const group = await client.createChat({
    type: 'group',
    title: 'Basic',
    ownerId: owner.id,
    description: 'a small group',
    permissions: { can_send_messages: true, can_invite_users: true },
  });
  await client.makeAdmin(group.id, bot.id);
  await client.setMember(group.id, alice.id, {
    status: 'administrator',
    rights: { can_pin_messages: true, can_delete_messages: true },
  });
  for (const user of [bob, quietBot]) await client.join(group.id, user.id, { actorId: owner.id });
  g = { bot, quietBot, owner, alice, bob, group };
  await drain(bot);
  await drain(quietBot);
});

describe('group → supergroup migration', () => {
  it('every bot member gets the two service messages and no membership updates', async () => {
    const { chat } = await client.migrateToSupergroup(g.group.id);
    expect(chat.type).toBe('supergroup');
    expect(String(chat.id)).toMatch(/^-100\d+$/);
    for (const bot of [g.bot, g.quietBot]) {
      const got = await updates(bot);
      expect(got.map((u) => Object.keys(u).filter((k) => k !== 'update_id'))).toEqual([['message'], ['message']]);
      const [toNew, fromOld] = got.map((u) => u.message!);
      expect(toNew).toMatchObject({
        chat: { id: g.group.id, type: 'group' },
        from: { id: g.owner.id },
        migrate_to_chat_id: chat.id,
      });
      expect(fromOld).toMatchObject({
        chat: { id: chat.id, type: 'supergroup' },
        from: { id: g.owner.id },
        migrate_from_chat_id: g.group.id,
      });
    }
  });

  it('the service messages come from actorId when given', async () => {
    const { chat } = await client.migrateToSupergroup(g.group.id, { actorId: g.alice.id });
    const messages = (await updates(g.bot)).map((u) => u.message!);
    expect(messages.map((m) => [m.chat.id, m.from?.id])).toEqual([
      [g.group.id, g.alice.id],
      [chat.id, g.alice.id],
    ]);
  });

  it('the supergroup has the same settings, members, rights and member count', async () => {
    const before = {
      chat: (await api(g.bot, 'getChat', { chat_id: g.group.id })).body.result,
      count: (await api(g.bot, 'getChatMemberCount', { chat_id: g.group.id })).body.result,
      members: await Promise.all(
        [g.owner, g.alice, g.bob, g.bot.user].map(
          async (u) => (await api(g.bot, 'getChatMember', { chat_id: g.group.id, user_id: u.id })).body.result,
        ),
      ),
    };
    const { chat } = await client.migrateToSupergroup(g.group.id);
    const info = (await api(g.bot, 'getChat', { chat_id: chat.id })).body.result;
    expect(info).toMatchObject({
      id: chat.id,
      type: 'supergroup',
      title: 'Basic',
      description: 'a small group',
      permissions: before.chat.permissions,
    });
    expect((await api(g.bot, 'getChatMemberCount', { chat_id: chat.id })).body.result).toBe(before.count);
    for (const old of before.members) {
      const now = (await api(g.bot, 'getChatMember', { chat_id: chat.id, user_id: old.user.id })).body.result;
      // toMatchObject: supergroup admins also show can_manage_topics, which basic groups do not have.
      expect(now).toMatchObject(old);
    }
    expect(before.members.map((m) => m.status)).toEqual(['creator', 'administrator', 'member', 'administrator']);
    expect(before.members[1]).toMatchObject({
      can_pin_messages: true,
      can_delete_messages: true,
      can_restrict_members: false,
    });
  });

  it('every Bot API method on the old id answers 400 with migrate_to_chat_id; getUpdates still works', async () => {
    const { chat } = await client.migrateToSupergroup(g.group.id);
    const calls: [string, Record<string, unknown>, ('json' | 'form' | 'query')?][] = [
      ['getChat', { chat_id: g.group.id }],
      ['getChatMember', { chat_id: g.group.id, user_id: g.bob.id }],
      ['getChatMemberCount', { chat_id: String(g.group.id) }, 'query'],
      ['sendMessage', { chat_id: g.group.id, text: 'hello' }, 'form'],
      ['banChatMember', { chat_id: g.group.id, user_id: g.bob.id }],
      ['leaveChat', { chat_id: g.group.id }],
    ];
    for (const [method, params, encoding] of calls) {
      const { status, body } = await api(g.bot, method, params, encoding);
      expect({ method, status, body }).toEqual({
        method,
        status: 400,
        body: { ok: false, error_code: 400, description: UPGRADED, parameters: { migrate_to_chat_id: chat.id } },
      });
    }
    expect((await api(g.bot, 'getUpdates', { timeout: 0 })).body.ok).toBe(true);
    // The refused calls changed nothing: the bot is still in the new chat.
    expect((await client.member(chat.id, g.bot.id)).status).toBe('administrator');
  });

  it('restrictChatMember, refused in the basic group, works in the supergroup', async () => {
    const mute = { can_send_messages: false };
    const inGroup = await api(g.bot, 'restrictChatMember', {
      chat_id: g.group.id,
      user_id: g.bob.id,
      permissions: mute,
    });
    expect(inGroup.body.description).toBe('Bad Request: method is available only for supergroups');
    const { chat } = await client.migrateToSupergroup(g.group.id);
    const inSupergroup = await api(g.bot, 'restrictChatMember', {
      chat_id: chat.id,
      user_id: g.bob.id,
      permissions: mute,
    });
    expect(inSupergroup.body).toEqual({ ok: true, result: true });
    expect((await api(g.bot, 'getChatMember', { chat_id: chat.id, user_id: g.bob.id })).body.result).toMatchObject({
      status: 'restricted',
      is_member: true,
      can_send_messages: false,
    });
  });

  it('a public group keeps its username: "@name" now resolves to the supergroup', async () => {
    const username = `basic${g.bot.id}`;
    const group = await client.createChat({ type: 'group', title: 'Public', username, ownerId: g.owner.id });
    await client.makeAdmin(group.id, g.bot.id);
    const { chat } = await client.migrateToSupergroup(group.id);
    expect(chat.username).toBe(username);
    expect((await api(g.bot, 'getChat', { chat_id: `@${username}` })).body.result).toMatchObject({
      id: chat.id,
      type: 'supergroup',
    });
  });

  it('only a basic group can be migrated, and only once', async () => {
    const supergroup = await client.createChat({ type: 'supergroup', ownerId: g.owner.id });
    const channel = await client.createChat({ type: 'channel', ownerId: g.owner.id });
    await expect(client.migrateToSupergroup(supergroup.id)).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining('only a basic group'),
    });
    await expect(client.migrateToSupergroup(channel.id)).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining('only a basic group'),
    });
    await client.migrateToSupergroup(g.group.id);
    await expect(client.migrateToSupergroup(g.group.id)).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining('already upgraded'),
    });
    await expect(client.migrateToSupergroup(-4_999_999)).rejects.toMatchObject({ status: 404 });
  });
});
