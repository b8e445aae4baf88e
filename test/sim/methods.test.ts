// Every Bot API method: success shapes and Telegram's error shapes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator, SimClient } from '../../sim/index';
import { buildScene, callApi, drainUpdates, startTestSimulator, type Scene } from './helpers';

let sim: RunningSimulator;
let client: SimClient;
let s: Scene;

beforeAll(async () => {
  ({ sim, client } = await startTestSimulator());
  s = await buildScene(sim, client);
});
afterAll(() => sim.stop());

const error = (error_code: number, description: string) => ({ ok: false, error_code, description });

describe('transport', () => {
  it('answers 401 Unauthorized for an unknown token and 404 for an unknown method', async () => {
    const unknown = await callApi(sim.apiRoot, '123:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'getMe');
    expect(unknown).toMatchObject({ status: 401, body: error(401, 'Unauthorized') });
    const method = await s.api('getNothing');
    expect(method).toMatchObject({ status: 404, body: error(404, 'Not Found') });
  });

  it('accepts GET query, form and JSON parameters, and method names in any case', async () => {
    for (const encoding of ['query', 'form', 'json'] as const) {
      const answer = await s.api('getChatMember', { chat_id: s.group.id, user_id: s.owner.id }, encoding);
      expect(answer.body).toMatchObject({ ok: true, result: { status: 'creator', is_anonymous: false } });
    }
    expect((await s.api('GETME')).body.result.id).toBe(s.bot.id);
  });

  it('creates bots with Telegram-shaped tokens whose digits are the bot id', () => {
    expect(s.bot.token).toMatch(/^\d+:[A-Za-z0-9_-]{35}$/);
    expect(s.bot.token.split(':')[0]).toBe(String(s.bot.id));
  });
});

describe('getMe / getChat / getChatMember / getChatAdministrators / getChatMemberCount', () => {
  it('getMe', async () => {
    expect((await s.api('getMe')).body).toEqual({
      ok: true,
      result: expect.objectContaining({ id: s.bot.id, is_bot: true, username: s.bot.username, can_join_groups: true }),
    });
  });

  it('getChat shows default permissions and the linked channel; channels resolve by @username', async () => {
    const group = (await s.api('getChat', { chat_id: s.group.id })).body.result;
    expect(group).toMatchObject({
      id: s.group.id,
      type: 'supergroup',
      linked_chat_id: s.channel.id,
      permissions: { can_send_messages: true, can_pin_messages: false },
    });
    const channel = (await s.api('getChat', { chat_id: `@${s.channel.chat.username}` })).body.result;
    expect(channel).toMatchObject({ id: s.channel.id, type: 'channel', linked_chat_id: s.group.id });
    expect(channel.permissions).toBeUndefined();
    expect((await s.api('getChat', { chat_id: -100999 })).body).toEqual(error(400, 'Bad Request: chat not found'));
  });

  it('getChatMember shapes: creator, administrator with rights, member, left', async () => {
    const admin = (await s.api('getChatMember', { chat_id: s.group.id, user_id: s.bot.id })).body.result;
    expect(admin).toMatchObject({
      status: 'administrator',
      can_be_edited: false,
      can_manage_chat: true,
      can_restrict_members: true,
      can_invite_users: true,
      can_promote_members: false,
    });
    expect(admin.can_post_messages).toBeUndefined();
    const left = (await s.api('getChatMember', { chat_id: s.group.id, user_id: s.alice.id })).body.result;
    expect(left).toEqual({ status: 'left', user: s.alice });
    await client.join(s.group.id, s.alice.id);
    expect((await s.api('getChatMember', { chat_id: s.group.id, user_id: s.alice.id })).body.result).toEqual({
      status: 'member',
      user: s.alice,
    });
  });

  it('getChatMember errors: user not found, chat not found, channel member list inaccessible for non-admin bots', async () => {
    expect((await s.api('getChatMember', { chat_id: s.group.id, user_id: 42 })).body).toEqual(
      error(400, 'Bad Request: user not found'),
    );
    expect((await s.api('getChatMember', { chat_id: -1009999, user_id: s.alice.id })).body).toEqual(
      error(400, 'Bad Request: chat not found'),
    );
    const other = await client.createBot();
    const channel = await client.createChat({ type: 'channel', title: 'c', ownerId: s.owner.id });
    await client.setMember(channel.id, other.id, { status: 'member' });
    const answer = await callApi(sim.apiRoot, other.token, 'getChatMember', {
      chat_id: channel.id,
      user_id: s.alice.id,
    });
    expect(answer).toMatchObject({ status: 400, body: error(400, 'Bad Request: member list is inaccessible') });
  });

  it('a kicked bot gets 403 Forbidden: bot was kicked from the supergroup chat', async () => {
    const other = await client.createBot();
    const group = await client.createChat({ type: 'supergroup', title: 'g', ownerId: s.owner.id });
    await client.setMember(group.id, other.id, { status: 'kicked' });
    const answer = await callApi(sim.apiRoot, other.token, 'getChatMember', { chat_id: group.id, user_id: s.owner.id });
    expect(answer).toMatchObject({
      status: 403,
      body: error(403, 'Forbidden: bot was kicked from the supergroup chat'),
    });
    const send = await callApi(sim.apiRoot, other.token, 'sendMessage', { chat_id: s.channel.id, text: 'x' });
    expect(send.body).toEqual(error(403, 'Forbidden: bot is not a member of the channel chat'));
  });

  it('getChatAdministrators lists the human admins; getChatMemberCount counts members', async () => {
    const admins = (await s.api('getChatAdministrators', { chat_id: s.group.id })).body.result;
    expect(admins).toEqual([{ status: 'creator', user: s.owner, is_anonymous: false }]);
    const before = (await s.api('getChatMemberCount', { chat_id: s.group.id })).body.result as number;
    const user = await client.createUser();
    await client.join(s.group.id, user.id);
    expect((await s.api('getChatMemberCount', { chat_id: s.group.id })).body.result).toBe(before + 1);
  });
});

describe('restrictChatMember', () => {
  it('mutes a member (form body with permissions as a JSON string) and applies until_date rules', async () => {
    const user = await client.createUser();
    await client.join(s.group.id, user.id);
    const inAnHour = Math.floor(Date.now() / 1000) + 3600;
    const answer = await s.api(
      'restrictChatMember',
      { chat_id: s.group.id, user_id: user.id, permissions: { can_send_messages: false }, until_date: inAnHour },
      'form',
    );
    expect(answer.body).toEqual({ ok: true, result: true });
    expect((await client.member(s.group.id, user.id)).chatMember).toMatchObject({
      status: 'restricted',
      is_member: true,
      until_date: inAnHour,
      can_send_messages: false,
      can_send_photos: false,
    });
    for (const until of [Math.floor(Date.now() / 1000) + 10, Math.floor(Date.now() / 1000) + 400 * 86400]) {
      await s.api('restrictChatMember', {
        chat_id: s.group.id,
        user_id: user.id,
        permissions: { can_send_polls: false },
        until_date: until,
      });
      expect((await client.member(s.group.id, user.id)).untilDate).toBe(0);
    }
  });

  it('applies the legacy implications unless use_independent_chat_permissions', async () => {
    const user = await client.createUser();
    await client.join(s.group.id, user.id);
    await s.api('restrictChatMember', {
      chat_id: s.group.id,
      user_id: user.id,
      permissions: { can_send_other_messages: true },
    });
    expect((await client.member(s.group.id, user.id)).chatMember).toMatchObject({
      can_send_messages: true,
      can_send_videos: true,
      can_send_other_messages: true,
      can_send_polls: false,
    });
    await s.api('restrictChatMember', {
      chat_id: s.group.id,
      user_id: user.id,
      permissions: { can_send_other_messages: true },
      use_independent_chat_permissions: true,
    });
    expect((await client.member(s.group.id, user.id)).chatMember).toMatchObject({
      can_send_messages: false,
      can_send_videos: false,
      can_send_other_messages: true,
    });
  });

  it('errors: basic group, missing right, chat owner, administrator, missing user', async () => {
    const basic = await client.createChat({ type: 'group', title: 'basic', ownerId: s.owner.id });
    await client.makeAdmin(basic.id, s.bot.id);
    const mute = { can_send_messages: false };
    expect(
      (await s.api('restrictChatMember', { chat_id: basic.id, user_id: s.alice.id, permissions: mute })).body,
    ).toEqual(error(400, 'Bad Request: method is available only for supergroups'));
    expect(
      (await s.api('restrictChatMember', { chat_id: s.group.id, user_id: s.owner.id, permissions: mute })).body,
    ).toEqual(error(400, "Bad Request: can't remove chat owner"));
    const admin = await client.createUser();
    await client.setMember(s.group.id, admin.id, { status: 'administrator', rights: { can_delete_messages: true } });
    expect(
      (await s.api('restrictChatMember', { chat_id: s.group.id, user_id: admin.id, permissions: mute })).body,
    ).toEqual(error(400, 'Bad Request: user is an administrator of the chat'));
    expect((await s.api('restrictChatMember', { chat_id: s.group.id, user_id: 5, permissions: mute })).body).toEqual(
      error(400, 'Bad Request: user not found'),
    );
    const weak = await client.createBot();
    await client.setMember(s.group.id, weak.id, { status: 'administrator', rights: { can_delete_messages: true } });
    const answer = await callApi(sim.apiRoot, weak.token, 'restrictChatMember', {
      chat_id: s.group.id,
      user_id: s.alice.id,
      permissions: mute,
    });
    expect(answer.body).toEqual(error(400, 'Bad Request: not enough rights to restrict/unrestrict chat member'));
  });
});

describe('banChatMember / unbanChatMember', () => {
  it('ban → kicked, unban → left; unban without only_if_banned removes a member', async () => {
    const user = await client.createUser();
    await client.join(s.group.id, user.id);
    expect((await s.api('banChatMember', { chat_id: s.group.id, user_id: user.id })).body).toEqual({
      ok: true,
      result: true,
    });
    expect((await client.member(s.group.id, user.id)).chatMember).toEqual({ status: 'kicked', user, until_date: 0 });
    await s.api('unbanChatMember', { chat_id: s.group.id, user_id: user.id, only_if_banned: true });
    expect((await client.member(s.group.id, user.id)).status).toBe('left');
    await client.join(s.group.id, user.id);
    await s.api('unbanChatMember', { chat_id: s.group.id, user_id: user.id, only_if_banned: true });
    expect((await client.member(s.group.id, user.id)).status).toBe('member');
    await s.api('unbanChatMember', { chat_id: s.group.id, user_id: user.id });
    expect((await client.member(s.group.id, user.id)).status).toBe('left');
    expect((await s.api('banChatMember', { chat_id: s.group.id, user_id: s.owner.id })).body).toEqual(
      error(400, "Bad Request: can't remove chat owner"),
    );
  });
});

describe('sendMessage / editMessageText / deleteMessage', () => {
  it('sends with an inline keyboard and the message is visible in the chat', async () => {
    const markup = { inline_keyboard: [[{ text: 'Verify', callback_data: 'v:1' }]] };
    const sent = (
      await s.api('sendMessage', { chat_id: s.group.id, text: 'hi', reply_markup: markup, message_thread_id: 3 })
    ).body.result;
    expect(sent).toMatchObject({
      text: 'hi',
      from: { id: s.bot.id },
      chat: { id: s.group.id, type: 'supergroup' },
      reply_markup: markup,
    });
    expect(sent.message_thread_id).toBeUndefined(); // not a forum
    const { messages } = await client.messages(s.group.id);
    expect(messages.at(-1)).toEqual(sent);
  });

  it('sendMessage errors: empty text, bad callback data, private chat not started, unknown chat', async () => {
    expect((await s.api('sendMessage', { chat_id: s.group.id, text: '' })).body).toEqual(
      error(400, 'Bad Request: message text is empty'),
    );
    const markup = { inline_keyboard: [[{ text: 'x', callback_data: 'x'.repeat(65) }]] };
    expect(
      (await s.api('sendMessage', { chat_id: s.group.id, text: 'x', reply_markup: JSON.stringify(markup) }, 'form'))
        .body,
    ).toEqual(error(400, 'Bad Request: BUTTON_DATA_INVALID'));
    const stranger = await client.createUser();
    expect((await s.api('sendMessage', { chat_id: stranger.id, text: 'hi' })).body).toEqual(
      error(403, "Forbidden: bot can't initiate conversation with a user"),
    );
    await client.sendPrivateMessage(s.bot.id, stranger.id, '/start');
    expect((await s.api('sendMessage', { chat_id: stranger.id, text: 'hi' })).body.result.chat).toMatchObject({
      id: stranger.id,
      type: 'private',
    });
    expect((await s.api('sendMessage', { chat_id: -100123, text: 'hi' })).body).toEqual(
      error(400, 'Bad Request: chat not found'),
    );
  });

  it('edits text, refuses a no-op edit, and deletes', async () => {
    const sent = (
      await s.api('sendMessage', {
        chat_id: s.group.id,
        text: 'one',
        reply_markup: { inline_keyboard: [[{ text: 'b', callback_data: 'b' }]] },
      })
    ).body.result;
    const edited = (await s.api('editMessageText', { chat_id: s.group.id, message_id: sent.message_id, text: 'two' }))
      .body.result;
    expect(edited).toMatchObject({ message_id: sent.message_id, text: 'two', edit_date: expect.any(Number) });
    expect(edited.reply_markup).toBeUndefined();
    const again = await s.api('editMessageText', { chat_id: s.group.id, message_id: sent.message_id, text: 'two' });
    expect(again.body.description).toMatch(/^Bad Request: message is not modified: /);
    expect((await s.api('editMessageText', { chat_id: s.group.id, message_id: 99999, text: 'x' })).body).toEqual(
      error(400, 'Bad Request: message to edit not found'),
    );
    const userMessage = await client.sendMessage(s.group.id, { fromId: s.owner.id, text: 'mine' });
    expect(
      (await s.api('editMessageText', { chat_id: s.group.id, message_id: userMessage.message_id, text: 'x' })).body,
    ).toEqual(error(400, "Bad Request: message can't be edited"));

    expect((await s.api('deleteMessage', { chat_id: s.group.id, message_id: sent.message_id })).body).toEqual({
      ok: true,
      result: true,
    });
    expect((await s.api('deleteMessage', { chat_id: s.group.id, message_id: sent.message_id })).body).toEqual(
      error(400, 'Bad Request: message to delete not found'),
    );
    const { messages } = await client.messages(s.group.id);
    expect(messages.some((m) => m.message_id === sent.message_id)).toBe(false);
  });
});

describe('answerCallbackQuery', () => {
  it('answers once; a second answer or an unknown id is "query is too old"', async () => {
    const sent = (
      await s.api('sendMessage', {
        chat_id: s.group.id,
        text: 'press',
        reply_markup: { inline_keyboard: [[{ text: 'ok', callback_data: 'ok' }]] },
      })
    ).body.result;
    await drainUpdates(s);
    const { callbackQueryId } = await client.pressButton(s.group.id, sent.message_id, s.owner.id, 'ok');
    const update = (await s.api('getUpdates', { timeout: 0 })).body.result.at(-1);
    expect(update.callback_query).toMatchObject({
      id: callbackQueryId,
      from: s.owner,
      data: 'ok',
      message: { message_id: sent.message_id },
      chat_instance: expect.any(String),
    });
    expect(
      (await s.api('answerCallbackQuery', { callback_query_id: callbackQueryId, text: 'done', show_alert: true })).body
        .result,
    ).toBe(true);
    expect(await client.callbackQuery(callbackQueryId)).toMatchObject({
      answered: true,
      answer: { text: 'done', show_alert: true },
    });
    const tooOld = error(400, 'Bad Request: query is too old and response timeout expired or query ID is invalid');
    expect((await s.api('answerCallbackQuery', { callback_query_id: callbackQueryId })).body).toEqual(tooOld);
    expect((await s.api('answerCallbackQuery', { callback_query_id: '1' })).body).toEqual(tooOld);
  });
});

describe('join requests and invite links', () => {
  it('approve and decline, with Telegram errors for missing and already-member requesters', async () => {
    const bob = await client.createUser();
    expect((await s.api('approveChatJoinRequest', { chat_id: s.group.id, user_id: bob.id })).body).toEqual(
      error(400, 'Bad Request: HIDE_REQUESTER_MISSING'),
    );
    await client.requestJoin(s.group.id, bob.id);
    // A requester may be messaged although they never started the bot.
    expect((await s.api('sendMessage', { chat_id: bob.id, text: 'please subscribe' })).body.ok).toBe(true);
    expect((await s.api('approveChatJoinRequest', { chat_id: s.group.id, user_id: bob.id })).body).toEqual({
      ok: true,
      result: true,
    });
    expect((await client.member(s.group.id, bob.id)).status).toBe('member');
    await client.requestJoin(s.channel.id, s.alice.id);
    await client.join(s.channel.id, s.alice.id, { actorId: s.owner.id });
    expect((await s.api('approveChatJoinRequest', { chat_id: s.channel.id, user_id: s.alice.id })).body).toEqual(
      error(400, 'Bad Request: USER_ALREADY_PARTICIPANT'),
    );
    const carol = await client.createUser();
    await client.requestJoin(s.group.id, carol.id);
    expect((await s.api('declineChatJoinRequest', { chat_id: s.group.id, user_id: carol.id })).body.result).toBe(true);
    expect((await client.joinRequests(s.group.id)).requests).toEqual([]);
    expect((await client.member(s.group.id, carol.id)).status).toBe('left');
  });

  it('a bot without can_invite_users gets CHAT_ADMIN_REQUIRED', async () => {
    const weak = await client.createBot();
    await client.setMember(s.group.id, weak.id, { status: 'administrator', rights: { can_restrict_members: true } });
    const answer = await callApi(sim.apiRoot, weak.token, 'createChatInviteLink', { chat_id: s.group.id });
    expect(answer.body).toEqual(error(400, 'Bad Request: CHAT_ADMIN_REQUIRED'));
  });

  it('createChatInviteLink / exportChatInviteLink; joining through a join-request link makes a request', async () => {
    const link = (
      await s.api('createChatInviteLink', { chat_id: s.group.id, creates_join_request: true, name: 'gate' })
    ).body.result;
    expect(link).toMatchObject({
      invite_link: expect.stringMatching(/^https:\/\/t\.me\/\+/),
      creator: { id: s.bot.id },
      creates_join_request: true,
      is_primary: false,
      is_revoked: false,
      name: 'gate',
    });
    const primary = (await s.api('exportChatInviteLink', { chat_id: s.group.id })).body.result;
    expect(primary).toMatch(/^https:\/\/t\.me\/\+/);
    expect((await s.api('getChat', { chat_id: s.group.id })).body.result.invite_link).toBe(primary);
    const dave = await client.createUser();
    expect((await client.join(s.group.id, dave.id, { inviteLink: link.invite_link })).outcome).toBe('requested');
    expect((await client.joinRequests(s.group.id)).requests).toEqual([
      { userId: dave.id, date: expect.any(Number), inviteLink: link.invite_link },
    ]);
  });
});

describe('webhooks', () => {
  it('setWebhook blocks getUpdates with 409 until deleteWebhook', async () => {
    const bot = await client.createBot();
    const api = (method: string, params: Record<string, unknown> = {}) =>
      callApi(sim.apiRoot, bot.token, method, params);
    expect((await api('setWebhook', { url: 'http://insecure.example' })).body).toEqual(
      error(400, 'Bad Request: bad webhook: An HTTPS URL must be provided for webhook'),
    );
    expect((await api('setWebhook', { url: 'https://hooks.example/x' })).body.result).toBe(true);
    expect((await api('getWebhookInfo')).body.result).toMatchObject({
      url: 'https://hooks.example/x',
      has_custom_certificate: false,
      pending_update_count: 0,
    });
    expect((await api('getUpdates')).body).toEqual(
      error(
        409,
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
      ),
    );
    expect((await api('deleteWebhook')).body.result).toBe(true);
    expect((await api('getUpdates')).body).toEqual({ ok: true, result: [] });
    expect((await api('getWebhookInfo')).body.result.url).toBe('');
  });
});
