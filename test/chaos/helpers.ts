import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { openQueue, updatesQueue, type JobQueue } from '../../queues';
import { registerBot } from '../../services/core/bots';
import { loadConfig, type Config } from '../../services/core/config';
import { createDatabase, type PrismaClient } from '../../services/core/db';
import { SimClient, startSimulator, type RunningSimulator, type SimBot } from '../../sim';
import { useTestDatabase } from '../support/db';
import { startedLater } from '../support/platform';
import { spawnTs, waitFor, type Spawned } from '../support/process';
import { useTestRedis } from '../support/redis';

/**
 * Chaos harness: the simulator in this process, the platform as real `services/main.ts` processes on the
 * test file's own database and Redis prefix. Every spawned process is SIGKILLed in stop().
 */
export async function chaosDeployment(options: {
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
  callLogCapacity?: number;
}) {
  const sim: RunningSimulator = await startSimulator({ port: 0, callLogCapacity: options.callLogCapacity ?? 50_000 });
  const client = new SimClient(sim.url);
  const key = randomBytes(32).toString('hex');
  const config: Config = loadConfig({
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: options.redisUrl,
    REDIS_PREFIX: options.redisPrefix,
    TELEGRAM_API_ROOT: sim.apiRoot,
    TOKEN_ENCRYPTION_KEY: key,
    LOG_TO_FILE: 'false',
  });
  const db: PrismaClient = createDatabase({ url: options.databaseUrl, poolSize: 4 });
  const processes: Spawned[] = [];
  const queues = new Map<number, JobQueue<'updates'>>();

  const env = (roles: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
    ROLES: roles,
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: options.redisUrl,
    REDIS_PREFIX: options.redisPrefix,
    TELEGRAM_API_ROOT: sim.apiRoot,
    TOKEN_ENCRYPTION_KEY: key,
    METRICS_PORT: '0',
    API_PORT: '0',
    LOG_LEVEL: 'warn',
    LOG_TO_FILE: 'false',
    VERIFIER_CONCURRENCY: '20',
    DB_POOL_SIZE: '5',
    ...extra,
  });

  return {
    sim,
    client,
    config,
    db,
    key,
    env,
    /** Starts `services/main.ts` with these roles as a real process. */
    spawn(roles: string, extra: Record<string, string> = {}): Spawned {
      const p = spawnTs('services/main.ts', env(roles, extra));
      processes.push(p);
      return p;
    },
    /** A simulator bot registered in the platform (token encrypted in PostgreSQL). */
    async addBot(): Promise<SimBot & { instanceId: number }> {
      const bot = await client.createBot({
        username: `ch${randomBytes(4).toString('hex')}bot`,
        allowedUpdates: ['message', 'callback_query', 'chat_member', 'my_chat_member', 'chat_join_request'],
      });
      const row = await registerBot(db, config, bot.token);
      return { ...bot, instanceId: row.id };
    },
    /** The last lines each spawned process wrote (warnings and errors at the chaos log level), for a failure's message. */
    outputTails(chars = 4_000): string {
      return processes
        .map((p, i) => `--- process ${i} (pid ${p.child.pid}) ---\n${p.output().slice(-chars)}`)
        .join('\n');
    },
    queue(instanceId: number): JobQueue<'updates'> {
      let q = queues.get(instanceId);
      if (!q) {
        q = openQueue(updatesQueue(instanceId), { connection: { url: options.redisUrl }, prefix: options.redisPrefix });
        queues.set(instanceId, q);
      }
      return q;
    },
    async stop(): Promise<void> {
      for (const p of processes) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      await Promise.all(processes.map((p) => p.exited));
      await Promise.all([...queues.values()].map((q) => q.close()));
      await db.$disconnect();
      await sim.stop();
    },
  };
}

export type ChaosDeployment = Awaited<ReturnType<typeof chaosDeployment>>;

/**
 * For a chaos test file (call at module top level): a chaos deployment on the file's own database and Redis
 * prefix, made before the file's tests; every process it spawned is killed after them.
 */
