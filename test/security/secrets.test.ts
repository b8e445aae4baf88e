import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db';
import { waitFor } from '../support/process';
import { useTestRedis } from '../support/redis';
import { drained, joinAll, makeJoiners, protectGroups, sleep, type ChaosBot } from '../chaos/helpers';
import { noStack, OWNER, securityDeployment } from './helpers';
import { namedIn } from '../pipeline/helpers';

const database = useTestDatabase();
const redis = useTestRedis();
let s: Awaited<ReturnType<typeof securityDeployment>>;

beforeAll(async () => {
  // Three getUpdates failures in a row end a poll loop (default 8), so a bot's status shows one within seconds.
  s = await securityDeployment({
    databaseUrl: database.url,
    redisUrl: redis.url,
    redisPrefix: redis.prefix,
    env: { POLL_MAX_FAILURES: '3' },
  });
});
afterAll(async () => {
  await s?.d.stop();
  if (s) for (const dir of [s.logDir, s.exportDir]) rmSync(dir, { recursive: true, force: true });
});

/** Every string a token could hide in: each Redis key, and each value whatever its type. */
async function redisDump(prefix: string): Promise<{ keys: number; text: string }> {
  const r = redis.redis;
  const parts: string[] = [];
  let cursor = '0';
  let keys = 0;
  do {
    const [next, batch] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    for (const key of batch) {
      keys++;
      parts.push(key);
      const type = await r.type(key);
      if (type === 'string') parts.push((await r.get(key)) ?? '');
      else if (type === 'hash') parts.push(JSON.stringify(await r.hgetall(key)));
      else if (type === 'list') parts.push(JSON.stringify(await r.lrange(key, 0, -1)));
      else if (type === 'set') parts.push(JSON.stringify(await r.smembers(key)));
      else if (type === 'zset') parts.push(JSON.stringify(await r.zrange(key, 0, -1, 'WITHSCORES')));
      else if (type === 'stream') parts.push(JSON.stringify(await r.xrange(key, '-', '+')));
    }
  } while (cursor !== '0');
  return { keys, text: parts.join('\n') };
}

/** Answers that are not Telegram's JSON: node-fetch names the request URL, and with it the token, in each. */
const MALFORMED = [{ kind: 'invalid_json' }, { kind: 'truncated' }, { kind: 'html_error', status: 403 }] as const;

