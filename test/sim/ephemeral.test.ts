// Ephemeral messages (Bot API 10.2-10.4): only the receiver sees them, their own edit and delete methods,
// no delivery to offline users, buttons on them, and answering a button press ephemerally.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningSimulator, SimBot, SimClient } from '../../sim/index';
import type { TgUpdate, TgUser } from '../../sim/types';
import { buildScene, callApi, drainUpdates, startTestSimulator, type Scene } from './helpers';

let sim: RunningSimulator;
let client: SimClient;
let s: Scene;
let bob: TgUser;
/** another admin bot that reads every group message */
let peer: SimBot;

const button = (data: string) => ({ inline_keyboard: [[{ text: "I've joined", callback_data: data }]] });

beforeAll(async () => {
  ({ sim, client } = await startTestSimulator());
  s = await buildScene(sim, client, { allowedUpdates: ['message', 'callback_query'] });
  bob = await client.createUser({ firstName: 'Bob' });
  await client.join(s.group.id, s.alice.id);
  await client.join(s.group.id, bob.id);
  peer = await client.createBot({ canReadAllGroupMessages: true, allowedUpdates: ['message', 'edited_message'] });
  await client.makeAdmin(s.group.id, peer.id);
});
afterAll(() => sim.stop());

beforeEach(async () => {
  await drainUpdates(s);
  await client.setUserOnline(s.alice.id, true);
  await client.setLimits(s.bot.id, { enabled: false });
  await client.setEphemeralSettings({ lifetimeSeconds: 0 });
});

/** 10.3+ form */
const sendTo = (
  receiverId: number,
  text: string,
  extra: Record<string, unknown> = {},
  parameters: Record<string, unknown> = {},
) =>
  s.api('sendMessage', {
    chat_id: s.group.id,
    text,
    ephemeral_message_parameters: { receiver_user_id: receiverId, ...parameters },
    ...extra,
  });
const editText = (id: number, text: string, receiverId = s.alice.id, extra: Record<string, unknown> = {}) =>
  s.api('editEphemeralMessageText', {
    chat_id: s.group.id,
    receiver_user_id: receiverId,
    ephemeral_message_id: id,
    text,
    ...extra,
  });
const remove = (id: number, receiverId = s.alice.id) =>
  s.api('deleteEphemeralMessage', { chat_id: s.group.id, receiver_user_id: receiverId, ephemeral_message_id: id });
const seenBy = async (user: TgUser) => (await client.viewAs(s.group.id, user.id)).ephemeral.map((e) => e.message.text);
const recordOf = async (id: number) =>
  (await client.ephemeralMessages(s.group.id)).messages.find((m) => m.ephemeralMessageId === id)!;

