// Guard bots and join-request queries (Bot API 10.1): who gets query_id, how each answer ends the request,
// the Web App step, and the errors for answered, expired and unknown queries.
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningSimulator, SimBot, SimClient } from '../../sim/index';
import type { TgUpdate, TgUser } from '../../sim/types';
import { buildScene, callApi, drainUpdates, startTestSimulator, type BotApiAnswer, type Scene } from './helpers';

let sim: RunningSimulator;
let client: SimClient;
let s: Scene;
/** a second admin bot of the group that may invite users (not the guard) */
let other: SimBot;

const QUERY_INVALID = 'Bad Request: query is too old and response timeout expired or query ID is invalid';

beforeAll(async () => {
  ({ sim, client } = await startTestSimulator());
  s = await buildScene(sim, client, {
    allowedUpdates: ['message', 'chat_member', 'chat_join_request', 'callback_query'],
  });
  other = await client.createBot({ allowedUpdates: ['chat_join_request'] });
  await client.makeAdmin(s.group.id, other.id, { can_invite_users: true });
  await client.setSupportsJoinRequestQueries(s.bot.id, true);
  await client.setGuardBot(s.group.id, s.bot.id);
});
afterAll(() => sim.stop());

beforeEach(async () => {
  await drainUpdates(s);
  await client.setJoinQuerySettings({ answerWindowSeconds: 10, webAppWindowSeconds: 3600, allowHttpWebApps: false });
});

const otherApi = (method: string, params: Record<string, unknown> = {}) =>
  callApi(sim.apiRoot, other.token, method, params);
const answer = (queryId: string, result: string) =>
  s.api('answerChatJoinRequestQuery', { chat_join_request_query_id: queryId, result });
const webApp = (queryId: string, url = 'https://nezuko.example/verify') =>
  s.api('sendChatJoinRequestWebApp', { chat_join_request_query_id: queryId, web_app_url: url });

async function updatesOf(
  api: (method: string, params?: Record<string, unknown>) => Promise<BotApiAnswer>,
): Promise<TgUpdate[]> {
  return (await api('getUpdates', { timeout: 0 })).body.result as TgUpdate[];
}

/** A user asks to join the group; returns the guard's query id from its chat_join_request update. */
async function requestToJoin(): Promise<{ user: TgUser; queryId: string }> {
  const user = await client.createUser();
  expect((await client.join(s.group.id, user.id)).outcome).toBe('requested');
  const updates = await updatesOf(s.api);
  const request = updates.map((u) => u.chat_join_request).find((r) => r?.from.id === user.id);
  expect(request?.query_id).toMatch(/^\d+$/);
  await drainUpdates(s);
  return { user, queryId: request!.query_id! };
}

const isMember = async (user: TgUser) => (await client.member(s.group.id, user.id)).isMember;
const pendingRequest = async (user: TgUser) =>
  (await client.joinRequests(s.group.id)).requests.some((r) => r.userId === user.id);

describe('setting a guard bot', () => {
  it('getMe says whether the bot supports join request queries', async () => {
    expect((await s.api('getMe')).body.result.supports_join_request_queries).toBe(true);
    expect((await otherApi('getMe')).body.result.supports_join_request_queries).toBe(false);
  });

  it('needs a supergroup, a bot that supports queries and is an admin that may invite users; it turns join requests on', async () => {
    const basic = await client.createChat({ type: 'group', title: 'basic', ownerId: s.owner.id });
    await client.makeAdmin(basic.id, s.bot.id);
    await expect(client.setGuardBot(basic.id, s.bot.id)).rejects.toMatchObject({ status: 400 });
    await expect(client.setGuardBot(s.group.id, other.id)).rejects.toMatchObject({ status: 400 }); // does not support queries
    const fresh = await client.createChat({ type: 'supergroup', title: 'fresh', ownerId: s.owner.id });
    await expect(client.setGuardBot(fresh.id, s.bot.id)).rejects.toMatchObject({ status: 400 }); // not an admin there
    await client.makeAdmin(fresh.id, s.bot.id, { can_restrict_members: true });
    await expect(client.setGuardBot(fresh.id, s.bot.id)).rejects.toMatchObject({ status: 400 }); // no can_invite_users
    await client.makeAdmin(fresh.id, s.bot.id, { can_invite_users: true });
    expect(await client.setGuardBot(fresh.id, s.bot.id)).toMatchObject({ guardBotId: s.bot.id, joinByRequest: true });
    expect((await s.api('getChat', { chat_id: fresh.id })).body.result.join_by_request).toBe(true);
  });

  it('getChat shows guard_bot to administrators only', async () => {
    expect((await s.api('getChat', { chat_id: s.group.id })).body.result.guard_bot).toMatchObject({
      id: s.bot.id,
      is_bot: true,
    });
    expect((await otherApi('getChat', { chat_id: s.group.id })).body.result.guard_bot).toMatchObject({ id: s.bot.id });
    const plain = await client.createBot();
    await client.join(s.group.id, plain.id, { actorId: s.owner.id });
    const asMember = await callApi(sim.apiRoot, plain.token, 'getChat', { chat_id: s.group.id });
    expect(asMember.body.ok).toBe(true);
    expect(asMember.body.result.guard_bot).toBeUndefined();
  });
});

