// Injected faults, send limits with correct retry_after, revoked tokens and the call log.
import { Telegraf } from 'telegraf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator, type SimClient } from '../../sim/index';
import { buildScene, startTestSimulator, type Scene } from './helpers';

let sim: RunningSimulator;
let client: SimClient;
let s: Scene;

beforeAll(async () => {
  ({ sim, client } = await startTestSimulator());
});
afterAll(() => sim.stop());

const url = (scene: Scene, method: string) => `${sim.apiRoot}/bot${scene.bot.token}/${method}`;

describe('injected faults', () => {
  beforeAll(async () => {
    s = await buildScene(sim, client);
  });

  it('retry_after: a 429 with parameters.retry_after, only as many times as asked', async () => {
    await client.addFaults(s.bot.id, [{ kind: 'retry_after', method: 'getChatMember', retryAfter: 7, count: 1 }]);
    const first = await s.api('getChatMember', { chat_id: s.group.id, user_id: s.owner.id });
    expect(first).toMatchObject({
      status: 429,
      body: {
        ok: false,
        error_code: 429,
        description: 'Too Many Requests: retry after 7',
        parameters: { retry_after: 7 },
      },
    });
    expect((await s.api('getChatMember', { chat_id: s.group.id, user_id: s.owner.id })).body.ok).toBe(true);
    expect((await client.getBot(s.bot.id)).faults).toEqual([]);
  });

  it('faults target one method: other methods are untouched', async () => {
    await client.addFaults(s.bot.id, [{ kind: 'server_error', method: 'sendMessage' }]);
    expect((await s.api('getMe')).body.ok).toBe(true);
    expect((await s.api('sendMessage', { chat_id: s.group.id, text: 'x' })).status).toBe(502);
    await client.clearFaults(s.bot.id);
    expect((await s.api('sendMessage', { chat_id: s.group.id, text: 'x' })).status).toBe(200);
  });

  it('server_error: 5xx with a Telegram-style JSON body', async () => {
    await client.addFaults(s.bot.id, [{ kind: 'server_error', status: 500, count: 1 }]);
    expect(await s.api('getMe')).toMatchObject({
      status: 500,
      body: { ok: false, error_code: 500, description: 'Internal Server Error' },
    });
  });

  it('html_error: a text/html 502 page', async () => {
    await client.addFaults(s.bot.id, [{ kind: 'html_error', count: 1 }]);
    const response = await fetch(url(s, 'getMe'));
    expect(response.status).toBe(502);
    expect(response.headers.get('content-type')).toBe('text/html');
    expect(await response.text()).toContain('<center><h1>502 Bad Gateway</h1></center>');
  });

  it('invalid_json: 200 with a body that does not parse', async () => {
    await client.addFaults(s.bot.id, [{ kind: 'invalid_json', count: 1 }]);
    const response = await fetch(url(s, 'getMe'));
    expect(response.status).toBe(200);
    await expect(response.json()).rejects.toThrow();
  });

  it('html_error: any status a proxy may answer with, e.g. a 403 page or a 200 captive portal', async () => {
    await client.addFaults(s.bot.id, [
      { kind: 'html_error', status: 403, count: 1 },
      { kind: 'html_error', status: 200, count: 1 },
    ]);
    for (const status of [403, 200]) {
      const response = await fetch(url(s, 'getMe'));
      expect(response.status).toBe(status);
      expect(response.headers.get('content-type')).toBe('text/html');
      expect(await response.text()).toContain('<html>');
    }
    // A Telegram-style server_error stays a 5xx.
    await expect(client.addFaults(s.bot.id, [{ kind: 'server_error', status: 403 }])).rejects.toThrow(/5xx/);
    expect((await client.getBot(s.bot.id)).faults).toEqual([]);
  });

  it('truncated: a 200 whose chunked body stops halfway, then the connection closes', async () => {
    await client.addFaults(s.bot.id, [{ kind: 'truncated', method: 'getMe', count: 1 }]);
    const response = await fetch(url(s, 'getMe'));
    expect(response.status).toBe(200);
    expect(response.headers.get('transfer-encoding')).toBe('chunked');
    await expect(response.text()).rejects.toThrow();
    expect((await s.api('getMe')).body.ok).toBe(true);
    const { calls } = await client.calls(s.bot.id, { method: 'getMe' });
    expect(calls.at(-2)).toMatchObject({ outcome: 'fault', fault: 'truncated' });
  });

  it('latency: the answer comes late but right', async () => {
    await client.addFaults(s.bot.id, [{ kind: 'latency', latencyMs: 300, count: 1 }]);
    const started = performance.now();
    expect((await s.api('getMe')).body.ok).toBe(true);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('drop: the connection is destroyed without an answer', async () => {
    await client.addFaults(s.bot.id, [{ kind: 'drop', count: 1 }]);
    await expect(fetch(url(s, 'getMe'))).rejects.toThrow();
    expect((await s.api('getMe')).body.ok).toBe(true);
  });

  it('afterEffect: the call takes effect and only the answer is lost', async () => {
    await client.addFaults(s.bot.id, [{ kind: 'drop', method: 'sendMessage', afterEffect: true, count: 1 }]);
    await expect(
      fetch(url(s, 'sendMessage'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ chat_id: s.group.id, text: 'lost answer' }),
      }),
    ).rejects.toThrow();
    const { messages } = await client.messages(s.group.id);
    expect(messages.at(-1)?.text).toBe('lost answer');
    const { calls } = await client.calls(s.bot.id, { method: 'sendMessage' });
    expect(calls.at(-1)).toMatchObject({ outcome: 'fault', fault: 'drop (after effect)' });
  });

  it('timeout: never answers; the client gives up; stop() still closes promptly', async () => {
    const own = await startSimulator({ port: 0 });
    const bot = own.world.createBot();
    bot.faults.add({ kind: 'timeout' });
    const started = performance.now();
    await expect(
      fetch(`${own.apiRoot}/bot${bot.bot.token}/getMe`, { signal: AbortSignal.timeout(300) }),
    ).rejects.toThrow();
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    const hanging = fetch(`${own.apiRoot}/bot${bot.bot.token}/getMe`).catch(() => 'closed');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const stopping = performance.now();
    await own.stop();
    expect(await hanging).toBe('closed');
    expect(performance.now() - stopping).toBeLessThan(1000);
  });

  it('probability: 0 never fires, 0.5 fires on some calls and not others (seeded)', async () => {
    await client.addFaults(s.bot.id, [{ kind: 'server_error', probability: 0 }], true);
    for (let i = 0; i < 20; i++) expect((await s.api('getMe')).status).toBe(200);
    await client.addFaults(s.bot.id, [{ kind: 'server_error', probability: 0.5 }], true);
    let failed = 0;
    for (let i = 0; i < 100; i++) if ((await s.api('getMe')).status === 502) failed++;
    expect(failed).toBeGreaterThan(25);
    expect(failed).toBeLessThan(75);
    await client.clearFaults(s.bot.id);
  });

  it('revoked token: 401 Unauthorized from then on, and still logged', async () => {
    const scene = await buildScene(sim, client);
    expect((await scene.api('getMe')).status).toBe(200);
    await client.revokeToken(scene.bot.id);
    for (let i = 0; i < 2; i++)
      expect(await scene.api('getMe')).toMatchObject({
        status: 401,
        body: { ok: false, error_code: 401, description: 'Unauthorized' },
      });
    const { calls } = await client.calls(scene.bot.id);
    expect(calls.map((c) => c.errorCode ?? 'ok')).toEqual(['ok', 401, 401]);
  });
});

