import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startRedisServer } from '../support/redis-server';

/**
 * scripts/setup.sh as a new user meets it, on a scratch copy of the project (its own .env and storage/) and
 * on scratch ports: "the local default" is pointed at ports of this test's own (SETUP_DEFAULT_*_URL), so the
 * shared PostgreSQL and Redis on 5432 and 6379 are never touched.
 */
const ROOT = process.cwd();
const cleanups: Array<() => void | Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** A directory that behaves as a clone of the project for set-up: links to the sources, its own .env and storage/. */
function projectCopy(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nezuko-setup-'));
  // As root, set-up's cluster belongs to the user postgres, who must be able to reach it.
  chmodSync(dir, 0o755);
  for (const entry of [
    'node_modules',
    'package.json',
    'package-lock.json',
    'prisma',
    'prisma.config.ts',
    'services',
    'scripts',
  ]) {
    symlinkSync(path.join(ROOT, entry), path.join(dir, entry));
  }
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface SetupRun {
  code: number | null;
  output: string;
  lines: string[];
  ms: number;
}

/** Runs `bash scripts/setup.sh` in `dir` with DATABASE_URL / REDIS_URL only as given (never this worker's). */
function runSetup(dir: string, env: Record<string, string | undefined>): Promise<SetupRun> {
  const base: NodeJS.ProcessEnv = { ...process.env };
  delete base.DATABASE_URL;
  delete base.REDIS_URL;
  const started = Date.now();
  const child = spawn('bash', ['scripts/setup.sh'], {
    cwd: dir,
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  return new Promise((resolve) =>
    child.once('exit', (code) =>
      resolve({ code, output, lines: output.trim().split('\n').filter(Boolean), ms: Date.now() - started }),
    ),
  );
}

const noStackTrace = (output: string) => expect(output).not.toMatch(/^\s+at .+:\d+/m);

/** PostgreSQL's binaries (PATH or Debian's versioned directory) and how to run them as a non-root owner. */
function postgresBin(): string {
  const onPath = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  if (onPath.status === 0) return path.dirname(onPath.stdout.trim());
  const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
  return `/usr/lib/postgresql/${versions[0]}/bin`;
}
const asOwner = (args: string[]) => {
  const [command, ...rest] = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--', ...args] : args;
  const result = spawnSync(command!, rest, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed: ${result.stdout}${result.stderr}`);
};

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

describe('set-up: bad settings get one line, fast', () => {
  const dir = projectCopy();

  it.each([
    ['DATABASE_URL', 'not-a-url', /^\[setup\] error: DATABASE_URL is not a URL; expected postgresql:\/\//],
    [
      'DATABASE_URL',
      'mysql://root:pw@127.0.0.1:3306/nezuko',
      /^\[setup\] error: DATABASE_URL must start with postgresql:\/\/ or postgres:\/\/ \(not mysql:\/\/\)/,
    ],
    ['REDIS_URL', 'redis//127.0.0.1:6379', /^\[setup\] error: REDIS_URL is not a URL; expected redis:\/\//],
    ['REDIS_URL', 'redis://:6379', /^\[setup\] error: REDIS_URL (is not a URL|names no host)/],
  ])('a malformed %s (%s) is named within 5 s', async (variable, value, message) => {
    const run = await runSetup(dir, { [variable]: value });
    expect(run.code).toBe(1);
    expect(run.lines).toHaveLength(1);
    expect(run.lines[0]).toMatch(message);
    expect(run.ms).toBeLessThan(5_000);
    noStackTrace(run.output);
    // The password of a malformed URL is not echoed either.
    expect(run.output).not.toContain('pw@');
  });

  it('a server nobody listens on gets one line with its host and port within 10 s, and nothing is started', async () => {
    const port = await freePort();
    const redis = await startRedisServer();
    cleanups.push(() => redis.stop());
    const run = await runSetup(dir, {
      DATABASE_URL: `postgresql://app:secret@127.0.0.1:${port}/app`,
      REDIS_URL: redis.url,
    });
    expect(run.code).toBe(1);
    expect(run.lines).toEqual([
      `[setup] error: PostgreSQL: nothing answers at 127.0.0.1:${port} (connection refused); start it, or fix DATABASE_URL`,
    ]);
    expect(run.ms).toBeLessThan(10_000);
    expect(existsSync(path.join(dir, 'storage/postgres'))).toBe(false);
    expect(run.output).not.toContain('secret');
  });

  it('servers that accept a connection but never answer get one line each within 10 s', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const run = await runSetup(dir, {
        DATABASE_URL: `postgresql://app:pw@127.0.0.1:${port}/app`,
        REDIS_URL: `redis://127.0.0.1:${port}`,
      });
      expect(run.code).toBe(1);
      expect(run.lines.sort()).toEqual([
        `[setup] error: PostgreSQL: no answer from 127.0.0.1:${port} within 3 s; check DATABASE_URL and that the host is reachable`,
        `[setup] error: Redis: no answer from 127.0.0.1:${port} within 3 s; check REDIS_URL and that the host is reachable`,
      ]);
      expect(run.ms).toBeLessThan(10_000);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  it('nothing at the local default but a DATABASE_URL the user set: no server is created for it', async () => {
    const port = await freePort();
    const redisPort = await freePort();
    const run = await runSetup(dir, {
      SETUP_DEFAULT_DATABASE_URL: `postgresql://postgres:postgres@127.0.0.1:${port}/nezuko`,
      SETUP_DEFAULT_REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      DATABASE_URL: `postgresql://me:mine@127.0.0.1:${port}/mine`,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    });
    expect(run.code).toBe(1);
    expect(run.lines).toHaveLength(2);
    expect(run.lines[0]).toContain(
      `nothing answers at 127.0.0.1:${port} and DATABASE_URL is set, so set-up does not create a server`,
    );
    expect(run.lines[1]).toContain(`nothing answers at 127.0.0.1:${redisPort} and REDIS_URL is set`);
    expect(existsSync(path.join(dir, 'storage/postgres'))).toBe(false);
    expect(existsSync(path.join(dir, '.env'))).toBe(false);
  });
});

