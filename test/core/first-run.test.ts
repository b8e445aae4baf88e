import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encryptSecret } from '../../services/core/crypto';
import { useTestDatabase } from '../support/db';
import { spawnTs, waitFor } from '../support/process';
import { freePort } from '../support/redis-server';
import { useTestRedis } from '../support/redis';

/**
 * What a person sees on the console when `npm start` runs: readable lines at a terminal, JSON elsewhere,
 * and a start-up summary of where things are and what to do next.
 */
const database = useTestDatabase();
const redis = useTestRedis();
const ANSI = /\x1b\[[0-9;]*m/g;

const env = (port: number, extra: Record<string, string> = {}) => ({
  ROLES: 'api',
  API_PORT: String(port),
  DATABASE_URL: database.url,
  REDIS_URL: redis.url,
  REDIS_PREFIX: redis.prefix,
  TELEGRAM_API_ROOT: 'http://127.0.0.1:1/telegram',
  LOG_TO_FILE: 'false',
  LOG_LEVEL: 'info',
  ...extra,
});

/** services/main.ts at a terminal: `script` gives it a pseudo-terminal as stdout. Stopped once `until` shows up. */
async function atTerminal(port: number, extra: Record<string, string>, until: RegExp): Promise<string[]> {
  const base: NodeJS.ProcessEnv = { ...process.env };
  delete base.LOG_FORMAT;
  const child = spawn('script', ['-qec', `${process.execPath} --import tsx services/main.ts`, '/dev/null'], {
    env: { ...base, ...env(port, extra) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    await waitFor(() => until.test(output.replace(ANSI, '')), 30_000, `${until} at the terminal`);
  } finally {
    // The node process under `script` is ours: its pid is in the start line (pid=…, or "pid":… in JSON).
    const pid = Number(/pid"?[=:](\d+)/.exec(output.replace(ANSI, ''))?.[1]);
    if (pid) process.kill(pid, 'SIGTERM');
    else child.kill('SIGKILL');
    await exited;
  }
  return output.replace(ANSI, '').split(/\r?\n/).filter(Boolean);
}

describe('first run: the console', () => {
  it('at a terminal: readable lines, then one line per summary item with what to do next (no owner, no bot)', async () => {
    const port = await freePort();
    const lines = await atTerminal(port, {}, /Next: no bot yet/);
    expect(lines.some((l) => / info +shutdown complete /.test(l))).toBe(true);
    expect(lines.filter((l) => l.startsWith('{'))).toEqual([]);
    for (const line of lines.filter((l) => !/^\s/.test(l)))
      expect(line).toMatch(/^\d\d:\d\d:\d\d (info|warn|error|debug) {0,2}\S/);
    const messages = lines.map((l) => l.replace(/^\d\d:\d\d:\d\d \w+ +/, ''));
    expect(messages).toEqual(
      expect.arrayContaining([
        `Dashboard: http://127.0.0.1:${port}/`,
        'Telegram API: http://127.0.0.1:1/telegram',
        'Bots: 0 active',
        'Next: no owner yet: open the dashboard and enter the one-time set-up code printed above (or run npm run admin:create -- you@example.com)',
        'Next: no bot yet: set BOT_TOKEN (from @BotFather) with TOKEN_ENCRYPTION_KEY=$(openssl rand -hex 32), or run npm run bots -- add <token>',
      ]),
    );
    // The code itself, on a line of its own (test/api/owner-setup.test.ts checks it reaches no log file).
    expect(
      lines.filter((l) => /^ {2}Owner set-up code: [0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4} — open /.test(l)),
    ).toHaveLength(1);
    expect(messages.findIndex((m) => m.startsWith('Dashboard:'))).toBeGreaterThan(
      messages.findIndex((m) => m.startsWith('nezuko started')),
    );
  }, 60_000);

  it('at a terminal with LOG_FORMAT=json: JSON lines', async () => {
    const port = await freePort();
    const lines = await atTerminal(port, { LOG_FORMAT: 'json' }, /Bots: /);
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
  }, 60_000);

  it('the set-up code reaches the console only: one JSON line there, nothing in the log files; it creates the owner', async () => {
    const logDir = mkdtempSync(path.join(tmpdir(), 'nezuko-first-run-logs-'));
    const port = await freePort();
    const run = spawnTs('services/main.ts', { ...env(port), LOG_TO_FILE: 'true', LOG_DIR: logDir, LOG_FORMAT: 'json' });
    let code: string | undefined;
    try {
      await waitFor(() => run.output().includes('Next: no owner yet'), 30_000, 'the summary');
      const lines = run
        .output()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { message: string; setupCode?: string; url?: string; expiresAt?: string });
      const printed = lines.filter((l) => l.setupCode);
      expect(printed).toHaveLength(1);
      expect(printed[0]).toMatchObject({ message: 'owner set-up code', url: `http://127.0.0.1:${port}/` });
      code = printed[0]!.setupCode!;
      expect(run.output().split(code).length - 1).toBe(1);
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/setup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ code, email: 'console-owner@example.com', password: 'console owner passphrase 9' }),
      });
      expect(res.status).toBe(201);
    } finally {
      run.child.kill('SIGTERM');
      await run.exited;
    }
    const files = readdirSync(logDir);
    expect(files.length).toBeGreaterThan(0);
    const logged = files.map((f) => readFileSync(path.join(logDir, f), 'utf8')).join('\n');
    expect(logged).toContain('Next: no owner yet');
    expect(code).toBeDefined();
    expect(logged).not.toContain(code!);
    expect(logged).not.toContain(code!.replace(/-/g, ''));
    await database.prisma.adminUser.deleteMany({ where: { email: 'console-owner@example.com' } });
  }, 60_000);

  it('not at a terminal: JSON lines; with an owner and a bot the summary counts the bot and asks for nothing', async () => {
    const key = randomBytes(32).toString('hex');
    await database.prisma.adminUser.create({
      data: { email: 'owner@example.com', passwordHash: '$argon2id$v=19$m=65536,t=3,p=4$x$y', role: 'owner' },
    });
    await database.prisma.botInstance.create({
      data: {
        telegramBotId: 4242n,
        username: 'first_bot',
        name: 'First',
        tokenEncrypted: encryptSecret('4242:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', Buffer.from(key, 'hex')),
      },
    });
    const port = await freePort();
    const run = spawnTs('services/main.ts', { ...env(port), TOKEN_ENCRYPTION_KEY: key, LOG_FORMAT: '' });
    try {
      await waitFor(() => run.output().includes('Bots: '), 30_000, 'the summary');
      const lines = run
        .output()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { message: string });
      const messages = lines.map((l) => l.message);
      expect(messages).toEqual(expect.arrayContaining([`Dashboard: http://127.0.0.1:${port}/`, 'Bots: 1 active']));
      expect(messages.filter((m) => m.startsWith('Next:'))).toEqual([]);
    } finally {
      run.child.kill('SIGTERM');
      await run.exited;
    }
  }, 60_000);
});