describe('join requests in a guarded chat', () => {
  it('reach the guard bot with query_id and other admin bots without it', async () => {
    const { user } = await requestToJoin();
    const seenByOther = (await updatesOf(otherApi))
      .map((u) => u.chat_join_request)
      .filter((r) => r?.from.id === user.id);
    expect(seenByOther).toHaveLength(1);
    expect(seenByOther[0]).not.toHaveProperty('query_id');
    expect((await client.joinQueries({ chatId: s.group.id, userId: user.id })).queries).toMatchObject([
      { state: 'pending', botId: s.bot.id },
    ]);
  });

  it('approve: the user joins as on an approved request (service message, chat_member via_join_request)', async () => {
    const { user, queryId } = await requestToJoin();
    expect((await answer(queryId, 'approve')).body).toEqual({ ok: true, result: true });
    expect(await isMember(user)).toBe(true);
    expect(await pendingRequest(user)).toBe(false);
    const updates = await updatesOf(s.api);
    expect(updates.find((u) => u.chat_member?.new_chat_member.user.id === user.id)?.chat_member).toMatchObject({
      via_join_request: true,
      from: { id: s.bot.id },
    });
    expect(updates.some((u) => u.message?.new_chat_members?.[0]?.id === user.id)).toBe(true);
    expect((await client.joinQuery(queryId)).state).toBe('approved');
  });

  it('decline: the request is gone and the user stays out', async () => {
    const { user, queryId } = await requestToJoin();
    expect((await answer(queryId, 'decline')).body.result).toBe(true);
    expect(await isMember(user)).toBe(false);
    expect(await pendingRequest(user)).toBe(false);
    expect((await client.joinQuery(queryId)).state).toBe('declined');
  });

  it('queue: the request stays for the admins, who can approve it', async () => {
    const { user, queryId } = await requestToJoin();
    expect((await answer(queryId, 'queue')).body.result).toBe(true);
    expect(await pendingRequest(user)).toBe(true);
    expect(await isMember(user)).toBe(false);
    expect((await otherApi('approveChatJoinRequest', { chat_id: s.group.id, user_id: user.id })).body.result).toBe(
      true,
    );
    expect(await isMember(user)).toBe(true);
    expect((await client.joinQuery(queryId)).state).toBe('queued');
  });

  it("a query can be answered once; unknown, malformed and other bots' ids get the query error", async () => {
    const { queryId } = await requestToJoin();
    expect((await answer(queryId, 'queue')).body.ok).toBe(true);
    for (const id of [queryId, '123456789', 'not-a-number', '']) {
      expect((await answer(id, 'approve')).body).toMatchObject({
        ok: false,
        error_code: 400,
        description: QUERY_INVALID,
      });
    }
    const second = await requestToJoin();
    expect(
      (await otherApi('answerChatJoinRequestQuery', { chat_join_request_query_id: second.queryId, result: 'approve' }))
        .body.description,
    ).toBe(QUERY_INVALID);
    expect((await answer(second.queryId, 'maybe')).body).toMatchObject({ ok: false, error_code: 400 });
    expect((await answer(second.queryId, 'decline')).body.ok).toBe(true);
  });

  it('a query not answered within 10 s expires; the request stays pending for the admins', async () => {
    const early = await requestToJoin();
    await client.advanceClock(9);
    expect((await answer(early.queryId, 'queue')).body.ok).toBe(true); // still in time at 9 s
    const late = await requestToJoin();
    await client.advanceClock(11);
    expect((await answer(late.queryId, 'approve')).body.description).toBe(QUERY_INVALID);
    expect((await client.joinQuery(late.queryId)).state).toBe('expired');
    expect(await pendingRequest(late.user)).toBe(true);
    expect(await isMember(late.user)).toBe(false);
  });

  it('a request decided by an admin closes the query', async () => {
    const { user, queryId } = await requestToJoin();
    await client.declineJoinRequest(s.group.id, user.id);
    expect((await client.joinQuery(queryId)).state).toBe('closed');
    expect((await answer(queryId, 'approve')).body.description).toBe(QUERY_INVALID);
    expect(await isMember(user)).toBe(false);
  });

  it('without a guard bot (or when it lost its rights) join requests carry no query_id', async () => {
    const chat = await client.createChat({
      type: 'supergroup',
      title: 'plain',
      ownerId: s.owner.id,
      joinByRequest: true,
    });
    await client.makeAdmin(chat.id, s.bot.id);
    const user = await client.createUser();
    await client.join(chat.id, user.id);
    await client.setGuardBot(chat.id, s.bot.id);
    await client.makeAdmin(chat.id, s.bot.id, { can_restrict_members: true }); // can_invite_users taken away
    const later = await client.createUser();
    await client.join(chat.id, later.id);
    const requests = (await updatesOf(s.api)).map((u) => u.chat_join_request).filter((r) => r?.chat.id === chat.id);
    expect(requests.map((r) => r!.from.id)).toEqual([user.id]); // the bot without can_invite_users hears nothing
    expect(requests[0]).not.toHaveProperty('query_id');
    expect((await client.joinQueries({ chatId: chat.id })).queries).toEqual([]);
  });
});