describe('set-up never changes a server it did not create', () => {
  it('a PostgreSQL that refuses the default login is left as it is, with one line saying what to set', async () => {
    // A throw-away cluster of this test's own, whose postgres role has a password of its own.
    const bin = postgresBin();
    const data = mkdtempSync(path.join(os.tmpdir(), 'nezuko-foreign-pg-'));
    chmodSync(data, 0o777);
    const pwfile = path.join(data, 'pw');
    writeFileSync(pwfile, 'their-own-password\n', { mode: 0o644 });
    const cluster = path.join(data, 'cluster');
    asOwner([
      `${bin}/initdb`,
      '-D',
      cluster,
      '-U',
      'postgres',
      `--pwfile=${pwfile}`,
      '--auth=scram-sha-256',
      '-E',
      'UTF8',
      '--locale=C',
    ]);
    const port = await freePort();
    writeFileSync(
      path.join(cluster, 'postgresql.auto.conf'),
      `port = ${port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n`,
    );
    asOwner([`${bin}/pg_ctl`, '-D', cluster, '-l', path.join(data, 'log'), '-w', 'start']);
    cleanups.push(() => {
      asOwner([`${bin}/pg_ctl`, '-D', cluster, '-m', 'immediate', 'stop']);
      rmSync(data, { recursive: true, force: true });
    });
    const theirs = `postgresql://postgres:their-own-password@127.0.0.1:${port}/postgres`;
    const rolesBefore = await query(theirs, 'SELECT rolname, rolpassword FROM pg_authid ORDER BY rolname');
    const redis = await startRedisServer();
    cleanups.push(() => redis.stop());

    const dir = projectCopy();
    const run = await runSetup(dir, {
      SETUP_DEFAULT_DATABASE_URL: `postgresql://postgres:postgres@127.0.0.1:${port}/nezuko`,
      SETUP_DEFAULT_REDIS_URL: redis.url,
    });
    expect(run.code).toBe(1);
    expect(run.lines).toEqual([
      `[setup] error: PostgreSQL at 127.0.0.1:${port} refused the login of "postgres": password authentication failed for user "postgres". ` +
        'Set DATABASE_URL (for example in .env) to a role that may log in; set-up does not change roles or passwords',
    ]);
    noStackTrace(run.output);
    expect(await query(theirs, 'SELECT rolname, rolpassword FROM pg_authid ORDER BY rolname')).toEqual(rolesBefore);
    expect(existsSync(path.join(dir, '.env'))).toBe(false);
    expect(existsSync(path.join(dir, 'storage/postgres'))).toBe(false);
  }, 120_000);
});

