// Every error that leaves the Telegram client is cleaned of the bot token, whatever Telegram (or a proxy in front
// of it) answered; registration and token checks retry blips and call only a 401 an invalid token; a call Telegram
// never answers gives up after its timeout and is retried.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { botHealth, PROBE_CACHE_MS } from '../../services/api/bot-health';
import { BotRegistryError, checkToken, registerBot } from '../../services/core/bots';
import { loadConfig, type Config } from '../../services/core/config';
import { createContext, type AppContext } from '../../services/core/context';
import { logger } from '../../services/core/logger';
import { BotApi } from '../../services/core/telegram/client';
import { cleanError, describeError, isTransient, TelegramError } from '../../services/core/telegram/errors';
import { callBotApi } from '../../services/core/telegram/transport';
import { SimClient, startSimulator, type RunningSimulator, type SimBot } from '../../sim';
import type { FaultRuleInput } from '../../sim/faults';
import { useTestDatabase } from '../support/db';
import { useTestRedis } from '../support/redis';

const database = useTestDatabase();
const redis = useTestRedis();
let sim: RunningSimulator;
let client: SimClient;
let ctx: AppContext;
let config: Config;

beforeAll(async () => {
  sim = await startSimulator({ port: 0 });
  client = new SimClient(sim.url);
  config = loadConfig({
    DATABASE_URL: database.url,
    REDIS_URL: redis.url,
    REDIS_PREFIX: redis.prefix,
    TELEGRAM_API_ROOT: sim.apiRoot,
    TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    LOG_TO_FILE: 'false',
  });
  ctx = await createContext(config, logger);
});
afterAll(async () => {
  await ctx?.lifecycle.shutdown('done', 5_000);
  await sim?.stop();
});

/** Everything an error could show: message, stack, the causes' too, and every enumerable field. */
function everything(err: unknown): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  const walk = (e: unknown) => {
    if (!e || typeof e !== 'object' || seen.has(e)) return parts.push(String(e));
    seen.add(e);
    const x = e as { message?: unknown; stack?: unknown; cause?: unknown };
    parts.push(String(x.message), String(x.stack), JSON.stringify(e), describeError(e));
    walk(x.cause);
  };
  walk(err);
  return parts.join('\n');
}

const secretOf = (bot: SimBot) => bot.token.split(':')[1]!;

/** Answers a proxy or a broken Telegram front end can give; node-fetch names the request URL in each. */
const MALFORMED: Array<[string, FaultRuleInput]> = [
  ['non-JSON', { kind: 'invalid_json' }],
  ['truncated', { kind: 'truncated' }],
  ['HTML 403', { kind: 'html_error', status: 403 }],
  ['HTML 200', { kind: 'html_error', status: 200 }],
];

function botApi(bot: SimBot, id: number, timeoutMs?: number) {
  return new BotApi({
    timeoutMs,
    botInstanceId: id,
    token: bot.token,
    apiRoot: sim.apiRoot,
    redis: ctx.redis,
    keys: ctx.keys,
    cooldowns: ctx.cooldowns,
    metrics: ctx.metrics,
    log: ctx.log,
    breakerOpenMs: 60_000,
  });
}

describe('a call Telegram never answers', () => {
  it('gives up after the timeout and is retried; unanswered every time, it fails transient, without the token', async () => {
    const bot = await client.createBot({});
    const api = botApi(bot, 20_000 + bot.id, 300);
    await client.addFaults(bot.id, [{ kind: 'timeout', method: 'getMe', count: 1 }]);
    const started = Date.now();
    expect((await api.call('getMe', {})).id).toBe(bot.id);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect((await client.calls(bot.id, { method: 'getMe' })).calls.length).toBe(2);

    await client.addFaults(bot.id, [{ kind: 'timeout', method: 'getMe' }]);
    const failed = await api.call('getMe', {}).catch((e: unknown) => e);
    expect(isTransient(failed)).toBe(true);
    expect(everything(failed)).not.toContain(secretOf(bot));
    expect((await client.calls(bot.id, { method: 'getMe' })).calls.length).toBe(5); // three more attempts
  });
});