describe('sending', () => {
  it('only the receiver sees it: not the group, not other users, not other bots', async () => {
    const sent = await sendTo(s.alice.id, 'only for Alice', { reply_markup: button('check') });
    expect(sent.body.ok).toBe(true);
    expect(sent.body.result).toMatchObject({
      message_id: 0,
      ephemeral_message_id: expect.any(Number),
      receiver_user: { id: s.alice.id },
      from: { id: s.bot.id },
      chat: { id: s.group.id },
      text: 'only for Alice',
      reply_markup: button('check'),
    });
    expect(await seenBy(s.alice)).toContain('only for Alice');
    expect(await seenBy(bob)).not.toContain('only for Alice');
    expect((await client.messages(s.group.id)).messages.map((m) => m.text)).not.toContain('only for Alice');
    const peerUpdates = (await callApi(sim.apiRoot, peer.token, 'getUpdates', { timeout: 0 })).body
      .result as TgUpdate[];
    expect(peerUpdates.some((u) => u.message?.text === 'only for Alice')).toBe(false);
    expect(await recordOf(sent.body.result.ephemeral_message_id)).toMatchObject({
      delivered: true,
      receiverId: s.alice.id,
      deleted: false,
    });
  });

  it("accepts 10.2's top-level receiver_user_id too", async () => {
    const sent = await s.api('sendMessage', { chat_id: s.group.id, text: 'old style', receiver_user_id: s.alice.id });
    expect(sent.body.result).toMatchObject({ message_id: 0, receiver_user: { id: s.alice.id } });
    expect(await seenBy(s.alice)).toContain('old style');
  });

  it('refuses private chats and channels, receivers outside the chat, bots, and a missing receiver', async () => {
    await client.sendPrivateMessage(s.bot.id, s.alice.id, '/start');
    const inPrivate = await s.api('sendMessage', {
      chat_id: s.alice.id,
      text: 'x',
      ephemeral_message_parameters: { receiver_user_id: s.alice.id },
    });
    expect(inPrivate.body).toMatchObject({ ok: false, error_code: 400 });
    const inChannel = await s.api('sendMessage', {
      chat_id: s.channel.id,
      text: 'x',
      ephemeral_message_parameters: { receiver_user_id: s.alice.id },
    });
    expect(inChannel.body).toMatchObject({ ok: false, error_code: 400 });
    const outsider = await client.createUser();
    expect((await sendTo(outsider.id, 'x')).body).toMatchObject({
      ok: false,
      error_code: 400,
      description: 'Bad Request: USER_NOT_PARTICIPANT',
    });
    expect((await sendTo(peer.id, 'x')).body).toMatchObject({ ok: false, error_code: 403 });
    const noReceiver = await s.api('sendMessage', { chat_id: s.group.id, text: 'x', ephemeral_message_parameters: {} });
    expect(noReceiver.body).toMatchObject({ ok: false, error_code: 400 });
    const replaceAlone = await sendTo(s.alice.id, 'x', {}, { replace_callback_query_message: true });
    expect(replaceAlone.body).toMatchObject({ ok: false, error_code: 400 });
  });

  it('a muted (restricted) member can receive one', async () => {
    const muted = await client.createUser();
    await client.join(s.group.id, muted.id);
    await s.api('restrictChatMember', {
      chat_id: s.group.id,
      user_id: muted.id,
      permissions: { can_send_messages: false },
    });
    expect((await sendTo(muted.id, 'join the channels first')).body.ok).toBe(true);
    expect(await seenBy(muted)).toEqual(['join the channels first']);
  });

  it('counts like a message to that user, not toward the group limit', async () => {
    await client.setLimits(s.bot.id, {
      enabled: true,
      perGroupPerMinute: 1,
      perBotPerSecond: 30,
      perPrivateChatPerSecond: 1,
    });
    expect((await s.api('sendMessage', { chat_id: s.group.id, text: 'group 1' })).body.ok).toBe(true);
    expect((await s.api('sendMessage', { chat_id: s.group.id, text: 'group 2' })).body.error_code).toBe(429);
    expect((await sendTo(s.alice.id, 'ephemeral 1')).body.ok).toBe(true);
    expect((await sendTo(s.alice.id, 'ephemeral 2')).body.error_code).toBe(429); // 1/s to one user
    expect((await sendTo(bob.id, 'ephemeral to Bob')).body.ok).toBe(true);
  });
});

describe('delivery is not guaranteed', () => {
  it('an offline user gets nothing: the send succeeds, the control API shows it undelivered', async () => {
    await client.setUserOnline(s.alice.id, false);
    const sent = await sendTo(s.alice.id, 'while offline');
    expect(sent.body.ok).toBe(true);
    const id = sent.body.result.ephemeral_message_id;
    expect(await recordOf(id)).toMatchObject({ delivered: false, visible: null });
    await client.setUserOnline(s.alice.id, true);
    expect(await seenBy(s.alice)).not.toContain('while offline'); // nothing is redelivered
    expect((await editText(id, 'edited')).body.result).toBe(true); // the bot can still edit and delete it
    expect(await seenBy(s.alice)).not.toContain('edited');
  });

  it('edits and deletions made while the user is offline do not reach them', async () => {
    const id = (await sendTo(s.alice.id, 'first version', { reply_markup: button('stale') })).body.result
      .ephemeral_message_id;
    await client.setUserOnline(s.alice.id, false);
    expect((await editText(id, 'second version')).body.result).toBe(true);
    expect((await recordOf(id)).visible?.text).toBe('first version');
    expect((await recordOf(id)).message.text).toBe('second version');
    expect((await remove(id)).body.result).toBe(true);
    await client.setUserOnline(s.alice.id, true);
    expect(await seenBy(s.alice)).toContain('first version'); // still on their screen
    await expect(client.pressEphemeralButton(s.group.id, id, s.alice.id, 'stale')).rejects.toMatchObject({
      status: 409,
    });
  });
});

