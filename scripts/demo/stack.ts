// The demo stack as a module: the Telegram simulator (in this process), every role in one child process
// (services/main.ts) pointed at it, three bots with protected groups and channels set up the way an owner does
// it, an owner and a viewer account, and a scenario of users at a gentle rate. `npm run demo` and the browser
// tests both start it through startDemo().
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { registerBot } from '../../services/core/bots';
import { loadConfig } from '../../services/core/config';
import { createDatabase, type PrismaClient } from '../../services/core/db';
import { SimClient, startSimulator, type RunningSimulator, type SimBot } from '../../sim';
import { startScenario, type DemoWorld, type Scenario } from './scenario';

export interface DemoOptions {
  /** A migrated database (the stack writes to it; use a database of its own). */
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
  /** API port; 0 picks a free one. */
  apiPort?: number;
  /** Simulator port; 0 picks a free one. */
  simPort?: number;
  /** How often the maintenance role rolls statistics up and writes the dashboard snapshot. */
  rollupIntervalMs?: number;
  /** Milliseconds between scenario steps (a step is one user doing one thing); 0 = no scenario. */
  scenarioStepMs?: number;
  exportDir?: string;
  ownerEmail?: string;
  ownerPassword?: string;
  viewerEmail?: string;
  viewerPassword?: string;
  /** Extra environment for the roles process. */
  env?: Record<string, string>;
  /** Where the roles' output goes: a callback per chunk (default: dropped, kept in memory for errors). */
  onOutput?: (chunk: string) => void;
  log?: (line: string) => void;
}

export interface Demo {
  url: string;
  simUrl: string;
  owner: { email: string; password: string };
  viewer: { email: string; password: string };
  bots: Array<SimBot & { instanceId: number }>;
  world: DemoWorld;
  scenario: Scenario | null;
  db: PrismaClient;
  /** Last lines the roles process printed. */
  output(): string;
  /** Resolves when the roles process exits on its own (a crash). */
  exited: Promise<number | string>;
  stop(): Promise<void>;
}

export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });

