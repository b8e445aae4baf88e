import { createHmac } from 'node:crypto';
import { createServer } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { startApiServer } from '../../services/api';
import { rollupAll } from '../../services/maintenance/rollup';
import { protectedGroup, usePlatform } from '../support/platform';
import { waitFor } from '../support/process';
import { logRows, waitReply, type Bot } from './helpers';

/**
 * Guard-bot mode end to end: the simulator names the bot a group's guard bot (Bot API 10.1), the poller and
 * verifier answer its join-request queries, and the API serves the verification Web App the user opens.
 */

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const platform = usePlatform({ env: { API_PORT: String(port), WEB_APP_BASE_URL: base } });
let bot: Bot;

beforeAll(async () => {
  await startApiServer(platform.ctx);
  bot = await platform.addBot();
  await platform.client.setSupportsJoinRequestQueries(bot.id, true);
  // Telegram's test environment allows http Web Apps; the API here is plain http on loopback.
  await platform.client.setJoinQuerySettings({ allowHttpWebApps: true });
});

/** Signed as core.telegram.org/bots/webapps documents, written here independently of the API's checker. */
function signInitData(fields: Record<string, string>, token: string): string {
  const dataCheckString = Object.keys(fields)
    .sort()
    .map((k) => `${k}=${fields[k]}`)
    .join('\n');
  const secret = createHmac('sha256', 'WebAppData').update(token).digest();
  const hash = createHmac('sha256', secret).update(dataCheckString).digest('hex');
  return new URLSearchParams({ ...fields, hash }).toString();
}