export function useChaosDeployment(options: { callLogCapacity?: number } = {}): ChaosDeployment {
  const database = useTestDatabase();
  const redis = useTestRedis();
  let d: ChaosDeployment | undefined;
  beforeAll(async () => {
    d = await chaosDeployment({
      databaseUrl: database.url,
      redisUrl: redis.url,
      redisPrefix: redis.prefix,
      ...options,
    });
  });
  afterAll(() => d?.stop());
  return startedLater(() => d, 'useChaosDeployment()');
}
export type ChaosBot = Awaited<ReturnType<ChaosDeployment['addBot']>>;

export interface Scene {
  bot: ChaosBot;
  groups: Array<{ id: number; channelId: number }>;
}

/**
 * Protected groups set up the way an owner does it (bot admin, `/protect @channel` in the group); needs a
 * running verifier. The simulator's own send limits are lifted; the platform still paces its prompts the way
 * Telegram requires (20/min per group, ~30/s per bot), so a load keeps under ~18 non-subscribers per group.
 */
export async function protectGroups(
  d: ChaosDeployment,
  bot: ChaosBot,
  count: number,
  timeoutMs = 30_000,
): Promise<Scene> {
  const { client } = d;
  await client.setLimits(bot.id, { enabled: false });
  const owner = await client.createUser({ firstName: 'Owner' });
  const groups: Scene['groups'] = [];
  for (let i = 0; i < count; i++) {
    const group = await client.createChat({ type: 'supergroup', title: `Chaos ${i}`, ownerId: owner.id });
    const channel = await client.createChat({
      type: 'channel',
      title: `Chan ${i}`,
      username: `cc${randomBytes(5).toString('hex')}`,
      ownerId: owner.id,
    });
    await client.makeAdmin(channel.id, bot.id, { can_invite_users: true, can_post_messages: true });
    await client.makeAdmin(group.id, bot.id, {
      can_restrict_members: true,
      can_delete_messages: true,
      can_invite_users: true,
    });
    await client.sendMessage(group.id, { fromId: owner.id, text: `/protect @${channel.chat.username}` });
    groups.push({ id: group.id, channelId: channel.id });
  }
  await waitFor(
    async () =>
      (await d.db.protectedGroup.count({ where: { botInstanceId: bot.instanceId, enabled: true } })) === count,
    timeoutMs,
    `${count} groups to be protected`,
  );
  return { bot, groups };
}

export interface Joiner {
  groupId: number;
  userId: number;
  subscribed: boolean;
}

/** `perGroup` new users per group; a `subscribedShare` of them join the group's channel first (silently). */
export async function makeJoiners(
  d: ChaosDeployment,
  scene: Scene,
  perGroup: number,
  subscribedShare: number,
): Promise<Joiner[]> {
  const joiners: Joiner[] = [];
  for (const g of scene.groups) {
    const { ids } = await d.client.createUsers(perGroup, 'Joiner');
    const subscribed = ids.slice(0, Math.round(ids.length * subscribedShare));
    if (subscribed.length) await d.client.bulkJoin(g.channelId, subscribed);
    for (const id of ids) joiners.push({ groupId: g.id, userId: id, subscribed: subscribed.includes(id) });
  }
  return joiners;
}

/** Joins every joiner (each join = a chat_member update + a new_chat_members message), `parallel` at a time. */
export async function joinAll(
  d: ChaosDeployment,
  joiners: Joiner[],
  parallel = 16,
  onProgress?: (done: number) => void,
): Promise<void> {
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < joiners.length) {
        const j = joiners[next++]!;
        await d.client.join(j.groupId, j.userId);
        onProgress?.(++done);
      }
    }),
  );
}

/**
 * Nothing left at Telegram and nothing waiting or active in the bot's queue, and no update job delayed (a
 * 429 or open breaker hands jobs back delayed); prompt deletions stay delayed for the prompt's lifetime.
 */
export async function drained(d: ChaosDeployment, bot: ChaosBot, timeoutMs: number): Promise<void> {
  const queue = d.queue(bot.instanceId);
  let quiet = 0;
  let last = '';
  await waitFor(
    async () => {
      const { updates } = await d.client.pendingUpdates(bot.id);
      const c = await queue.getJobCounts('waiting', 'active', 'prioritized', 'delayed');
      let busy = updates.length + c.waiting! + c.active! + c.prioritized!;
      if (!busy && c.delayed) busy = (await queue.getDelayed(0, -1)).filter((j) => j.name === 'update').length;
      last = `pending at Telegram ${updates.length}, jobs ${JSON.stringify(c)}`;
      quiet = busy ? 0 : quiet + 1;
      return quiet >= 3;
    },
    timeoutMs,
    `bot ${bot.instanceId} to drain`,
  ).catch(async (err: Error) => {
    throw new Error(`${err.message} (${last}) ${await describeStuck(queue)}\n${d.outputTails()}`);
  });
}