describe('the Web App step', () => {
  it('records the URL shown to the user, keeps the query answerable past 10 s, and closes the Web App on the answer', async () => {
    const { user, queryId } = await requestToJoin();
    expect((await webApp(queryId)).body).toEqual({ ok: true, result: true });
    expect(await client.joinQuery(queryId)).toMatchObject({
      state: 'web_app',
      webAppUrl: 'https://nezuko.example/verify',
      webAppOpen: true,
    });
    await client.advanceClock(60);
    expect((await answer(queryId, 'approve')).body.result).toBe(true);
    expect(await isMember(user)).toBe(true);
    expect(await client.joinQuery(queryId)).toMatchObject({ state: 'approved', webAppOpen: false });
  });

  it('opening it gives the page initData signed for the bot as Telegram documents; only while it is open', async () => {
    const { user, queryId } = await requestToJoin();
    await expect(client.openJoinQueryWebApp(queryId)).rejects.toMatchObject({ status: 409 }); // not sent yet
    await webApp(queryId, 'https://nezuko.example/verify?g=1');
    const opened = await client.openJoinQueryWebApp(queryId);
    expect(opened.url).toBe('https://nezuko.example/verify?g=1');
    expect(opened.launchUrl).toBe(`${opened.url}#tgWebAppData=${encodeURIComponent(opened.initData)}`);
    const fields = new URLSearchParams(opened.initData);
    const hash = fields.get('hash');
    fields.delete('hash');
    const dataCheckString = [...fields]
      .map(([k, v]) => `${k}=${v}`)
      .sort()
      .join('\n');
    const secret = createHmac('sha256', 'WebAppData').update(s.bot.token).digest();
    expect(createHmac('sha256', secret).update(dataCheckString).digest('hex')).toBe(hash);
    expect(JSON.parse(fields.get('user')!)).toMatchObject({ id: user.id, first_name: user.first_name });
    expect(Math.abs(Number(fields.get('auth_date')) - (await client.state()).now)).toBeLessThanOrEqual(1);
    await answer(queryId, 'decline');
    await expect(client.openJoinQueryWebApp(queryId)).rejects.toMatchObject({ status: 409 }); // closed by the answer
  });

  it('needs an HTTPS URL (HTTP only when the test-environment setting allows it) and a query still pending', async () => {
    const { queryId } = await requestToJoin();
    expect((await webApp(queryId, 'http://127.0.0.1:3000/verify')).body).toMatchObject({ ok: false, error_code: 400 });
    expect((await webApp(queryId, 'not a url')).body).toMatchObject({ ok: false, error_code: 400 });
    await client.setJoinQuerySettings({ allowHttpWebApps: true });
    expect((await webApp(queryId, 'http://127.0.0.1:3000/verify')).body.ok).toBe(true);
    expect((await webApp(queryId)).body.description).toBe(QUERY_INVALID); // shown once; the next step is the answer
    expect((await answer(queryId, 'decline')).body.ok).toBe(true);
    expect((await webApp(queryId)).body.description).toBe(QUERY_INVALID);
    const late = await requestToJoin();
    await client.advanceClock(11);
    expect((await webApp(late.queryId)).body.description).toBe(QUERY_INVALID);
  });

  it('a query whose Web App window passes expires (configurable window)', async () => {
    await client.setJoinQuerySettings({ webAppWindowSeconds: 120 });
    const { user, queryId } = await requestToJoin();
    expect((await webApp(queryId)).body.ok).toBe(true);
    await client.advanceClock(121);
    expect((await answer(queryId, 'approve')).body.description).toBe(QUERY_INVALID);
    expect(await client.joinQuery(queryId)).toMatchObject({ state: 'expired', webAppOpen: false });
    expect(await pendingRequest(user)).toBe(true);
  });
});