describe('errors leaving the Telegram client carry no token', () => {
  it('a raw node-fetch error names the token; cleanError and describeError remove it (the problem itself)', async () => {
    const bot = await client.createBot({});
    await client.addFaults(bot.id, [{ kind: 'invalid_json', count: 1 }]);
    const raw = await fetch(`${sim.apiRoot}/bot${bot.token}/getMe`)
      .then((r) => r.json())
      .catch((e: unknown) => e);
    // Telegraf's own client throws node-fetch's FetchError, whose message is built from the URL.
    const { Telegram } = await import('telegraf');
    await client.addFaults(bot.id, [{ kind: 'invalid_json', count: 1 }]);
    const telegrafError = await new Telegram(bot.token, { apiRoot: sim.apiRoot })
      .getMe()
      .catch((e: unknown) => e as Error);
    expect(String((telegrafError as Error).message)).toContain(secretOf(bot));
    expect(describeError(telegrafError)).not.toContain(secretOf(bot));
    cleanError(telegrafError, bot.token);
    expect(everything(telegrafError)).not.toContain(secretOf(bot));
    expect(raw).toBeInstanceOf(Error);
  });

  for (const [name, fault] of MALFORMED) {
    it(`${name}: getChatMember through the policies, getUpdates, token checks and the health probe`, async () => {
      const bot = await client.createBot({ username: `err${randomBytes(3).toString('hex')}bot` });
      const api = botApi(bot, 10_000 + bot.id);
      const secret = secretOf(bot);

      await client.addFaults(bot.id, [{ ...fault, method: 'getChatMember' }]);
      const call = await api.call('getChatMember', { chat_id: -100123, user_id: 42 }).catch((e: unknown) => e);
      expect(call).toBeInstanceOf(Error);
      expect(everything(call)).not.toContain(secret);
      expect((await client.calls(bot.id, { method: 'getChatMember' })).calls.length).toBe(3); // retried, then given up

      await client.addFaults(bot.id, [{ ...fault, method: 'getUpdates' }]);
      const poll = await api.getUpdates({ timeout: 0 }, new AbortController().signal).catch((e: unknown) => e);
      expect(poll).toBeInstanceOf(Error);
      expect(isTransient(poll)).toBe(true); // the poller backs off and asks again
      expect(everything(poll)).not.toContain(secret);

      await client.addFaults(bot.id, [{ ...fault, method: 'getMe' }]);
      const check = await checkToken(config, bot.token).catch((e: unknown) => e);
      expect(check).toBeInstanceOf(BotRegistryError);
      expect((check as BotRegistryError).code).toBe('telegram_unavailable'); // not "invalid token"
      expect(everything(check)).not.toContain(secret);

      const row = await ctx.db.botInstance.create({
        data: {
          telegramBotId: BigInt(bot.id),
          username: bot.username,
          name: 'x',
          tokenEncrypted: (await import('../../services/core/crypto')).encryptSecret(
            bot.token,
            config.TOKEN_ENCRYPTION_KEY!,
          ),
          isActive: true,
        },
      });
      const health = await botHealth(ctx, row.id);
      expect(health?.probe.ok).toBe(false);
      expect(health?.probe.error).toBeTruthy();
      expect(JSON.stringify(health)).not.toContain(secret);
    });
  }
});

describe('which failures are retried', () => {
  it('network failures are, whatever layer names them; a setting to fix and a refusal are not', async () => {
    const coded = (code: string) => Object.assign(new Error(code), { code });
    for (const code of [
      'ECONNRESET',
      'ECONNREFUSED',
      'EPIPE',
      'EAI_AGAIN',
      'UND_ERR_SOCKET',
      'UND_ERR_CONNECT_TIMEOUT',
    ])
      expect(isTransient(coded(code)), code).toBe(true);
    expect(isTransient(coded('ERR_INVALID_URL'))).toBe(false);
    // Nothing listens here: the refused connection itself, as the transport throws it.
    const refused = await callBotApi('http://127.0.0.1:9', 'x', 'getMe', {}).catch((e: unknown) => e);
    expect(isTransient(refused)).toBe(true);
    expect(isTransient(new TelegramError({ error_code: 400, description: 'Bad Request' }))).toBe(false);
    expect(isTransient(new TelegramError({ error_code: 502, description: 'Bad Gateway' }))).toBe(true);
  });
});

describe('token checks (registration, token replacement)', () => {
  it('a network blip is retried: two dropped or 502 answers in a row still register the bot', async () => {
    const bot = await client.createBot({ username: `blip${randomBytes(3).toString('hex')}bot` });
    await client.addFaults(bot.id, [
      { kind: 'drop', method: 'getMe', count: 1 },
      { kind: 'server_error', method: 'getMe', count: 1 },
    ]);
    const row = await registerBot(ctx.db, config, bot.token);
    expect(row.username).toBe(bot.username);
    expect((await client.calls(bot.id, { method: 'getMe' })).calls.map((c) => c.outcome)).toEqual([
      'fault',
      'fault',
      'ok',
    ]);
  });

  it('Telegram failing for longer is "unavailable", never "invalid token"; only a 401 is invalid', async () => {
    const bot = await client.createBot({ username: `down${randomBytes(3).toString('hex')}bot` });
    await client.addFaults(bot.id, [{ kind: 'server_error', method: 'getMe', status: 502 }]);
    await expect(registerBot(ctx.db, config, bot.token)).rejects.toMatchObject({ code: 'telegram_unavailable' });
    await client.clearFaults(bot.id);
    await client.revokeToken(bot.id);
    await expect(registerBot(ctx.db, config, bot.token)).rejects.toMatchObject({ code: 'invalid_token' });
  });
});

describe('health probe pacing', () => {
  it('many health requests for one bot cost one getMe per PROBE_CACHE_MS', async () => {
    const bot = await client.createBot({ username: `hp${randomBytes(3).toString('hex')}bot` });
    const row = await registerBot(ctx.db, config, bot.token);
    const before = (await client.calls(bot.id, { method: 'getMe' })).calls.length;
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 100 }, () => botHealth(ctx, row.id)));
    for (let i = 0; i < 200; i++) await botHealth(ctx, row.id);
    expect(Date.now() - started).toBeLessThan(PROBE_CACHE_MS);
    expect(results.every((r) => r?.probe.ok)).toBe(true);
    expect((await client.calls(bot.id, { method: 'getMe' })).calls.length - before).toBe(1);
  });
});
