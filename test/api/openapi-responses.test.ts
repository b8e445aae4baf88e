// Every route's real answers, checked against the OpenAPI document the API serves (/api/v1/openapi.json) with
// Ajv: each status a call gets must be documented for that route, and its body must match the documented schema.
// Objects in the document are closed, so a field a route sends but does not declare fails here too.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { rollupAll } from '../../services/maintenance/rollup';
import { writeDashboard } from '../../services/maintenance/dashboard';
import { OWNER, seedBot, useApi, type Creds } from './helpers';
import { openApiChecker } from './openapi-check';

const exportDir = mkdtempSync(path.join(tmpdir(), 'nezuko-openapi-exports-'));
const api = useApi({ EXPORT_DIR: exportDir });

type Role = 'owner' | 'admin' | 'viewer' | 'session' | 'second-session' | 'none';
interface Call {
  method: string;
  /** The route as documented, e.g. /bots/{id}. */
  route: string;
  /** The concrete path under /api/v1 (defaults to `route`). */
  path?: () => string;
  as: Role;
  body?: unknown;
  status: number;
}

let seed: Awaited<ReturnType<typeof seedBot>>;
let session: Creds;
let doc: any;
let checker: ReturnType<typeof openApiChecker>;

const ids = () => ({
  bot: seed.botId,
  group: seed.group.id,
  channel: seed.channel.id,
});

beforeAll(async () => {
  seed = await seedBot(api);
  // Decisions in the log, rolled up and snapshotted, so statistics answer with data rather than nulls.
  const now = Date.now();
  await api.ctx.db.verificationLog.createMany({
    data: (['verified', 'restricted', 'error'] as const).map((status, i) => ({
      botInstanceId: seed.botId,
      chatId: seed.group.chatId,
      userId: 1000n + BigInt(i),
      status,
      latencyMs: 20 * (i + 1),
      errorType: status === 'error' ? 'network' : null,
      createdAt: new Date(now - 60_000 * (i + 1)),
    })),
  });
  await rollupAll(api.ctx.db, { settleTimeoutMs: 5_000 });
  await writeDashboard({ db: api.ctx.db, redis: api.ctx.redis, keys: api.ctx.keys });
  session = await api.login(OWNER);
  const res = await api.call('GET', '/api/v1/openapi.json');
  expect(res.status).toBe(200);
  doc = res.body;
  checker = openApiChecker(doc);
});

/** A finished export with a real file in EXPORT_DIR, as the maintenance role leaves it. */
async function finishedExport(): Promise<number> {
  const file = `openapi-test-${Date.now()}.csv.gz`;
  const bytes = gzipSync('id,status\n1,verified\n');
  writeFileSync(path.join(exportDir, file), bytes);
  const row = await api.ctx.db.export.create({
    data: {
      kind: 'verifications',
      status: 'done',
      filePath: file,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      rows: 1n,
      bytes: BigInt(bytes.length),
      finishedAt: new Date(),
    },
  });
  return row.id;
}

let doneExport = 0;
let createdUser = 0;
let createdToken = 0;
let secondChannel = 0;
let secondBotToken = '';
let secondSession: Creds = {};