describe('send limits', () => {
  it('1 message per second in a private chat: the second gets 429 retry_after 1', async () => {
    const scene = await buildScene(sim, client);
    await client.sendPrivateMessage(scene.bot.id, scene.alice.id, '/start');
    expect((await scene.api('sendMessage', { chat_id: scene.alice.id, text: '1' })).status).toBe(200);
    expect((await scene.api('sendMessage', { chat_id: scene.alice.id, text: '2' })).body).toEqual({
      ok: false,
      error_code: 429,
      description: 'Too Many Requests: retry after 1',
      parameters: { retry_after: 1 },
    });
  });

  it('20 messages per minute in a group: the 21st waits for the oldest to leave the window', async () => {
    const scene = await buildScene(sim, client);
    // The oldest send entered the window between these two instants; retry_after must be the rest of
    // its minute, rounded up.
    const beforeFirst = performance.now();
    expect((await scene.api('sendMessage', { chat_id: scene.group.id, text: 'm0' })).status).toBe(200);
    const afterFirst = performance.now();
    for (let i = 1; i < 20; i++)
      expect((await scene.api('sendMessage', { chat_id: scene.group.id, text: `m${i}` })).status).toBe(200);
    const beforeLimited = performance.now();
    const limited = await scene.api('sendMessage', { chat_id: scene.group.id, text: 'too many' });
    const afterLimited = performance.now();
    expect(limited.status).toBe(429);
    const retryAfter = limited.body.parameters!.retry_after!;
    expect(limited.body.description).toBe(`Too Many Requests: retry after ${retryAfter}`);
    expect(retryAfter).toBeGreaterThanOrEqual(Math.ceil((beforeFirst + 60_000 - afterLimited) / 1000));
    expect(retryAfter).toBeLessThanOrEqual(Math.ceil((afterFirst + 60_000 - beforeLimited) / 1000));
    // the limit is per group: another group is unaffected
    const other = await client.createChat({ type: 'supergroup', title: 'other', ownerId: scene.owner.id });
    await client.makeAdmin(other.id, scene.bot.id);
    expect((await scene.api('sendMessage', { chat_id: other.id, text: 'fine' })).status).toBe(200);
  });

  it('30 messages per second per bot, across chats; limits can be turned off', async () => {
    const scene = await buildScene(sim, client);
    await client.setLimits(scene.bot.id, { perGroupPerMinute: 1000 });
    const answers = await Promise.all(
      Array.from({ length: 31 }, (_, i) => scene.api('sendMessage', { chat_id: scene.group.id, text: `b${i}` })),
    );
    const limited = answers.filter((a) => a.status === 429);
    expect(limited.length).toBe(1);
    expect(limited[0]!.body.parameters!.retry_after).toBe(1);
    await client.setLimits(scene.bot.id, { enabled: false });
    const free = await Promise.all(
      Array.from({ length: 40 }, (_, i) => scene.api('sendMessage', { chat_id: scene.group.id, text: `f${i}` })),
    );
    expect(free.every((a) => a.status === 200)).toBe(true);
  });

  it('Telegraf sees the 429 as a TelegramError carrying retry_after', async () => {
    const scene = await buildScene(sim, client);
    await client.addFaults(scene.bot.id, [{ kind: 'retry_after', retryAfter: 3, count: 1 }]);
    const telegraf = new Telegraf(scene.bot.token, { telegram: { apiRoot: sim.apiRoot } });
    await expect(telegraf.telegram.getMe()).rejects.toMatchObject({ code: 429, parameters: { retry_after: 3 } });
  });
});

