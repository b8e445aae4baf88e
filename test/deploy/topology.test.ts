import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { builtinModules } from 'node:module';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SimClient, startSimulator, type RunningSimulator } from '../../sim';
import { composeConfig, dockerfileRuntime, type ComposeConfig, type ComposeService } from '../support/compose';
import { baseDatabaseUrl, databaseUrl, quoteIdent, withAdmin } from '../support/pg-admin';
import { waitFor, type Spawned } from '../support/process';
import { freePort } from '../support/redis-server';
import { testRedisUrl, useTestRedis } from '../support/redis';

/**
 * The shipped topology without Docker: docker-compose.yml as Compose resolves it, each app service started the
 * way its container would run it (its command or the image's CMD on the compiled build, its environment and
 * nothing else), with what only containers have mapped onto this machine: service host names → the test's
 * PostgreSQL and Redis (its own database and key prefix) and the simulator; /app → a directory laid out like
 * the image; each container's port → a free port here. The migrate step runs first, then one poller, the
 * verifier's replicas, maintenance and the api; a join is decided end to end and every /metrics is scraped.
 */
const ROOT = process.cwd();
const redis = useTestRedis();
const database = `nezuko_t_${inject('testRunId')}_topo${randomBytes(3).toString('hex')}`;
const APP_SERVICES_IMAGE = 'nezuko:latest';

interface Running {
  service: string;
  replica: number;
  port: number;
  process: Spawned;
}

let sim: RunningSimulator;
let appDir: string;
let compose: ComposeConfig;
const running: Running[] = [];

/** A directory laid out like the image's /app: the compiled build, dependencies, schema; storage of its own. */
function imageLikeAppDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nezuko-app-'));
  for (const entry of ['dist', 'node_modules', 'prisma', 'prisma.config.ts', 'package.json'])
    symlinkSync(path.join(ROOT, entry), path.join(dir, entry));
  mkdirSync(path.join(dir, 'storage/logs'), { recursive: true });
  mkdirSync(path.join(dir, 'storage/exports'), { recursive: true });
  return dir;
}

/** A value of a service's environment as this machine must see it (host names, /app, listen address). */
function mapValue(value: string, workdir: string): string {
  if (value.startsWith(`${workdir}/`)) return path.join(appDir, value.slice(workdir.length + 1));
  if (value === '0.0.0.0') return '127.0.0.1';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return value;
  }
  if (!compose.services[url.hostname]) return value;
  if (url.protocol.startsWith('postgres')) {
    // The test's own server and credentials, the database the compose file names.
    const mapped = new URL(baseDatabaseUrl);
    mapped.pathname = url.pathname;
    return mapped.toString();
  }
  if (url.protocol.startsWith('redis')) return testRedisUrl;
  throw new Error(`no mapping for ${value}`);
}

const listensOn = (env: Record<string, string>) =>
  env.ROLES?.split(',').includes('api') ? 'API_PORT' : 'METRICS_PORT';

