import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { hashPassword } from '../../services/api/auth';
import type { ApiApp } from '../../services/api/app';
import { startApiServer } from '../../services/api';
import { loadConfig } from '../../services/core/config';
import { createContext, type AppContext } from '../../services/core/context';
import { hashToken } from '../../services/core/crypto';
import { logger } from '../../services/core/logger';
import { SimClient, startSimulator, type RunningSimulator } from '../../sim';
import { useTestDatabase } from '../support/db';
import { useTestRedis } from '../support/redis';

export const OWNER = { email: 'owner@example.com', password: 'owner-password-123' };
export const ADMIN = { email: 'admin@example.com', password: 'admin-password-123' };
export const VIEWER = { email: 'viewer@example.com', password: 'viewer-password-123' };

export interface Creds {
  cookie?: string;
  csrf?: string;
  token?: string;
}

export interface CallOptions {
  auth?: Creds;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}

export interface CallResult {
  status: number;
  body: any;
  text: string;
  headers: Headers;
}

/**
 * The API on port 0 over a fresh database and Redis prefix, with the simulator as Telegram.
 * An owner comes from ADMIN_EMAIL/ADMIN_PASSWORD (first start); an admin and a viewer are added, and an
 * API token of each role. With `owner: false` there is nobody: the API issues a one-time set-up code instead.
 */
export function useApi(env: Record<string, string> = {}, options: { owner?: boolean } = {}) {
  const withOwner = options.owner !== false;
  let setup: Awaited<ReturnType<typeof startApiServer>>['setup'] = null;
  const db = useTestDatabase();
  const redis = useTestRedis();
  let sim: RunningSimulator | undefined;
  let ctx: AppContext | undefined;
  let app: ApiApp | undefined;
  let base = '';
  const tokens: Record<'owner' | 'admin' | 'viewer', string> = { owner: '', admin: '', viewer: '' };

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 });
    const config = loadConfig({
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      REDIS_PREFIX: redis.prefix,
      TELEGRAM_API_ROOT: sim.apiRoot,
      TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      LOG_TO_FILE: 'false',
      API_PORT: '0',
      ...(withOwner ? { ADMIN_EMAIL: OWNER.email, ADMIN_PASSWORD: OWNER.password } : {}),
      ...env,
    });
    ctx = await createContext(config, logger);
    const started = await startApiServer(ctx);
    app = started.app;
    base = `http://127.0.0.1:${started.port}`;
    setup = started.setup;
    if (!withOwner) return;
    for (const [user, role] of [
      [ADMIN, 'admin'],
      [VIEWER, 'viewer'],
    ] as const) {
      await ctx.db.adminUser.create({
        data: { email: user.email, passwordHash: await hashPassword(user.password), role },
      });
    }
    const owner = await ctx.db.adminUser.findFirstOrThrow({ where: { email: OWNER.email } });
    for (const role of ['owner', 'admin', 'viewer'] as const) {
      tokens[role] = `nzk_test_${role}_${randomBytes(16).toString('hex')}`;
      await ctx.db.apiToken.create({
        data: {
          name: `test ${role}`,
          role,
          tokenHash: hashToken(tokens[role]),
          tokenPrefix: tokens[role].slice(0, 10),
          createdById: owner.id,
        },
      });
    }
  });

  afterAll(async () => {
    await ctx?.lifecycle.shutdown('done', 10_000);
    await sim?.stop();
  });

  const call = async (method: string, path: string, options: CallOptions = {}): Promise<CallResult> => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.auth?.token) headers.authorization = `Bearer ${options.auth.token}`;
    if (options.auth?.cookie) headers.cookie = options.auth.cookie;
    if (options.auth?.csrf && !('x-csrf-token' in headers)) headers['x-csrf-token'] = options.auth.csrf;
    let body: string | undefined = options.rawBody;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    } else if (body !== undefined) headers['content-type'] ??= 'application/json';
    const res = await fetch(`${base}${path}`, { method, headers, body, redirect: 'manual' });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, body: parsed, text, headers: res.headers };
  };

  /** Logs in and returns the cookies and CSRF token of the new session. */
  const login = async (
    user: { email: string; password: string },
    headers: Record<string, string> = {},
  ): Promise<Creds & { res: CallResult }> => {
    const res = await call('POST', '/api/v1/auth/login', { body: user, headers });
    const cookies = res.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    return { cookie: cookies, csrf: res.body?.csrfToken, res };
  };

  return {
    db,
    redis,
    call,
    login,
    tokens,
    get base() {
      return base;
    },
    /** The one-time owner set-up code the API issued at start (only with `owner: false`). */
    get setup() {
      return setup;
    },
    get ctx(): AppContext {
      if (!ctx) throw new Error('not started');
      return ctx;
    },
    get app(): ApiApp {
      if (!app) throw new Error('not started');
      return app;
    },
    get sim(): SimClient {
      if (!sim) throw new Error('not started');
      return new SimClient(sim.url);
    },
  };
}

export type Api = ReturnType<typeof useApi>;

/** A bot in the simulator registered through the API, with a group and a channel in the database. */
export async function seedBot(api: Api) {
  const simBot = await api.sim.createBot({ username: `bot${randomBytes(3).toString('hex')}` });
  const created = await api.call('POST', '/api/v1/bots', {
    auth: { token: api.tokens.admin },
    body: { token: simBot.token },
  });
  if (created.status !== 201) throw new Error(`bot create failed: ${created.status} ${created.text}`);
  const botId = created.body.id as number;
  const n = BigInt(Math.floor(Math.random() * 1e9));
  const group = await api.ctx.db.protectedGroup.create({
    data: { botInstanceId: botId, chatId: -1000000000000n - n, title: `Crypto Traders ${n}`, enabled: true },
  });
  const channel = await api.ctx.db.enforcedChannel.create({
    data: { botInstanceId: botId, channelId: -1000000000000n - n - 1n, title: `News ${n}`, username: `news${n}` },
  });
  return { simBot, botId, group, channel };
}