describe('security: secrets after real traffic', () => {
  it(
    "no bot token in log files, Redis (keys, values, job data), metrics, API responses (a viewer's and an owner's), Bull Board or exports",
    { timeout: 240_000 },
    async () => {
      const { d, call } = s;
      // Traffic: two bots deciding joins (with Telegram failing in every way an error could carry a URL),
      // a bot whose getUpdates keeps failing until its status shows it, a bot added through the API, one added
      // while getMe fails, a revoked one, button presses, an export.
      const bots: ChaosBot[] = [await d.addBot(), await d.addBot()];
      const statusBot = await d.addBot();
      const viaApi = await d.client.createBot({ username: 'secapibot' });
      const unreachable = await d.client.createBot({ username: 'secdownbot' });
      const revoked = await d.addBot();
      const tokens = [...bots.map((b) => b.token), statusBot.token, viaApi.token, unreachable.token, revoked.token];
      const session = await s.login(OWNER);
      expect(session.status).toBe(200);
      const responses: string[] = [];
      const board: string[] = [];
      const record = <T extends { text: string }>(r: T) => {
        responses.push(r.text);
        return r;
      };
      const created = record(
        await call('POST', '/api/v1/bots', {
          cookie: session.cookie,
          csrf: session.csrf,
          body: { token: viaApi.token },
        }),
      );
      expect(created.status).toBe(201);
      const ownerToken = record(
        await call('POST', '/api/v1/tokens', {
          cookie: session.cookie,
          csrf: session.csrf,
          body: { name: 'sec', role: 'owner' },
        }),
      ).body.token as string;
      record(
        await call('PATCH', `/api/v1/bots/${created.body.id}`, { token: ownerToken, body: { token: viaApi.token } }),
      );
      record(await call('POST', '/api/v1/bots', { token: ownerToken, body: { token: bots[0]!.token } })); // duplicate: the error must not echo it
      // Registration while Telegram answers garbage: a clean 503, never the token.
      await d.client.addFaults(
        unreachable.id,
        MALFORMED.map((f) => ({ ...f, method: 'getMe', count: 3 })),
      );
      const down = record(
        await call('POST', '/api/v1/bots', { token: ownerToken, body: { token: unreachable.token } }),
      );
      expect(down.status, down.text).toBe(503);
      expect(down.body.error.code).toBe('telegram_unavailable');
      const viewerUser = { email: 'sec-viewer@example.com', password: 'Quartz-lantern-47-Willow' };
      expect(
        record(await call('POST', '/api/v1/users', { token: ownerToken, body: { ...viewerUser, role: 'viewer' } }))
          .status,
      ).toBe(201);
      const viewer = await s.login(viewerUser);
      expect(viewer.status).toBe(200);
      // getUpdates: two of each malformed answer in a row end the poll loop twice (3 failures each); the status shows why.
      await d.client.addFaults(
        statusBot.id,
        MALFORMED.map((f) => ({ ...f, method: 'getUpdates', count: 2 })),
      );

      const scenes = [];
      for (const bot of bots) scenes.push(await protectGroups(d, bot, 2));
      await d.client.revokeToken(revoked.id);
      await d.client.sendPrivateMessage(revoked.id, (await d.client.createUser()).id, 'hi');
      // Malformed answers on getChatMember, three in a row (a call's retries), until one fails an update: the
      // page hands it off as a job of its own whose data says why (and, if it fails again, its failedReason and
      // stacktrace): what Bull Board shows and Redis keeps.
      const reachedJobFailure = async (bot: ChaosBot, groupId: number, fault: (typeof MALFORMED)[number]) => {
        const queue = d.queue(bot.instanceId);
        const failed = async () =>
          (await queue.getJobs(['completed', 'failed', 'delayed', 'wait', 'active'], 0, 1000)).some((j) =>
            /Error: getChatMember: /.test(`${j.failedReason ?? ''} ${(j.data as { waiting?: string }).waiting ?? ''}`),
          );
        for (let round = 0; round < 10; round++) {
          await d.client.addFaults(bot.id, [{ ...fault, method: 'getChatMember', count: 3 }]);
          await d.client.join(groupId, (await d.client.createUser()).id);
          await waitFor(
            async () => (await d.client.getBot(bot.id)).faults.length === 0,
            20_000,
            'the faults to be used',
          );
          if (
            await waitFor(failed, 3_000, 'a job failure').then(
              () => true,
              () => false,
            )
          )
            return round + 1;
        }
        throw new Error(`no job failed with ${fault.kind} on getChatMember`);
      };
      for (const [i, bot] of bots.entries()) await reachedJobFailure(bot, scenes[i]!.groups[0]!.id, MALFORMED[i]!);
      for (const bot of bots) {
        await d.client.addFaults(bot.id, [
          { kind: 'server_error', method: 'getChatMember', probability: 0.15, count: 5 },
          { kind: 'html_error', status: 403, method: 'sendMessage', probability: 0.15, count: 3 },
          { kind: 'html_error', method: 'sendMessage', probability: 0.15, count: 3 },
          { kind: 'invalid_json', method: 'restrictChatMember', probability: 0.1, count: 3 },
          { kind: 'truncated', method: 'restrictChatMember', probability: 0.1, count: 3 },
          { kind: 'drop', method: 'getChatMember', probability: 0.05, count: 3 },
          { kind: 'retry_after', method: 'sendMessage', probability: 0.1, count: 3, retryAfter: 1 },
        ]);
      }
      const joiners = await Promise.all(scenes.map((scene) => makeJoiners(d, scene, 20, 0.5)));
      await Promise.all(joiners.map((j) => joinAll(d, j, 4)));
      // A non-subscriber subscribes and presses "I've joined".
      const first = joiners[0]!.find((j) => !j.subscribed)!;
      // Their own prompt, or a shared one naming them (a wave's prompt, `v:0`). The faults may open the bot's
      // breaker (five failed attempts in a row), which holds its jobs for 30 s, and fail its probe (30 s more).
      const prompt = (await waitFor(
        async () => (await d.client.messages(first.groupId)).messages.find((m) => namedIn(m).includes(first.userId)),
        90_000,
        'a prompt',
      ))!;
      const data = JSON.stringify(prompt.reply_markup).includes('"v:0"') ? 'v:0' : `v:${first.userId}`;
      await d.client.join(scenes[0]!.groups.find((g) => g.id === first.groupId)!.channelId, first.userId);
      await d.client.pressButton(first.groupId, prompt.message_id, first.userId, data);
      for (const bot of bots) await drained(d, bot, 90_000);
      await waitFor(
        async () =>
          (await d.db.botInstance.findUniqueOrThrow({ where: { id: revoked.instanceId } })).status === 'stopped',
        15_000,
        'the revoked bot to stop',
      );
      // The faults really reached job failures and bot status (else this test would prove nothing).
      await waitFor(
        async () =>
          (await d.db.botInstance.findUniqueOrThrow({ where: { id: statusBot.instanceId } })).restartCount >= 2,
        30_000,
        'the getUpdates bot to restart twice',
      );
      const statusRow = await d.db.botInstance.findUniqueOrThrow({ where: { id: statusBot.instanceId } });
      expect(statusRow.lastError).toMatch(/getUpdates failed 3 times in a row: \w+Error: getUpdates: /);
      // The health probe while getMe answers garbage, read by the viewer (the probe is cached, so it is the first read).
      await d.client.addFaults(bots[0]!.id, [{ kind: 'invalid_json', method: 'getMe', count: 1 }]);
      const health = record(await call('GET', `/api/v1/bots/${bots[0]!.instanceId}/health`, { cookie: viewer.cookie }));
      expect(health.status).toBe(200);
      expect(health.body.probe).toMatchObject({ ok: false, error: expect.stringMatching(/network error/) });

      // Every GET route of the API, with real ids, as a viewer and as the owner; Bull Board's queues and jobs.
      const doc = record(await call('GET', '/api/v1/openapi.json', { token: ownerToken })).body as {
        paths: Record<string, Record<string, unknown>>;
      };
      const group = await d.db.protectedGroup.findFirstOrThrow();
      const channel = await d.db.enforcedChannel.findFirstOrThrow();
      for (const as of [{ cookie: viewer.cookie }, { token: ownerToken }]) {
        for (const botId of [bots[0]!.instanceId, statusBot.instanceId]) {
          for (const [p, methods] of Object.entries(doc.paths)) {
            if (!('get' in methods) || p.includes('download')) continue;
            const concrete = p
              .replace('{chart}', 'bot-health')
              .replace(
                '{id}',
                String(p.startsWith('/groups') ? group.id : p.startsWith('/channels') ? channel.id : botId),
              )
              .replace(/\{\w+\}/g, '1');
            record(await call('GET', `/api/v1${concrete}`, as));
          }
        }
        record(await call('GET', '/api/v1/bots?per_page=100', as));
        record(await call('GET', '/api/v1/audit-log?limit=100', as));
        record(await call('GET', '/admin/queues/api/queues', as));
        for (const bot of [...bots, statusBot]) {
          for (const status of ['latest', 'failed', 'completed', 'delayed']) {
            // Bull Board shows failed jobs' stack traces on purpose: scanned for tokens, not for stacks.
            board.push(
              (
                await call(
                  'GET',
                  `/admin/queues/api/queues?activeQueue=updates-${bot.instanceId}&status=${status}&page=1&jobsPerPage=100`,
                  as,
                )
              ).text,
            );
          }
        }
      }
      const metrics = record(await call('GET', '/metrics'));
      expect(metrics.status).toBe(200);

      // Exports of every kind, downloaded.
      const exportTexts: string[] = [];
      for (const kind of ['verifications', 'api_calls', 'groups', 'audit']) {
        const e = record(await call('POST', '/api/v1/exports', { token: ownerToken, body: { kind } }));
        expect(e.status, e.text).toBe(202);
        await waitFor(
          async () => (await call('GET', `/api/v1/exports/${e.body.id}`, { token: ownerToken })).body.status === 'done',
          20_000,
          `export ${kind}`,
        );
        const file = await call('GET', `/api/v1/exports/${e.body.id}/download`, { token: ownerToken });
        expect(file.status).toBe(200);
        exportTexts.push(gunzipSync(file.buf).toString('utf8'));
      }
      expect(exportTexts.join('').length).toBeGreaterThan(1000);
      await sleep(1_500); // log files are written asynchronously

      const logFiles = readdirSync(s.logDir).filter((f) => !f.startsWith('.'));
      const logs = logFiles.map((f) => readFileSync(path.join(s.logDir, f), 'utf8')).join('\n');
      const { keys, text: redisText } = await redisDump(redis.prefix);
      const jobs = redisText.match(/update_id/g)?.length ?? 0;
      const stored =
        JSON.stringify(await d.db.botInstance.findMany({ select: { statusReason: true, lastError: true } })) +
        JSON.stringify(await d.db.export.findMany({ select: { error: true } }));
      const sources: Record<string, string> = {
        logs,
        redis: redisText,
        database: stored,
        metrics: metrics.text,
        api: responses.join('\n'),
        bullBoard: board.join('\n'),
        exports: exportTexts.join('\n'),
        stdout: s.process.output(),
      };
      const leaks: string[] = [];
      for (const token of tokens) {
        const secret = token.split(':')[1]!;
        for (const [name, text] of Object.entries(sources))
          if (text.includes(secret)) leaks.push(`${name} holds the token of bot ${token.split(':')[0]}`);
      }
      let problems = 0;
      for (const bot of [...bots, revoked]) {
        const { counters } = await d.client.calls(bot.id);
        problems += counters.faults + counters.errors;
      }
      console.log(
        `[security:secrets] tokens=${tokens.length} logFiles=${logFiles.length} logBytes=${logs.length} logLines=${logs.split('\n').length} redisKeys=${keys} jobsWithUpdates=${jobs} metricsBytes=${metrics.text.length} apiResponses=${responses.length} exportBytes=${exportTexts.join('').length} failedTelegramCalls=${problems} leaks=${leaks.length}`,
      );
      expect(logFiles.length).toBeGreaterThan(0);
      expect(logs).toMatch(/token revoked/); // the errors that could carry a URL were really logged
      expect(jobs).toBeGreaterThan(50);
      expect(leaks).toEqual([]);
      // The viewer and owner did read the errors of failed calls, and Bull Board showed them.
      expect(responses.join('\n')).toMatch(/Error: get(ChatMember|Updates|Me): /);
      expect(board.join('\n')).toMatch(/Error: getChatMember: /);
      for (const text of responses) expect(noStack(text), text.slice(0, 200)).toBe(true);
    },
  );
});