/** Why jobs still wait when a drain times out: each waiting, active or delayed job, when it last ran, and for how long it was handed back. */
async function describeStuck(queue: JobQueue): Promise<string> {
  const now = Date.now();
  const jobs = await queue.getJobs(['active', 'delayed', 'waiting', 'prioritized'], 0, 30);
  return jobs
    .map((j) => {
      const ran = j.processedOn ? `last run ${now - j.processedOn} ms ago` : 'never run';
      // After a hand-back, delay is the wait it was given then (moveToDelayed), not counted from the job's creation.
      return `[${j.name} ${j.id} ${ran} delay=${j.delay} ms attempts=${j.attemptsMade} ${j.failedReason ?? ''}]`;
    })
    .join(' ');
}

export interface Outcome {
  updates: number;
  joiners: number;
  decisions: number;
  duplicates: number;
  lost: number;
  /** non-subscribers with more than one mute episode (restrictions rows) */
  mutedTwice: number;
  /** successful restrictChatMember calls beyond the first for a user (idempotent re-mutes of a retried job) */
  repeatedRestrictCalls: number;
  promptedTwice: number;
  notMuted: number;
  notPrompted: number;
  /** joiners without a verification_log row although their effect is visible at Telegram (non-subscribers) */
  logRowsMissing: number;
  problems: string[];
}

/**
 * What users see: every joiner has exactly one decision row (verified for subscribers, restricted for the
 * others); each non-subscriber was muted (restrictChatMember succeeded; one mute episode in `restrictions`,
 * still open) and has exactly one prompt in the group. A retried job may repeat the (idempotent)
 * restrictChatMember call: counted in repeatedRestrictCalls, not a second mute.
 */
