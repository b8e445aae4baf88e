import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from '../support/process';
import { freePort } from '../support/redis-server';
import { chaosDeployment, type ChaosDeployment } from '../chaos/helpers';

export const OWNER = { email: 'sec-owner@example.com', password: 'owner-password-sec-123' };

/**
 * Every role in one real process (`services/main.ts`), logging to files in a directory of the test's own,
 * exporting into another; the owner comes from ADMIN_EMAIL/ADMIN_PASSWORD.
 */
export async function securityDeployment(options: {
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
  env?: Record<string, string>;
}) {
  const d: ChaosDeployment = await chaosDeployment(options);
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'nezuko-sec-logs-'));
  const exportDir = mkdtempSync(path.join(os.tmpdir(), 'nezuko-sec-exports-'));
  const apiPort = await freePort();
  const base = `http://127.0.0.1:${apiPort}`;
  const process = d.spawn('poller,verifier,maintenance,api', {
    API_PORT: String(apiPort),
    LOG_TO_FILE: 'true',
    LOG_DIR: logDir,
    LOG_LEVEL: 'debug',
    EXPORT_DIR: exportDir,
    ADMIN_EMAIL: OWNER.email,
    ADMIN_PASSWORD: OWNER.password,
    ...options.env,
  });
  await waitFor(
    async () => (await fetch(`${base}/ready`).catch(() => undefined))?.status === 200,
    40_000,
    'the API to be ready',
  );

  const call = async (
    method: string,
    p: string,
    o: {
      token?: string;
      cookie?: string;
      csrf?: string;
      body?: unknown;
      raw?: string;
      headers?: Record<string, string>;
    } = {},
  ) => {
    const headers: Record<string, string> = { ...o.headers };
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    if (o.cookie) headers.cookie = o.cookie;
    if (o.csrf) headers['x-csrf-token'] = o.csrf;
    let body = o.raw;
    if (o.body !== undefined) body = JSON.stringify(o.body);
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    const res = await fetch(`${base}${p}`, { method, headers, body, redirect: 'manual' });
    const buf = Buffer.from(await res.arrayBuffer());
    const text = buf.toString('utf8');
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, text, buf, body: json, headers: res.headers };
  };
  const login = async (user: { email: string; password: string }) => {
    const res = await call('POST', '/api/v1/auth/login', { body: user });
    return {
      status: res.status,
      cookie: res.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .join('; '),
      csrf: res.body?.csrfToken as string,
      res,
    };
  };
  return { d, process, base, logDir, exportDir, call, login };
}

/** No stack frames, file paths or module names in a response. */
export const noStack = (text: string) =>
  !/\bat .+\(.+:\d+:\d+\)|node_modules|\.ts:\d+|\/work\/|PrismaClient|prisma\.|    at /.test(text);
