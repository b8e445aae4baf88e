// getUpdates semantics and the updates Telegram emits for events in chats.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningSimulator, SimClient, TgUpdate } from '../../sim/index';
import { buildScene, callApi, startTestSimulator, type Scene } from './helpers';

let sim: RunningSimulator;
let client: SimClient;
let s: Scene;

const ALL = ['message', 'channel_post', 'callback_query', 'chat_member', 'my_chat_member', 'chat_join_request'];

beforeAll(async () => {
  ({ sim, client } = await startTestSimulator());
});
afterAll(() => sim.stop());
beforeEach(async () => {
  s = await buildScene(sim, client, { allowedUpdates: ALL });
  // Start each test with nothing pending: confirm the set-up updates (my_chat_member for the promotions …).
  const { body } = await s.api('getUpdates', { offset: -1 });
  if (body.result.length) await s.api('getUpdates', { offset: body.result[0].update_id + 1 });
});

async function updates(scene: Scene, params: Record<string, unknown> = {}): Promise<TgUpdate[]> {
  const { body } = await scene.api('getUpdates', { timeout: 0, ...params });
  expect(body.ok).toBe(true);
  return body.result;
}

describe('getUpdates', () => {
  it('keeps updates until confirmed by offset, with increasing update_id, and honours limit', async () => {
    for (let i = 0; i < 3; i++) await client.sendMessage(s.group.id, { fromId: s.owner.id, text: `m${i}` });
    const first = await updates(s);
    expect(first.map((u) => u.message?.text)).toEqual(['m0', 'm1', 'm2']);
    expect(first[1]!.update_id).toBe(first[0]!.update_id + 1);
    expect(await updates(s)).toEqual(first); // not confirmed yet
    expect((await updates(s, { limit: 2 })).length).toBe(2);
    expect((await updates(s, { offset: first[1]!.update_id })).map((u) => u.message?.text)).toEqual(['m1', 'm2']);
    expect(await updates(s, { offset: first[2]!.update_id + 1 })).toEqual([]);
    // earlier updates are gone for good
    expect(await updates(s, { offset: 1 })).toEqual([]);
  });

  it('a negative offset keeps only the last |offset| updates', async () => {
    for (let i = 0; i < 4; i++) await client.sendMessage(s.group.id, { fromId: s.owner.id, text: `n${i}` });
    expect((await updates(s, { offset: -2 })).map((u) => u.message?.text)).toEqual(['n2', 'n3']);
    expect((await updates(s)).map((u) => u.message?.text)).toEqual(['n2', 'n3']);
  });

  it('a long poll wakes up as soon as an update arrives', async () => {
    const started = performance.now();
    const poll = s.api('getUpdates', { timeout: 20 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await client.sendMessage(s.group.id, { fromId: s.owner.id, text: 'wake' });
    const { body } = await poll;
    expect(body.result.map((u: TgUpdate) => u.message?.text)).toEqual(['wake']);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('held delivery (a test control) keeps updates pending and answers none; the release wakes the long poll', async () => {
    await client.holdDelivery(s.bot.id, true);
    await client.sendMessage(s.group.id, { fromId: s.owner.id, text: 'held' });
    expect(await updates(s)).toEqual([]);
    expect((await client.getBot(s.bot.id)).pendingUpdates).toBe(1);
    const poll = s.api('getUpdates', { timeout: 20 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await client.sendMessage(s.group.id, { fromId: s.owner.id, text: 'still held' });
    const started = performance.now();
    await client.holdDelivery(s.bot.id, false);
    const { body } = await poll;
    expect(body.result.map((u: TgUpdate) => u.message?.text)).toEqual(['held', 'still held']);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('a long poll with nothing to deliver returns [] after its timeout', async () => {
    const started = performance.now();
    expect(await updates(s, { timeout: 1 })).toEqual([]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('an overlapping getUpdates gets 409 and is counted; the first poll is unaffected', async () => {
    const poll = s.api('getUpdates', { timeout: 5 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = await s.api('getUpdates', { timeout: 0 });
    expect(second).toMatchObject({
      status: 409,
      body: {
        ok: false,
        error_code: 409,
        description:
          'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running',
      },
    });
    await client.sendMessage(s.group.id, { fromId: s.owner.id, text: 'after conflict' });
    expect((await poll).body.result[0].message.text).toBe('after conflict');
    expect((await client.calls(s.bot.id)).counters.conflicts409).toBe(1);
  });

  it('a client that gives up on a long poll frees the slot (no 409 for the next poll)', async () => {
    const controller = new AbortController();
    const poll = fetch(`${sim.apiRoot}/bot${s.bot.token}/getUpdates?timeout=10`, { signal: controller.signal }).catch(
      () => 'aborted',
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort();
    expect(await poll).toBe('aborted');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await s.api('getUpdates', { timeout: 0 })).status).toBe(200);
  });

  it('allowed_updates: Telegram default omits chat_member; a list sticks until changed; [] restores the default', async () => {
    const bot = await client.createBot();
    await client.makeAdmin(s.group.id, bot.id);
    const api = (params: Record<string, unknown>) =>
      callApi(sim.apiRoot, bot.token, 'getUpdates', { timeout: 0, ...params });
    const types = (list: TgUpdate[]) => list.map((u) => Object.keys(u).find((k) => k !== 'update_id'));
    const bob = await client.createUser();
    await client.join(s.group.id, bob.id);
    let list = (await api({})).body.result as TgUpdate[];
    expect(types(list)).toEqual(['my_chat_member', 'message', 'message']); // promoted, bot's own join message, bob's
    list = (await api({ offset: list.at(-1)!.update_id + 1, allowed_updates: ['chat_member'] })).body.result;
    expect(list).toEqual([]);
    await client.leave(s.group.id, bob.id);
    list = (await api({})).body.result; // omitted: the list sticks
    expect(types(list)).toEqual(['chat_member']);
    await api({ offset: list.at(-1)!.update_id + 1, allowed_updates: [] });
    await client.join(s.group.id, bob.id);
    expect(types((await api({})).body.result)).toEqual(['message']);
  });
});

describe('updates from events', () => {
  it('a user joining: chat_member left→member from the user, and a new_chat_members message', async () => {
    await client.join(s.group.id, s.alice.id);
    const [member, message] = await updates(s);
    expect(member!.chat_member).toMatchObject({
      chat: { id: s.group.id },
      from: { id: s.alice.id },
      old_chat_member: { status: 'left', user: { id: s.alice.id } },
      new_chat_member: { status: 'member', user: { id: s.alice.id } },
    });
    expect(message!.message).toMatchObject({ from: { id: s.alice.id }, new_chat_members: [{ id: s.alice.id }] });
  });

  it('an admin adding a user: from is the admin', async () => {
    await client.join(s.group.id, s.alice.id, { actorId: s.owner.id });
    const [member, message] = await updates(s);
    expect(member!.chat_member!.from.id).toBe(s.owner.id);
    expect(member!.chat_member!.new_chat_member.user.id).toBe(s.alice.id);
    expect(message!.message).toMatchObject({ from: { id: s.owner.id }, new_chat_members: [{ id: s.alice.id }] });
  });

  it('leaving a group: chat_member + left_chat_member; leaving a channel: chat_member in the channel only', async () => {
    await client.join(s.group.id, s.alice.id);
    await client.join(s.channel.id, s.alice.id);
    const before = await updates(s);
    await updates(s, { offset: before.at(-1)!.update_id + 1 });
    await client.leave(s.group.id, s.alice.id);
    await client.leave(s.channel.id, s.alice.id);
    const [groupLeave, serviceMessage, channelLeave, ...rest] = await updates(s);
    expect(groupLeave!.chat_member).toMatchObject({
      chat: { id: s.group.id },
      old_chat_member: { status: 'member' },
      new_chat_member: { status: 'left' },
    });
    expect(serviceMessage!.message).toMatchObject({ left_chat_member: { id: s.alice.id } });
    expect(channelLeave!.chat_member).toMatchObject({
      chat: { id: s.channel.id, type: 'channel' },
      new_chat_member: { status: 'left' },
    });
    expect(rest).toEqual([]);
  });

  it('chat_member goes only to admin bots; a plain member bot gets only the service message', async () => {
    const plain = await client.createBot({ allowedUpdates: ALL });
    await client.setMember(s.group.id, plain.id, { status: 'member' });
    await callApi(sim.apiRoot, plain.token, 'getUpdates', { offset: -1 }).then(({ body }) =>
      callApi(sim.apiRoot, plain.token, 'getUpdates', { offset: body.result[0].update_id + 1 }),
    );
    await client.join(s.group.id, s.alice.id);
    const list = (await callApi(sim.apiRoot, plain.token, 'getUpdates', {})).body.result as TgUpdate[];
    expect(list.map((u) => Object.keys(u)[1])).toEqual(['message']);
  });

  it('join requests reach admin bots as chat_join_request', async () => {
    await client.requestJoin(s.group.id, s.alice.id, { bio: 'hi' });
    const [update] = await updates(s);
    expect(update!.chat_join_request).toEqual({
      chat: s.group.chat,
      from: s.alice,
      user_chat_id: s.alice.id,
      date: expect.any(Number),
      bio: 'hi',
    });
  });

  it('adding and promoting the bot produce my_chat_member', async () => {
    const bot = await client.createBot();
    const group = await client.createChat({ type: 'supergroup', title: 'new', ownerId: s.owner.id });
    await client.setMember(group.id, bot.id, { status: 'member' });
    await client.makeAdmin(group.id, bot.id);
    const list = (await callApi(sim.apiRoot, bot.token, 'getUpdates', {})).body.result as TgUpdate[];
    const changes = list
      .filter((u) => u.my_chat_member)
      .map((u) => [u.my_chat_member!.old_chat_member.status, u.my_chat_member!.new_chat_member.status]);
    expect(changes).toEqual([
      ['left', 'member'],
      ['member', 'administrator'],
    ]);
    expect(list.find((u) => u.message)?.message?.new_chat_members?.[0]?.id).toBe(bot.id);
  });

  it('anonymous admins, linked channel posts and forum topics', async () => {
    await client.sendMessage(s.group.id, { anonymousAdmin: true, text: 'anon' });
    await client.postToChannel(s.channel.id, 'news!');
    const forum = await client.createChat({ type: 'supergroup', title: 'forum', isForum: true, ownerId: s.owner.id });
    await client.makeAdmin(forum.id, s.bot.id);
    await client.sendMessage(forum.id, { fromId: s.owner.id, text: 'topic', messageThreadId: 7 });
    const list = await updates(s);
    const anon = list.find((u) => u.message?.text === 'anon')!.message!;
    expect(anon).toMatchObject({
      from: { id: 1087968824, username: 'GroupAnonymousBot' },
      sender_chat: { id: s.group.id },
    });
    expect(list.find((u) => u.channel_post)?.channel_post).toMatchObject({
      text: 'news!',
      sender_chat: { id: s.channel.id },
    });
    const forwarded = list.find((u) => u.message?.is_automatic_forward)!.message!;
    expect(forwarded).toMatchObject({
      chat: { id: s.group.id },
      from: { id: 777000 },
      sender_chat: { id: s.channel.id },
      text: 'news!',
    });
    expect(list.find((u) => u.message?.text === 'topic')!.message).toMatchObject({
      message_thread_id: 7,
      is_topic_message: true,
    });
  });

  it('privacy mode: a non-admin bot sees commands and replies to it, not other chatter', async () => {
    const plain = await client.createBot();
    await client.setMember(s.group.id, plain.id, { status: 'member', silent: true });
    const mine = (await callApi(sim.apiRoot, plain.token, 'sendMessage', { chat_id: s.group.id, text: 'I am here' }))
      .body.result;
    await client.sendMessage(s.group.id, { fromId: s.owner.id, text: 'chatter' });
    await client.sendMessage(s.group.id, { fromId: s.owner.id, text: '/help' });
    await client.sendMessage(s.group.id, { fromId: s.owner.id, text: 'reply', replyToMessageId: mine.message_id });
    const list = (await callApi(sim.apiRoot, plain.token, 'getUpdates', {})).body.result as TgUpdate[];
    expect(list.filter((u) => u.message).map((u) => u.message!.text)).toEqual(['/help', 'reply']);
  });
});