const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(
  check: () => Promise<T> | T,
  timeoutMs: number,
  what: string,
  alive?: () => string | null,
): Promise<T> {
  const started = Date.now();
  let last: unknown;
  while (Date.now() - started < timeoutMs) {
    const dead = alive?.();
    if (dead) throw new Error(`${what}: ${dead}`);
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

const ROOT = path.resolve(import.meta.dirname, '../..');

const BOTS = [
  { username: 'nezuko_guard_bot', groups: ['Rust Learners', 'Photography Club'], joinRequestGroup: 'VIP Lounge' },
  { username: 'channel_keeper_bot', groups: ['Crypto News Chat', 'Local Events'], joinRequestGroup: null },
  { username: 'sub_check_bot', groups: ['Indie Games', 'Book Circle'], joinRequestGroup: 'Beta Testers' },
];

export async function startDemo(options: DemoOptions): Promise<Demo> {
  const log = options.log ?? (() => {});
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  const stopAll = async () => {
    for (const fn of cleanups.splice(0).reverse())
      await Promise.resolve()
        .then(fn)
        .catch(() => {});
  };
  try {
    const sim: RunningSimulator = await startSimulator({ port: options.simPort ?? 0 });
    cleanups.push(() => sim.stop());
    const client = new SimClient(sim.url);
    const key = randomBytes(32).toString('hex');
    const env: Record<string, string> = {
      NODE_ENV: 'development',
      ROLES: 'poller,verifier,maintenance,api',
      DATABASE_URL: options.databaseUrl,
      REDIS_URL: options.redisUrl,
      REDIS_PREFIX: options.redisPrefix,
      TELEGRAM_API_ROOT: sim.apiRoot,
      TOKEN_ENCRYPTION_KEY: key,
      API_HOST: '127.0.0.1',
      STATS_ROLLUP_INTERVAL_MS: String(options.rollupIntervalMs ?? 5_000),
      LOG_TO_FILE: 'false',
      LOG_LEVEL: 'warn',
      EXPORT_DIR: options.exportDir ?? path.join(ROOT, 'storage/demo/exports'),
      VERIFIER_CONCURRENCY: '10',
      DB_POOL_SIZE: '5',
      ...options.env,
    };
    const config = loadConfig(env);
    const db = createDatabase({ url: options.databaseUrl, poolSize: 3 });
    cleanups.push(() => db.$disconnect());

    // Bots exist in Telegram (the simulator) and are registered before the roles start, as `npm run bots add` would.
    const bots: Demo['bots'] = [];
    for (const spec of BOTS) {
      const bot = await client.createBot({
        username: spec.username,
        firstName: spec.username.replace(/_bot$/, '').replace(/_/g, ' '),
      });
      const row = await registerBot(db, config, bot.token);
      bots.push({ ...bot, instanceId: row.id });
    }
    log(`simulator at ${sim.url} with ${bots.length} bots`);

    const owner = {
      email: options.ownerEmail ?? 'owner@nezuko.example',
      password: options.ownerPassword ?? `demo-${randomBytes(6).toString('hex')}`,
    };
    const viewer = {
      email: options.viewerEmail ?? 'viewer@nezuko.example',
      password: options.viewerPassword ?? `view-${randomBytes(6).toString('hex')}`,
    };
    let apiPort = options.apiPort ?? 0;
    if (apiPort === 0 || !(await portFree(apiPort))) apiPort = await freePort();
    mkdirSync(env.EXPORT_DIR!, { recursive: true });

    // All four roles in one process, as `npm start` runs them; ADMIN_EMAIL/ADMIN_PASSWORD create the first owner.
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'services/main.ts')], {
      cwd: ROOT,
      env: {
        ...process.env,
        ...env,
        API_PORT: String(apiPort),
        ADMIN_EMAIL: owner.email,
        ADMIN_PASSWORD: owner.password,
        // The guard bot's verification Web App (http on loopback, as the simulator allows below).
        WEB_APP_BASE_URL: `http://127.0.0.1:${apiPort}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const onChunk = (d: Buffer) => {
      const s = d.toString();
      output = (output + s).slice(-20_000);
      options.onOutput?.(s);
    };
    child.stdout!.on('data', onChunk);
    child.stderr!.on('data', onChunk);
    let exitInfo: number | string | null = null;
    const exited = new Promise<number | string>((resolve) =>
      child.once('exit', (code, signal) => {
        exitInfo = code ?? signal ?? -1;
        resolve(exitInfo);
      }),
    );
    cleanups.push(async () => {
      if (exitInfo !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    });
    const url = `http://127.0.0.1:${apiPort}`;
    const alive = () => (exitInfo !== null ? `the roles process exited (${exitInfo}):\n${output.slice(-3000)}` : null);
    await waitFor(async () => (await fetch(`${url}/ready`)).ok, 60_000, 'the API to be ready', alive);
    log(`roles running, API at ${url}`);

    // A viewer, created by the owner through the admin API.
    const login = await fetch(`${url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(owner),
    });
    if (!login.ok) throw new Error(`owner login failed: ${login.status} ${await login.text()}`);
    const { csrfToken } = (await login.json()) as { csrfToken: string };
    const cookie = login.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const existing = await db.adminUser.findFirst({ where: { email: viewer.email, deletedAt: null } });
    if (!existing) {
      const created = await fetch(`${url}/api/v1/users`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrfToken },
        body: JSON.stringify({ ...viewer, role: 'viewer', displayName: 'Demo viewer' }),
      });
      if (!created.ok) throw new Error(`creating the viewer failed: ${created.status} ${await created.text()}`);
    }
    await fetch(`${url}/api/v1/auth/logout`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrfToken } });

    // Groups and channels, protected through Telegram the way an owner does it.
    const world: DemoWorld = { client, groups: [], apiUrl: url };
    await client.setJoinQuerySettings({ allowHttpWebApps: true });
    for (const [i, spec] of BOTS.entries()) {
      const bot = bots[i]!;
      const owner = await client.createUser({ firstName: `Owner ${i + 1}` });
      await client.sendPrivateMessage(bot.id, owner.id, '/start').catch(() => {});
      const channels = [];
      for (const [j, title] of [`${spec.groups[0]} News`, `${spec.groups[1]} Updates`].entries()) {
        const channel = await client.createChat({
          type: 'channel',
          title,
          username: `${spec.username.replace(/_bot$/, '')}_ch${j + 1}`,
          ownerId: owner.id,
        });
        await client.makeAdmin(channel.id, bot.id, { can_invite_users: true, can_post_messages: true });
        channels.push(channel);
      }
      const groupSpecs = [
        { title: spec.groups[0]!, channels: [channels[0]!], mode: 'mute' as const },
        { title: spec.groups[1]!, channels: [channels[0]!, channels[1]!], mode: 'mute' as const },
        ...(spec.joinRequestGroup
          ? [{ title: spec.joinRequestGroup, channels: [channels[1]!], mode: 'join_request' as const }]
          : []),
      ];
      for (const g of groupSpecs) {
        const group = await client.createChat({
          type: 'supergroup',
          title: g.title,
          ownerId: owner.id,
          joinByRequest: g.mode === 'join_request',
        });
        await client.makeAdmin(group.id, bot.id, {
          can_restrict_members: true,
          can_delete_messages: true,
          can_invite_users: true,
        });
        await client.sendMessage(group.id, {
          fromId: owner.id,
          text: `/protect ${g.channels.map((c) => `@${c.chat.username}`).join(' ')}`,
        });
        await waitFor(
          async () =>
            (await db.protectedGroup.findFirst({
              where: { chatId: BigInt(group.id), botInstanceId: bot.instanceId, enabled: true },
            })) !== null,
          30_000,
          `group "${g.title}" to be protected`,
          alive,
        );
        // The first bot's join-request group names it its guard bot (Bot API 10.1), as an owner does in the
        // group's settings: its requests then come with a query, answered at once or after the Web App.
        const guard = g.mode === 'join_request' && i === 0;
        if (guard) {
          await client.setSupportsJoinRequestQueries(bot.id, true);
          await client.setGuardBot(group.id, bot.id);
        }
        // The second bot's second group shows its prompts only to the muted user (ephemeral, Bot API 10.2+).
        if (i === 1 && g.title === spec.groups[1]) {
          await client.sendMessage(group.id, { fromId: owner.id, text: '/set prompt_style ephemeral' });
          await waitFor(
            async () =>
              (await db.protectedGroup.findFirst({
                where: { chatId: BigInt(group.id), promptStyle: 'ephemeral' },
              })) !== null,
            30_000,
            'ephemeral prompts',
            alive,
          );
        }
        if (g.mode === 'join_request') {
          await client.sendMessage(group.id, { fromId: owner.id, text: '/set mode join_request' });
          await waitFor(
            async () =>
              (await db.protectedGroup.findFirst({ where: { chatId: BigInt(group.id), mode: 'join_request' } })) !==
              null,
            30_000,
            'join_request mode',
            alive,
          );
        }
        world.groups.push({
          botId: bot.id,
          chatId: group.id,
          title: g.title,
          mode: g.mode,
          guard: g.mode === 'join_request' && i === 0,
          channelIds: g.channels.map((c) => c.id),
          members: [],
          muted: [],
        });
      }
    }
    log(`${world.groups.length} groups protected`);

    const scenario =
      options.scenarioStepMs === 0 ? null : startScenario(world, { stepMs: options.scenarioStepMs ?? 800 });
    if (scenario) cleanups.push(() => scenario.stop());

    return {
      url,
      simUrl: sim.url,
      owner,
      viewer,
      bots,
      world,
      scenario,
      db,
      output: () => output,
      exited,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