/** One call per documented answer we can provoke, in an order where each finds what it needs. */
const calls = (): Call[] => {
  const { bot, group, channel } = ids();
  return [
    // auth
    {
      method: 'POST',
      route: '/auth/login',
      as: 'none',
      body: { email: OWNER.email, password: 'wrong-password-1' },
      status: 401,
    },
    { method: 'POST', route: '/auth/login', as: 'none', body: { email: '' }, status: 400 },
    { method: 'POST', route: '/auth/login', as: 'none', body: OWNER, status: 200 },
    { method: 'GET', route: '/setup', as: 'none', status: 200 },
    {
      method: 'POST',
      route: '/setup',
      as: 'none',
      body: { code: 'AAAA-BBBB-CCCC', email: 'late@example.com', password: 'a-long-enough-Passphrase-42' },
      status: 409,
    },
    { method: 'GET', route: '/auth/me', as: 'session', status: 200 },
    { method: 'GET', route: '/auth/me', as: 'viewer', status: 200 },
    { method: 'GET', route: '/auth/me', as: 'none', status: 401 },
    { method: 'GET', route: '/auth/sessions', as: 'session', status: 200 },
    { method: 'POST', route: '/auth/logout', as: 'owner', status: 400 },
    // users and tokens
    { method: 'GET', route: '/users', as: 'owner', status: 200 },
    { method: 'GET', route: '/users', as: 'admin', status: 403 },
    { method: 'GET', route: '/users', path: () => '/users?per_page=0', as: 'owner', status: 400 },
    {
      method: 'POST',
      route: '/users',
      as: 'owner',
      body: { email: 'new-viewer@example.com', password: 'a-long-enough-Passphrase-42', role: 'viewer' },
      status: 201,
    },
    {
      method: 'POST',
      route: '/users',
      as: 'owner',
      body: { email: 'new-viewer@example.com', password: 'a-long-enough-Passphrase-42' },
      status: 409,
    },
    { method: 'GET', route: '/users/{id}', path: () => `/users/${createdUser}`, as: 'owner', status: 200 },
    { method: 'GET', route: '/users/{id}', path: () => '/users/999999', as: 'owner', status: 404 },
    {
      method: 'PATCH',
      route: '/users/{id}',
      path: () => `/users/${createdUser}`,
      as: 'owner',
      body: { displayName: 'New Viewer' },
      status: 200,
    },
    { method: 'GET', route: '/tokens', as: 'owner', status: 200 },
    { method: 'POST', route: '/tokens', as: 'owner', body: { name: 'ci', role: 'viewer' }, status: 201 },
    { method: 'DELETE', route: '/tokens/{id}', path: () => `/tokens/${createdToken}`, as: 'owner', status: 204 },
    { method: 'DELETE', route: '/tokens/{id}', path: () => `/tokens/${createdToken}`, as: 'owner', status: 409 },
    { method: 'DELETE', route: '/users/{id}', path: () => `/users/${createdUser}`, as: 'owner', status: 204 },
    // bots
    { method: 'GET', route: '/bots', as: 'viewer', status: 200 },
    { method: 'POST', route: '/bots', as: 'admin', body: { token: 'nope' }, status: 400 },
    { method: 'POST', route: '/bots', as: 'admin', body: { token: secondBotToken }, status: 201 },
    { method: 'POST', route: '/bots', as: 'admin', body: { token: seed.simBot.token }, status: 409 },
    { method: 'POST', route: '/bots', as: 'viewer', body: { token: seed.simBot.token }, status: 403 },
    { method: 'GET', route: '/bots/{id}', path: () => `/bots/${bot}`, as: 'viewer', status: 200 },
    {
      method: 'PATCH',
      route: '/bots/{id}',
      path: () => `/bots/${bot}`,
      as: 'admin',
      body: { name: 'Renamed' },
      status: 200,
    },
    { method: 'GET', route: '/bots/{id}/health', path: () => `/bots/${bot}/health`, as: 'viewer', status: 200 },
    { method: 'POST', route: '/bots/{id}/stop', path: () => `/bots/${bot}/stop`, as: 'admin', status: 202 },
    { method: 'POST', route: '/bots/{id}/start', path: () => `/bots/${bot}/start`, as: 'admin', status: 202 },
    { method: 'POST', route: '/bots/{id}/restart', path: () => `/bots/${bot}/restart`, as: 'admin', status: 202 },
    { method: 'POST', route: '/bots/{id}/restart', path: () => '/bots/999999/restart', as: 'admin', status: 404 },
    // groups and channels
    { method: 'GET', route: '/groups', as: 'viewer', status: 200 },
    { method: 'GET', route: '/groups', path: () => '/groups?q=Crypto', as: 'viewer', status: 200 },
    { method: 'GET', route: '/groups/{id}', path: () => `/groups/${group}`, as: 'viewer', status: 200 },
    {
      method: 'PATCH',
      route: '/groups/{id}',
      path: () => `/groups/${group}`,
      as: 'admin',
      body: { promptLifetimeSeconds: 600, customPromptText: 'Join our channel first' },
      status: 200,
    },
    {
      method: 'PATCH',
      route: '/groups/{id}',
      path: () => `/groups/${group}`,
      as: 'admin',
      body: { mode: 'x' },
      status: 400,
    },
    {
      method: 'POST',
      route: '/groups/{id}/channels',
      path: () => `/groups/${group}/channels`,
      as: 'admin',
      body: { channelId: secondChannel },
      status: 201,
    },
    {
      method: 'POST',
      route: '/groups/{id}/channels',
      path: () => `/groups/${group}/channels`,
      as: 'admin',
      body: { channelId: secondChannel },
      status: 409,
    },
    {
      method: 'DELETE',
      route: '/groups/{id}/channels/{channelId}',
      path: () => `/groups/${group}/channels/${secondChannel}`,
      as: 'admin',
      status: 204,
    },
    {
      method: 'POST',
      route: '/groups/{id}/unmute-all',
      path: () => `/groups/${group}/unmute-all`,
      as: 'admin',
      body: {},
      status: 202,
    },
    { method: 'GET', route: '/channels', as: 'viewer', status: 200 },
    { method: 'GET', route: '/channels/{id}', path: () => `/channels/${channel}`, as: 'viewer', status: 200 },
    // logs
    { method: 'GET', route: '/verifications', path: () => '/verifications?limit=2', as: 'viewer', status: 200 },
    { method: 'GET', route: '/verifications', path: () => '/verifications?from=yesterday', as: 'viewer', status: 400 },
    { method: 'GET', route: '/audit-log', as: 'owner', status: 200 },
    { method: 'GET', route: '/audit-log', as: 'admin', status: 200 },
    { method: 'GET', route: '/audit-log', as: 'viewer', status: 403 },
    // statistics
    { method: 'GET', route: '/stats/dashboard', as: 'viewer', status: 200 },
    { method: 'GET', route: '/stats/analytics/overview', as: 'viewer', status: 200 },
    { method: 'GET', route: '/stats/analytics/verification-trends', as: 'viewer', status: 200 },
    {
      method: 'GET',
      route: '/stats/analytics/user-growth',
      path: () => '/stats/analytics/user-growth?bucket=day',
      as: 'viewer',
      status: 200,
    },
    ...[
      'verification-distribution',
      'cache-breakdown',
      'groups-status',
      'api-calls',
      'hourly-activity',
      'latency-distribution',
      'top-groups',
      'cache-hit-trend',
      'latency-trend',
      'bot-health',
    ].map((chart): Call => ({
      method: 'GET',
      route: '/stats/charts/{chart}',
      path: () => `/stats/charts/${chart}?range=7d`,
      as: 'viewer',
      status: 200,
    })),
    { method: 'GET', route: '/stats/charts/{chart}', path: () => '/stats/charts/pie', as: 'viewer', status: 400 },
    // exports
    { method: 'POST', route: '/exports', as: 'admin', body: { kind: 'verifications' }, status: 202 },
    { method: 'GET', route: '/exports', as: 'viewer', status: 200 },
    { method: 'GET', route: '/exports/{id}', path: () => `/exports/${doneExport}`, as: 'viewer', status: 200 },
    {
      method: 'GET',
      route: '/exports/{id}/download',
      path: () => `/exports/${doneExport}/download`,
      as: 'admin',
      status: 200,
    },
    // bots last: deleting the bot hides its groups and channels
    { method: 'DELETE', route: '/bots/{id}', path: () => `/bots/${bot}`, as: 'admin', status: 204 },
    { method: 'GET', route: '/groups/{id}', path: () => `/groups/${group}`, as: 'viewer', status: 404 },
    { method: 'POST', route: '/auth/logout', as: 'second-session', status: 204 },
    { method: 'POST', route: '/auth/logout-all', as: 'session', status: 200 },
    { method: 'POST', route: '/auth/logout', as: 'session', status: 401 },
  ];
};