describe('editing and deleting', () => {
  it('editEphemeralMessageText / ReplyMarkup change what the receiver sees; deleteEphemeralMessage removes it', async () => {
    const id = (await sendTo(s.alice.id, 'v1', { reply_markup: button('a') })).body.result.ephemeral_message_id;
    expect((await editText(id, 'v2', s.alice.id, { reply_markup: button('b') })).body).toEqual({
      ok: true,
      result: true,
    });
    expect(
      (await client.viewAs(s.group.id, s.alice.id)).ephemeral.find((e) => e.message.ephemeral_message_id === id)
        ?.message,
    ).toMatchObject({
      text: 'v2',
      reply_markup: button('b'),
      edit_date: expect.any(Number),
    });
    const markup = await s.api('editEphemeralMessageReplyMarkup', {
      chat_id: s.group.id,
      receiver_user_id: s.alice.id,
      ephemeral_message_id: id,
    });
    expect(markup.body.result).toBe(true);
    expect((await recordOf(id)).visible).not.toHaveProperty('reply_markup');
    expect((await remove(id)).body.result).toBe(true);
    expect(await seenBy(s.alice)).not.toContain('v2');
    expect((await remove(id)).body).toMatchObject({
      ok: false,
      error_code: 400,
      description: 'Bad Request: message to delete not found',
    });
  });

  it("errors: not modified, unknown id, wrong receiver, another bot's message", async () => {
    const id = (await sendTo(s.alice.id, 'same')).body.result.ephemeral_message_id;
    expect((await editText(id, 'same')).body.description).toMatch(/^Bad Request: message is not modified/);
    expect((await editText(9999, 'x')).body.description).toBe('Bad Request: message to edit not found');
    expect((await editText(id, 'x', bob.id)).body.description).toBe('Bad Request: message to edit not found');
    const byPeer = await callApi(sim.apiRoot, peer.token, 'editEphemeralMessageText', {
      chat_id: s.group.id,
      receiver_user_id: s.alice.id,
      ephemeral_message_id: id,
      text: 'x',
    });
    expect(byPeer.body.description).toBe("Bad Request: message can't be edited");
    const deleteByPeer = await callApi(sim.apiRoot, peer.token, 'deleteEphemeralMessage', {
      chat_id: s.group.id,
      receiver_user_id: s.alice.id,
      ephemeral_message_id: id,
    });
    expect(deleteByPeer.body.description).toBe("Bad Request: message can't be deleted");
  });

  it('with a lifetime set, an expired ephemeral message is gone for the user and the bot', async () => {
    await client.setEphemeralSettings({ lifetimeSeconds: 60 });
    const id = (await sendTo(s.alice.id, 'short-lived')).body.result.ephemeral_message_id;
    await client.advanceClock(61);
    expect(await seenBy(s.alice)).not.toContain('short-lived');
    expect((await editText(id, 'x')).body.description).toBe('Bad Request: message to edit not found');
  });
});