export async function outcome(
  d: ChaosDeployment,
  bot: ChaosBot,
  joiners: Joiner[],
  updates = joiners.length * 2,
  options: {
    logRowsMayBeLost?: boolean;
    /**
     * A SIGKILL between Telegram accepting a prompt and our record of it makes the job's next run send it again:
     * sendMessage has no idempotency key, so this alone cannot be exactly once. Counted, and bounded by the caller.
     */
    promptsMayRepeat?: boolean;
  } = {},
): Promise<Outcome> {
  const rows = await d.db.verificationLog.groupBy({
    by: ['chatId', 'userId', 'status'],
    where: { botInstanceId: bot.instanceId },
    _count: { _all: true },
  });
  const decided = new Map<string, { n: number; statuses: string[] }>();
  for (const r of rows) {
    const k = `${r.chatId}:${r.userId}`;
    const e = decided.get(k) ?? { n: 0, statuses: [] };
    e.n += r._count._all;
    e.statuses.push(r.status);
    decided.set(k, e);
  }
  const restricts = new Map<number, number>();
  for (const c of (await d.client.calls(bot.id, { method: 'restrictChatMember' })).calls) {
    if (c.outcome !== 'ok') continue;
    const uid = Number((c.params as { user_id?: number }).user_id);
    restricts.set(uid, (restricts.get(uid) ?? 0) + 1);
  }
  const prompts = new Map<number, number>();
  for (const groupId of new Set(joiners.map((j) => j.groupId))) {
    for (const m of (await d.client.messages(groupId)).messages) {
      const match = /"callback_data":"v:(\d+)"/.exec(JSON.stringify(m.reply_markup ?? {}));
      if (!match) continue;
      // A shared prompt (a wave: `v:0`) names its users with text_mention entities.
      const named =
        match[1] === '0'
          ? ((m as { entities?: { type: string; user?: { id: number } }[] }).entities ?? []).flatMap((e) =>
              e.type === 'text_mention' && e.user ? [e.user.id] : [],
            )
          : [Number(match[1])];
      for (const id of named) prompts.set(id, (prompts.get(id) ?? 0) + 1);
    }
  }
  const open = new Map<string, number>();
  const episodes = new Map<string, number>();
  for (const r of await d.db.restriction.findMany({
    where: { botInstanceId: bot.instanceId },
    select: { userId: true, liftedAt: true, group: { select: { chatId: true } } },
  })) {
    const k = `${r.group.chatId}:${r.userId}`;
    episodes.set(k, (episodes.get(k) ?? 0) + 1);
    if (!r.liftedAt) open.set(k, (open.get(k) ?? 0) + 1);
  }
  const o: Outcome = {
    updates,
    joiners: joiners.length,
    decisions: 0,
    duplicates: 0,
    lost: 0,
    mutedTwice: 0,
    repeatedRestrictCalls: 0,
    promptedTwice: 0,
    notMuted: 0,
    notPrompted: 0,
    logRowsMissing: 0,
    problems: [],
  };
  for (const j of joiners) {
    const k = `${j.groupId}:${j.userId}`;
    const e = decided.get(k);
    o.decisions += e?.n ?? 0;
    if (!e) {
      o.logRowsMissing++;
      if (j.subscribed && !options.logRowsMayBeLost) {
        o.lost++;
        o.problems.push(`${k} undecided`);
      }
    } else if (e.n > 1) {
      o.duplicates += e.n - 1;
      o.problems.push(`${k} decided ${e.n}× (${e.statuses.join(',')})`);
    }
    const expected = j.subscribed ? 'verified' : 'restricted';
    if (e && !e.statuses.every((s) => s === expected))
      o.problems.push(`${k} ${e.statuses.join(',')}, expected ${expected}`);
    if (j.subscribed) continue;
    const r = restricts.get(j.userId) ?? 0;
    const p = prompts.get(j.userId) ?? 0;
    if (r === 0 && p === 0) o.lost++;
    if (r === 0) o.notMuted++;
    if (r > 1) o.repeatedRestrictCalls += r - 1;
    if ((episodes.get(k) ?? 0) > 1) o.mutedTwice++;
    if (p === 0) o.notPrompted++;
    if (p > 1) o.promptedTwice++;
    if (r === 0 || p === 0 || (p > 1 && !options.promptsMayRepeat))
      o.problems.push(`${k} restricted ${r}×, prompted ${p}×`);
    if ((episodes.get(k) ?? 0) > 1) o.problems.push(`${k} muted ${episodes.get(k)} times (restrictions rows)`);
    if ((open.get(k) ?? 0) !== 1) o.problems.push(`${k} has ${open.get(k) ?? 0} open restrictions`);
  }
  return o;
}

export function printOutcome(label: string, o: Outcome, extra: Record<string, unknown> = {}): void {
  const { problems, ...figures } = o;
  console.log(
    `[chaos:${label}] ${Object.entries({ ...figures, ...extra })
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}${problems.length ? `\n  problems (${problems.length}): ${problems.slice(0, 10).join('; ')}` : ''}`,
  );
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A redis-server of the test's own on a fixed port, persisting every write (append-only, fsync always) in
 * `dir`, so that it can be killed and started again on the same port with its data, like a restarted server.
 */
export async function persistentRedis(port: number, dir: string): Promise<{ url: string; kill(): Promise<void> }> {
  const { spawn } = await import('node:child_process');
  const net = await import('node:net');
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--dir',
      dir,
    ],
    { stdio: 'ignore' },
  );
  await waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => {
          socket.end();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      }),
    10_000,
    `redis-server on ${port}`,
  );
  return {
    url: `redis://127.0.0.1:${port}`,
    kill: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

/**
 * A TCP proxy in this process in front of `target` (PostgreSQL): `cut()` drops every open connection and
 * refuses new ones (the server looks unreachable) until `restore()`.
 */
export async function tcpProxy(target: { host: string; port: number }) {
  const net = await import('node:net');
  const sockets = new Set<import('node:net').Socket>();
  let down = false;
  const server = net.createServer((client) => {
    if (down) return client.destroy();
    const upstream = net.connect(target.port, target.host);
    sockets.add(client).add(upstream);
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as import('node:net').AddressInfo).port;
  return {
    port,
    cut() {
      down = true;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    restore() {
      down = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A metric's summed value from a Prometheus text exposition. */
export function metricSum(text: string, name: string, labelFilter = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
    if (labelFilter && !line.includes(labelFilter)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