describe('set-up on a machine where nothing answers at the local default', () => {
  it('creates its own PostgreSQL cluster with a role and password of its own (written to .env) and starts Redis; after a stop, starts them again and creates nothing twice', async () => {
    const dir = projectCopy();
    const pgPort = await freePort();
    const redisPort = await freePort();
    const env = {
      SETUP_DEFAULT_DATABASE_URL: `postgresql://postgres:postgres@127.0.0.1:${pgPort}/nezuko`,
      SETUP_DEFAULT_REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    };
    const bin = postgresBin();
    const stopAll = () => {
      const state = existsSync(path.join(dir, 'storage/setup-state.json'))
        ? JSON.parse(readFileSync(path.join(dir, 'storage/setup-state.json'), 'utf8'))
        : {};
      if (state.postgres?.dir && existsSync(path.join(state.postgres.dir, 'postmaster.pid')))
        asOwner([`${bin}/pg_ctl`, '-D', state.postgres.dir, '-m', 'fast', '-w', 'stop']);
      const pidFile = path.join(dir, 'storage/redis/redis.pid');
      if (existsSync(pidFile)) {
        const pid = Number(readFileSync(pidFile, 'utf8'));
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
      return state;
    };
    cleanups.push(() => {
      const state = stopAll();
      if (state.postgres?.dir) rmSync(state.postgres.dir, { recursive: true, force: true });
    });

    const first = await runSetup(dir, env);
    expect(first.code, first.output).toBe(0);
    expect(first.output).toContain('creating a PostgreSQL cluster of its own');
    expect(first.lines.at(-1)).toBe('[setup] ready');

    const dotenv = readFileSync(path.join(dir, '.env'), 'utf8');
    const url = /^DATABASE_URL=(.+)$/m.exec(dotenv)?.[1];
    expect(url).toMatch(new RegExp(`^postgresql://nezuko:[A-Za-z0-9_-]{32}@127\\.0\\.0\\.1:${pgPort}/nezuko$`));
    expect(statSync(path.join(dir, '.env')).mode & 0o077).toBe(0);
    // Its own role logs in and owns a migrated database; the default credentials do not work there.
    expect(await query(url!, 'SELECT current_user AS who')).toEqual([{ who: 'nezuko' }]);
    const migrations = readdirSync('prisma/migrations').filter((d) => /^\d+_/.test(d)).length;
    expect(
      await query(url!, 'SELECT count(*)::int AS n FROM _prisma_migrations WHERE finished_at IS NOT NULL'),
    ).toEqual([{ n: migrations }]);
    await expect(query(env.SETUP_DEFAULT_DATABASE_URL, 'SELECT 1')).rejects.toThrow(/password authentication failed/);
    const redis = new Redis(env.SETUP_DEFAULT_REDIS_URL, { lazyConnect: true });
    await redis.connect();
    expect(await redis.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
    await redis.quit();

    // After both stopped (a reboot): the servers set-up created are started again, nothing is created twice
    // and the password is kept.
    stopAll();
    const again = await runSetup(dir, env);
    expect(again.code, again.output).toBe(0);
    expect(again.lines).toEqual([
      expect.stringContaining("[setup] starting PostgreSQL (set-up's cluster in"),
      `[setup] starting redis-server on 127.0.0.1:${redisPort} (data in storage/redis)`,
      '[setup] ready',
    ]);
    expect(readFileSync(path.join(dir, '.env'), 'utf8')).toBe(dotenv);

    // A wrong password for its own role: one line, and the role's password stays what .env says.
    const before = await query(url!, "SELECT rolpassword FROM pg_authid WHERE rolname = 'nezuko'");
    const wrong = await runSetup(dir, { ...env, DATABASE_URL: url!.replace(/nezuko:[^@]+@/, 'nezuko:wrong@') });
    expect(wrong.code).toBe(1);
    expect(wrong.lines).toHaveLength(1);
    expect(wrong.lines[0]).toContain(`PostgreSQL at 127.0.0.1:${pgPort} refused the login of "nezuko"`);
    expect(await query(url!, "SELECT rolpassword FROM pg_authid WHERE rolname = 'nezuko'")).toEqual(before);
  }, 240_000);
});