async function webApp(path: 'state' | 'check', body: unknown) {
  const res = await fetch(`${base}/webapp/join/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text), text };
}

/** A protected group whose guard bot is ours. */
async function guardedGroup(channelCount = 1, settings: string[] = []) {
  const setup = await protectedGroup(platform, bot, channelCount);
  await platform.client.setGuardBot(setup.group.id, bot.id);
  for (const setting of settings) {
    await platform.client.sendMessage(setup.group.id, { fromId: setup.owner.id, text: `/set ${setting}` });
  }
  if (settings.length)
    await waitFor(
      async () => {
        const row = await platform.ctx.db.protectedGroup.findFirst({ where: { chatId: BigInt(setup.group.id) } });
        return settings.every((s) =>
          s.startsWith('guard_timeout')
            ? row?.guardTimeoutAction === s.split(' ')[1]
            : row?.promptLifetimeSeconds === 10,
        );
      },
      10_000,
      'the settings',
    );
  return setup;
}

async function queryOf(chatId: number, userId: number, state?: string) {
  return (await waitFor(
    async () => {
      const { queries } = await platform.client.joinQueries({ chatId, userId, botId: bot.id });
      const query = queries.at(-1);
      return query && (!state || query.state === state) ? query : undefined;
    },
    15_000,
    `the join query of ${userId}${state ? ` to be ${state}` : ''}`,
  ))!;
}

describe('guard-bot join requests', () => {
  it('approves at once a requester who is in every channel, without a Web App', async () => {
    const { client } = platform;
    const { group, channels } = await guardedGroup(2);
    const user = await client.createUser({ firstName: 'Ready' });
    for (const c of channels) await client.join(c.id, user.id);
    await client.requestJoin(group.id, user.id);

    await queryOf(group.id, user.id, 'approved');
    expect((await client.member(group.id, user.id)).status).toBe('member');
    expect((await client.calls(bot.id, { method: 'sendChatJoinRequestWebApp' })).calls).toHaveLength(0);
    const rows = (await logRows(platform, group.id, user.id, 1)).filter((r) => r.reason);
    expect(rows.map((r) => [r.status, r.reason])).toEqual([['approved', 'guard_at_once']]);
    // Seen with a query_id: the group knows its guard bot.
    const stored = await platform.ctx.db.protectedGroup.findFirst({ where: { chatId: BigInt(group.id) } });
    expect(stored?.isGuardBot).toBe(true);
  });

  it('shows the Web App to a non-subscriber and approves once the page finds every channel joined', async () => {
    const { client } = platform;
    const { group, channels } = await guardedGroup(2);
    const user = await client.createUser({ firstName: 'Later' });
    await client.join(channels[0]!.id, user.id);
    await client.requestJoin(group.id, user.id);

    const query = await queryOf(group.id, user.id, 'web_app');
    expect(query.webAppUrl).toBe(`${base}/webapp/join?bot=${bot.instanceId}&chat=${group.id}`);
    const opened = await client.openJoinQueryWebApp(query.id);

    const page = await fetch(opened.launchUrl);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('./join/join.js');
    expect((await fetch(`${base}/webapp/join/join.js`)).status).toBe(200);

    const request = { initData: opened.initData, bot: bot.instanceId, chat: group.id };
    const state = await webApp('state', request);
    expect(state.status).toBe(200);
    expect(state.body).toMatchObject({
      state: 'web_app',
      group: { title: group.chat.title },
      missing: [
        {
          title: channels[1]!.chat.title,
          username: channels[1]!.chat.username,
          link: `https://t.me/${channels[1]!.chat.username}`,
        },
      ],
    });

    const early = await webApp('check', request);
    expect(early.body).toMatchObject({ state: 'web_app', checked: true });
    expect(early.body.missing).toHaveLength(1);
    expect((await client.joinRequests(group.id)).requests.map((r) => r.userId)).toEqual([user.id]);

    await client.join(channels[1]!.id, user.id);
    const done = await webApp('check', request);
    expect(done.body).toMatchObject({ state: 'approved', missing: [] });
    expect((await client.joinQuery(query.id)).state).toBe('approved');
    expect((await client.member(group.id, user.id)).status).toBe('member');
    // (In a mute-mode group the approved user's join is then checked like any other: `verified`.)
    const rows = (await logRows(platform, group.id, user.id, 1)).filter((r) => r.reason);
    expect(rows.map((r) => [r.status, r.reason])).toEqual([['approved', 'guard_web_app']]);
    // The page shows the outcome to its user from then on.
    expect((await webApp('state', request)).body.state).toBe('approved');
  });

  it('trusts no initData but a fresh one Telegram signed, and shows a user only their own request', async () => {
    const { client } = platform;
    const { group, channels } = await guardedGroup(1);
    const user = await client.createUser({ firstName: 'Asker' });
    await client.requestJoin(group.id, user.id);
    const query = await queryOf(group.id, user.id, 'web_app');
    const opened = await client.openJoinQueryWebApp(query.id);
    const valid = { initData: opened.initData, bot: bot.instanceId, chat: group.id };
    expect((await webApp('state', valid)).status).toBe(200);

    // Forged: another user's id put into genuine initData (the hash no longer matches).
    const other = await client.createUser({ firstName: 'Other' });
    const fields = Object.fromEntries(new URLSearchParams(opened.initData));
    const forgedUser = JSON.stringify({ ...JSON.parse(fields.user!), id: other.id });
    const forged = new URLSearchParams({ ...fields, user: forgedUser }).toString();
    for (const path of ['state', 'check'] as const) {
      const res = await webApp(path, { ...valid, initData: forged });
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('invalid_init_data');
    }
    // Signed with a token that is not this bot's.
    const { hash: _hash, ...unsigned } = fields;
    const otherBot = await client.createBot({});
    const wrongKey = await webApp('state', { ...valid, initData: signInitData(unsigned, otherBot.token) });
    expect(wrongKey.status).toBe(401);
    expect(wrongKey.body.error.code).toBe('invalid_init_data');

    // Stale: genuinely signed, but two hours old.
    const old = { ...unsigned, auth_date: String(Math.floor(Date.now() / 1000) - 7200) };
    const stale = await webApp('check', { ...valid, initData: signInitData(old, bot.token) });
    expect(stale.status).toBe(401);
    expect(stale.body.error.code).toBe('stale_init_data');

    // Genuine initData of someone else: nothing about the asker's request.
    const theirs = signInitData(
      { auth_date: String(Math.floor(Date.now() / 1000)), user: JSON.stringify({ id: other.id, first_name: 'Other' }) },
      bot.token,
    );
    const foreign = await webApp('state', { ...valid, initData: theirs });
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe('no_request');
    expect(foreign.text).not.toContain(channels[0]!.chat.title);
    expect(foreign.text).not.toContain(group.chat.title);

    // Malformed requests are a 400, never a 500.
    expect((await webApp('state', { initData: opened.initData })).status).toBe(400);
    expect((await webApp('state', { ...valid, bot: 'x' })).status).toBe(400);
    expect((await webApp('state', { ...valid, initData: 'hash=zz' })).status).toBe(401);

    // The asker's own view never carries a token.
    const own = await webApp('check', valid);
    expect(own.text).not.toContain(bot.token);
    expect(own.text).not.toContain(bot.token.split(':')[1]);
    expect(own.body.state).toBe('web_app');
    expect((await client.joinQuery(query.id)).state).toBe('web_app');
  });

  it('declines a request whose user did not join in time', async () => {
    const { client } = platform;
    const { group } = await guardedGroup(1, ['prompt_lifetime 10']);
    const user = await client.createUser({ firstName: 'Never' });
    const asked = Date.now();
    await client.requestJoin(group.id, user.id);
    const query = await queryOf(group.id, user.id, 'web_app');

    await queryOf(group.id, user.id, 'declined');
    expect(Date.now() - asked).toBeGreaterThanOrEqual(9_500);
    expect((await client.joinRequests(group.id)).requests).toHaveLength(0);
    expect(['left', 'kicked']).toContain((await client.member(group.id, user.id)).status);
    const rows = await logRows(platform, group.id, user.id, 1);
    expect(rows.map((r) => [r.status, r.reason])).toEqual([['declined', 'guard_timeout']]);
    const opened = await client.openJoinQueryWebApp(query.id).catch((err: { status: number }) => err);
    expect((opened as { status: number }).status).toBe(409); // the answer closed the Web App
  }, 30_000);

  it('leaves a timed-out request to the admins when the group says so', async () => {
    const { client } = platform;
    const { group } = await guardedGroup(1, ['prompt_lifetime 10', 'guard_timeout queue']);
    const user = await client.createUser({ firstName: 'Slow' });
    await client.requestJoin(group.id, user.id);
    await queryOf(group.id, user.id, 'web_app');

    await queryOf(group.id, user.id, 'queued');
    expect((await client.joinRequests(group.id)).requests.map((r) => r.userId)).toEqual([user.id]);
    const rows = await logRows(platform, group.id, user.id, 1);
    expect(rows.map((r) => [r.status, r.reason])).toEqual([['skipped', 'guard_queued']]);
  }, 30_000);

  it('/status and /settings say whether the bot is the guard bot and what a timeout does', async () => {
    const { client } = platform;
    const { group, owner } = await guardedGroup(1, ['guard_timeout queue']);
    const status = await client.sendMessage(group.id, { fromId: owner.id, text: '/status' });
    expect((await waitReply(platform, group.id, status.message_id)).text).toContain('Guard bot: yes');
    const settings = await client.sendMessage(group.id, { fromId: owner.id, text: '/settings' });
    expect((await waitReply(platform, group.id, settings.message_id)).text).toContain('guard_timeout = queue');

    await client.setGuardBot(group.id, null);
    const again = await client.sendMessage(group.id, { fromId: owner.id, text: '/status' });
    expect((await waitReply(platform, group.id, again.message_id)).text).toContain('Guard bot: no');
    const stored = await platform.ctx.db.protectedGroup.findFirst({ where: { chatId: BigInt(group.id) } });
    expect(stored?.isGuardBot).toBe(false);
  });

  it('counts each reason in the hourly statistics', async () => {
    await rollupAll(platform.ctx.db);
    const [sums] = await platform.ctx.db.$queryRaw<Array<Record<string, bigint>>>`
      SELECT sum(guard_at_once)::bigint AS at_once, sum(guard_web_app)::bigint AS web_app,
             sum(guard_timeout)::bigint AS timeout, sum(guard_queued)::bigint AS queued
      FROM verification_stats_hourly WHERE bot_instance_id = ${bot.instanceId}`;
    expect(sums).toEqual({ at_once: 1n, web_app: 1n, timeout: 1n, queued: 1n });
  });
});