describe('buttons', () => {
  it('a press on an ephemeral message reaches the bot with that message; only its receiver can press', async () => {
    const id = (await sendTo(s.alice.id, 'press me', { reply_markup: button('joined') })).body.result
      .ephemeral_message_id;
    await expect(client.pressEphemeralButton(s.group.id, id, bob.id, 'joined')).rejects.toMatchObject({ status: 404 });
    const { callbackQueryId } = await client.pressEphemeralButton(s.group.id, id, s.alice.id, 'joined');
    const updates = (await s.api('getUpdates', { timeout: 0 })).body.result as TgUpdate[];
    const query = updates.find((u) => u.callback_query?.id === callbackQueryId)?.callback_query;
    expect(query).toMatchObject({
      from: { id: s.alice.id },
      data: 'joined',
      message: { message_id: 0, ephemeral_message_id: id, receiver_user: { id: s.alice.id }, chat: { id: s.group.id } },
    });
    expect(
      (await s.api('answerCallbackQuery', { callback_query_id: callbackQueryId, text: 'Checking…' })).body.result,
    ).toBe(true);
    expect((await client.callbackQuery(callbackQueryId)).answer).toEqual({ text: 'Checking…' });
  });

  it('10.4: a press on a group message answered with only callback_query_id goes to whoever pressed', async () => {
    const prompt = (
      await s.api('sendMessage', {
        chat_id: s.group.id,
        text: 'Alice, Bob: join the channels',
        reply_markup: button('shared'),
      })
    ).body.result;
    const { callbackQueryId } = await client.pressButton(s.group.id, prompt.message_id, bob.id, 'shared');
    const reply = await s.api('sendMessage', {
      chat_id: s.group.id,
      text: 'Bob, you still miss one channel',
      ephemeral_message_parameters: { callback_query_id: callbackQueryId },
    });
    expect(reply.body.result).toMatchObject({ message_id: 0, receiver_user: { id: bob.id } });
    expect(await seenBy(bob)).toContain('Bob, you still miss one channel');
    expect(await seenBy(s.alice)).not.toContain('Bob, you still miss one channel');
    // the callback query is still to be answered by the bot
    expect((await client.callbackQuery(callbackQueryId)).answered).toBe(false);
  });

  it('replace_callback_query_message shows the answer in place of the pressed message, for the presser only', async () => {
    const prompt = (
      await s.api('sendMessage', { chat_id: s.group.id, text: 'shared prompt', reply_markup: button('replace') })
    ).body.result;
    const { callbackQueryId } = await client.pressButton(s.group.id, prompt.message_id, s.alice.id, 'replace');
    const reply = await s.api('sendMessage', {
      chat_id: s.group.id,
      text: 'Alice: all done',
      ephemeral_message_parameters: {
        receiver_user_id: s.alice.id,
        callback_query_id: callbackQueryId,
        replace_callback_query_message: true,
      },
    });
    expect(reply.body.ok).toBe(true);
    const alice = await client.viewAs(s.group.id, s.alice.id);
    expect(alice.messages.map((m) => m.message_id)).not.toContain(prompt.message_id);
    expect(alice.ephemeral.find((e) => e.message.text === 'Alice: all done')?.replacesMessageId).toBe(
      prompt.message_id,
    );
    expect((await client.viewAs(s.group.id, bob.id)).messages.map((m) => m.message_id)).toContain(prompt.message_id);
  });

  it('refuses a callback from another user, chat or bot, and replacing an ephemeral message', async () => {
    const prompt = (await s.api('sendMessage', { chat_id: s.group.id, text: 'prompt', reply_markup: button('x') })).body
      .result;
    const { callbackQueryId } = await client.pressButton(s.group.id, prompt.message_id, s.alice.id, 'x');
    const wrongReceiver = await sendTo(bob.id, 'x', {}, { callback_query_id: callbackQueryId });
    expect(wrongReceiver.body).toMatchObject({ ok: false, error_code: 400 });
    const unknown = await s.api('sendMessage', {
      chat_id: s.group.id,
      text: 'x',
      ephemeral_message_parameters: { callback_query_id: '42' },
    });
    expect(unknown.body.description).toBe(
      'Bad Request: query is too old and response timeout expired or query ID is invalid',
    );
    const byPeer = await callApi(sim.apiRoot, peer.token, 'sendMessage', {
      chat_id: s.group.id,
      text: 'x',
      ephemeral_message_parameters: { callback_query_id: callbackQueryId },
    });
    expect(byPeer.body).toMatchObject({ ok: false, error_code: 400 });
    const id = (await sendTo(s.alice.id, 'ephemeral prompt', { reply_markup: button('y') })).body.result
      .ephemeral_message_id;
    const press = await client.pressEphemeralButton(s.group.id, id, s.alice.id, 'y');
    const replace = await sendTo(
      s.alice.id,
      'x',
      {},
      { callback_query_id: press.callbackQueryId, replace_callback_query_message: true },
    );
    expect(replace.body).toMatchObject({ ok: false, error_code: 400 });
  });
});