describe('call log', () => {
  it('records method, time, params and outcome, so a test can check that retry_after was respected', async () => {
    const scene = await buildScene(sim, client);
    await client.addFaults(scene.bot.id, [{ kind: 'retry_after', retryAfter: 1, count: 1 }]);
    const first = await scene.api('getChatMember', { chat_id: scene.group.id, user_id: scene.alice.id });
    await new Promise((resolve) => setTimeout(resolve, first.body.parameters!.retry_after! * 1000));
    await scene.api('getChatMember', { chat_id: scene.group.id, user_id: scene.alice.id });
    const { calls, counters } = await client.calls(scene.bot.id, { method: 'getChatMember' });
    expect(calls).toEqual([
      expect.objectContaining({
        method: 'getChatMember',
        outcome: 'fault',
        fault: 'retry_after',
        errorCode: 429,
        retryAfter: 1,
        params: { chat_id: scene.group.id, user_id: scene.alice.id },
      }),
      expect.objectContaining({ method: 'getChatMember', outcome: 'ok' }),
    ]);
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(calls[0]!.retryAfter! * 1000 - 5);
    expect(counters).toMatchObject({ total: 2, ok: 1, faults: 1, tooManyRequests429: 1 });
    const later = await client.calls(scene.bot.id, { sinceSeq: calls[0]!.seq });
    expect(later.calls.map((c) => c.seq)).toEqual([calls[1]!.seq]);
  });
});