/** A service's process, as its container would start it, on this machine. */
async function startService(name: string, service: ComposeService, replica: number): Promise<Running> {
  const image = dockerfileRuntime();
  const command = typeof service.command === 'string' ? service.command.split(' ') : (service.command ?? image.cmd);
  const env: Record<string, string> = { ...image.env };
  for (const [key, value] of Object.entries(service.environment ?? {}))
    if (value !== null) env[key] = mapValue(value, image.workdir);
  const port = await freePort();
  env[listensOn(env)] = String(port);
  const [program, ...args] = command;
  const executable = program === 'node' ? process.execPath : path.join(appDir, program!);
  const child = spawn(executable, args, {
    cwd: appDir,
    // PATH is the machine's; the offline Prisma engine stand-in replaces the engine binary the image downloads.
    env: {
      PATH: process.env.PATH,
      ...(process.env.PRISMA_SCHEMA_ENGINE_BINARY
        ? { PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY }
        : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const run: Running = { service: name, replica, port, process: { child, output: () => output, exited } };
  running.push(run);
  return run;
}

const appServices = () => Object.entries(compose.services).filter(([, s]) => s.image === APP_SERVICES_IMAGE);
const outputs = () =>
  running.map((r) => `--- ${r.service}#${r.replica} ---\n${r.process.output().slice(-3000)}`).join('\n');

beforeAll(async () => {
  execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'ignore' });
  appDir = imageLikeAppDir();
  sim = await startSimulator({ port: 0 });
  // The postgres service's POSTGRES_DB: an empty database the migrate step fills.
  await withAdmin((client) => client.query(`CREATE DATABASE ${quoteIdent(database)}`));
}, 60_000);

afterAll(async () => {
  for (const r of running)
    if (r.process.child.exitCode === null && r.process.child.signalCode === null) r.process.child.kill('SIGKILL');
  await Promise.all(running.map((r) => r.process.exited));
  await sim?.stop();
  await withAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`));
  if (appDir) rmSync(appDir, { recursive: true, force: true });
});

describe('docker-compose.yml, run without Docker', () => {
  it('migrate, one poller, two verifiers, maintenance and the api: a join decided end to end, every /metrics scraped', async () => {
    const client = new SimClient(sim.url);
    const bot = await client.createBot({
      username: `topo${randomBytes(3).toString('hex')}bot`,
      allowedUpdates: ['message', 'callback_query', 'chat_member', 'my_chat_member', 'chat_join_request'],
    });
    compose = composeConfig({
      POSTGRES_DB: database,
      TELEGRAM_API_ROOT: sim.apiRoot,
      TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      BOT_TOKEN: bot.token,
      REDIS_PREFIX: redis.prefix,
      LOG_LEVEL: 'warn',
    });
    const image = dockerfileRuntime();
    expect(image.cmd).toEqual(['node', 'dist/services/main.js']);
    expect(image.env.NODE_ENV).toBe('production');

    // The one-shot migrate service first (the app services wait for it to complete successfully).
    const [migrateName, migrate] = appServices().find(([, s]) => s.command)!;
    expect(migrateName).toBe('migrate');
    const migration = await startService(migrateName, migrate, 0);
    expect(await migration.process.exited, migration.process.output()).toBe(0);

    const apps = appServices().filter(([name]) => name !== migrateName);
    for (const [, service] of apps)
      expect(service.depends_on?.[migrateName]).toEqual({ condition: 'service_completed_successfully' });
    expect(apps.map(([name, s]) => `${name}×${s.deploy?.replicas ?? 1}`).sort()).toEqual([
      'api×1',
      'maintenance×1',
      'poller×1',
      'verifier×2',
    ]);
    for (const [name, service] of apps)
      for (let replica = 0; replica < (service.deploy?.replicas ?? 1); replica++)
        await startService(name, service, replica);
    await Promise.all(
      running
        .filter((r) => r.service !== migrateName)
        .map((r) =>
          waitFor(
            async () => (await fetch(`http://127.0.0.1:${r.port}/ready`)).ok,
            60_000,
            `${r.service}#${r.replica} /ready`,
          ),
        ),
    ).catch((err) => {
      throw new Error(`${err.message}\n${outputs()}`);
    });

    // The poller registered BOT_TOKEN; an owner protects a group the way owners do; a stranger joins.
    const sql = new pg.Client({ connectionString: databaseUrl(database) });
    await sql.connect();
    try {
      const owner = await client.createUser({ firstName: 'Owner' });
      const group = await client.createChat({ type: 'supergroup', title: 'Topology', ownerId: owner.id });
      const channel = await client.createChat({
        type: 'channel',
        title: 'News',
        username: `tp${randomBytes(4).toString('hex')}`,
        ownerId: owner.id,
      });
      await client.makeAdmin(channel.id, bot.id, { can_invite_users: true, can_post_messages: true });
      await client.makeAdmin(group.id, bot.id, {
        can_restrict_members: true,
        can_delete_messages: true,
        can_invite_users: true,
      });
      await client.sendMessage(group.id, { fromId: owner.id, text: `/protect @${channel.chat.username}` });
      await waitFor(
        async () =>
          (await sql.query('SELECT 1 FROM protected_groups WHERE chat_id = $1 AND enabled', [group.id])).rowCount === 1,
        30_000,
        'the group to be protected',
      );
      const stranger = await client.createUser({ firstName: 'Stranger' });
      await client.join(group.id, stranger.id);
      const decided = await waitFor(
        async () =>
          (
            await sql.query<{ status: string }>(
              'SELECT status FROM verification_log WHERE chat_id = $1 AND user_id = $2',
              [group.id, stranger.id],
            )
          ).rows[0]?.status,
        30_000,
        'the join to be decided',
      ).catch((err: Error) => {
        throw new Error(`${err.message}\n${outputs()}`);
      });
      expect(decided).toBe('restricted');
      expect((await client.member(group.id, stranger.id)).status).toBe('restricted');
    } finally {
      await sql.end();
    }

    // Every process's /metrics, on the port Prometheus is told to scrape for its service.
    const prometheus = parse(readFileSync('deploy/prometheus/prometheus.yml', 'utf8')) as {
      scrape_configs: Array<{
        job_name: string;
        static_configs?: Array<{ targets: string[] }>;
        dns_sd_configs?: Array<{ names: string[]; port: number }>;
      }>;
    };
    const scraped = new Set(
      prometheus.scrape_configs.flatMap((job) => [
        ...(job.static_configs ?? []).flatMap((c) => c.targets),
        ...(job.dns_sd_configs ?? []).flatMap((c) => c.names.map((n) => `${n}:${c.port}`)),
      ]),
    );
    let decisions = 0;
    for (const r of running.filter((x) => x.service !== migrateName)) {
      const env = compose.services[r.service]!.environment ?? {};
      const containerPort =
        listensOn(env as Record<string, string>) === 'API_PORT'
          ? (env.API_PORT ?? '3000')
          : (env.METRICS_PORT ?? '9464');
      expect(scraped, `Prometheus scrapes ${r.service}`).toContain(`${r.service}:${containerPort}`);
      const res = await fetch(`http://127.0.0.1:${r.port}/metrics`);
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toContain('process_resident_memory_bytes');
      expect(text).toMatch(/^nezuko_/m);
      if (r.service === 'verifier')
        decisions += [...text.matchAll(/^nezuko_verifications_total\{[^}]*status="restricted"[^}]*\} (\d+)/gm)].reduce(
          (n, m) => n + Number(m[1]),
          0,
        );
      if (r.service === 'api') expect(text).toMatch(/^nezuko_bots\{status="running"\} 1$/m);
    }
    expect(decisions).toBe(1);
    // Logs went where the compose file sends them (the storage volume), as JSON lines.
    expect(readdirSync(path.join(appDir, 'storage/logs')).some((f) => f.endsWith('.log'))).toBe(true);
  }, 180_000);

  it('the compiled build imports nothing but Node built-ins and production dependencies', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> };
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir)) {
        const full = path.join(dir, entry);
        if (statSync(full).isDirectory()) walk(full);
        else if (full.endsWith('.js') && !full.includes(`${path.sep}public${path.sep}`)) files.push(full);
      }
    };
    walk('dist');
    expect(files.length).toBeGreaterThan(50);
    const packages = new Set<string>();
    for (const file of files) {
      const source = readFileSync(file, 'utf8');
      for (const m of source.matchAll(
        /(?:^import[^'"]*?from\s*|^export[^'"]*?from\s*|\bimport\(\s*|^import\s*)["']([^"']+)["']/gm,
      )) {
        const spec = m[1]!;
        if (spec.startsWith('.') || spec.startsWith('node:') || builtinModules.includes(spec)) continue;
        packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
      }
    }
    expect(packages.size).toBeGreaterThan(10);
    expect([...packages].filter((p) => !pkg.dependencies[p])).toEqual([]);
    expect(pkg.dependencies).not.toHaveProperty('tsx');
    expect(pkg.dependencies).not.toHaveProperty('typescript');
  });
});