describe('OpenAPI document against real answers', () => {
  it('documents a success answer with a schema for every route (a body, or 204 with none)', () => {
    const missing: string[] = [];
    for (const route of api.app.locals.routes) {
      const op = doc.paths[route.path.replace(/:(\w+)/g, '{$1}')]?.[route.method];
      const success = Object.entries((op?.responses ?? {}) as Record<string, { content?: Record<string, any> }>).filter(
        ([status]) => status.startsWith('2'),
      );
      const described =
        success.length === 1 &&
        (success[0]![0] === '204'
          ? !success[0]![1].content
          : Object.values(success[0]![1].content ?? {})[0]?.schema?.type);
      if (!described) missing.push(`${route.method} ${route.path}`);
    }
    expect(missing).toEqual([]);
  });

  it('every answer of every route has a documented status and matches its documented schema', async () => {
    const [extra] = await api.ctx.db.enforcedChannel.findMany({ where: { id: { not: seed.channel.id } }, take: 1 });
    secondChannel =
      extra?.id ??
      (
        await api.ctx.db.enforcedChannel.create({
          data: { botInstanceId: seed.botId, channelId: -1009999999999n, title: 'Second', username: 'second' },
        })
      ).id;
    doneExport = await finishedExport();
    secondBotToken = (await api.sim.createBot({ username: `second${Date.now() % 1e6}bot` })).token;
    secondSession = await api.login(OWNER);
    const problems: string[] = [];
    const seen = new Set<string>();
    for (const call of calls()) {
      const auth: Creds | undefined =
        call.as === 'none'
          ? undefined
          : call.as === 'session'
            ? session
            : call.as === 'second-session'
              ? secondSession
              : { token: api.tokens[call.as] };
      const res = await api.call(call.method, `/api/v1${(call.path ?? (() => call.route))()}`, {
        auth,
        body: call.body,
      });
      const what = `${call.method} ${call.route} (${call.as}) → ${res.status}`;
      if (res.status !== call.status) {
        problems.push(`${what}: expected ${call.status}: ${res.text.slice(0, 200)}`);
        continue;
      }
      seen.add(`${call.method.toLowerCase()} ${call.route} ${res.status}`);
      if (call.route === '/users' && res.status === 201) createdUser = res.body.id;
      if (call.route === '/tokens' && res.status === 201) createdToken = res.body.id;
      // The statistics were rolled up beforehand: their schemas are checked on data, not only on nulls.
      if (call.route.startsWith('/stats/') && res.status === 200)
        expect(res.body.data ?? res.body.points ?? res.body.totals, what).toBeTruthy();
      const problem = checker.problem(call.method, call.route, res);
      if (problem) problems.push(`${what}: ${problem}`);
    }
    expect(problems).toEqual([]);
    // Every route's success answer was checked, so a route added without a call here fails too.
    const unchecked = api.app.locals.routes
      .map((r) => {
        const route = r.path.replace(/:(\w+)/g, '{$1}');
        const status = Object.keys(doc.paths[route][r.method].responses).find((s) => s.startsWith('2'));
        return `${r.method} ${route} ${status}`;
      })
      .filter((key) => !seen.has(key));
    // Needs a platform with no owner: test/api/owner-setup.test.ts checks it against the document.
    expect(unchecked).toEqual(['post /setup 201']);
  });

  it('the document itself catches a body that does not match (the check can fail)', () => {
    const check = checker.documented('GET', '/bots/{id}', 200)!.schema!;
    expect(check({ id: 1 })).toBe(false);
    const okBot = {
      id: 1,
      telegramBotId: '1',
      username: 'b',
      name: 'b',
      isActive: true,
      status: 'running',
      statusReason: null,
      restartCount: 0,
      startedAt: null,
      lastHeartbeatAt: null,
      lastError: null,
      lastErrorAt: null,
      createdById: null,
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T00:00:00.000Z',
      counts: { groups: 0, protectedGroups: 0, channels: 0 },
    };
    expect(check(okBot)).toBe(true);
    // An undeclared field (a token, say) is refused: objects in the document are closed.
    expect(check({ ...okBot, tokenEncrypted: 'x' })).toBe(false);
  });
});
