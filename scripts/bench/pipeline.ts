/**
 * npm run bench:pipeline [-- --bots 4 --rate 1000 --seconds 15 --backlog 6000] [-- --profile]
 *   [-- --compose [--compose-verifiers 2]] [-- --floor]
 *
 * The same mixed scenario (joins, leaves, messages; most joiners subscribed and, after their first visit,
 * cached) against two systems talking to the same simulator:
 *   - Nezuko: poller → per-bot BullMQ queues → verifier workers, on real Redis and PostgreSQL;
 *   - baseline: a plain single-process Telegraf bot (`bot.launch()`) doing the same checks inline.
 * Throughput: a backlog of updates, drained, timed from each system's first getUpdates to its last decision
 * (start-up is not throughput); with it, the same number of jobs through BullMQ with no-op handlers, the
 * queue's own cost on this machine. --floor runs, in Nezuko's place, its pipeline carrying the plain bot's checks
 * instead of its handlers: the throughput Nezuko's handlers could reach at best. Latency: a steady rate, from the
 * moment an event is created in the simulator to the decision (mute+prompt or verified). The load comes from a
 * process of its own (pipeline-load.ts), so neither system shares its event loop with the generator.
 * A second backlog meets each system while it runs (see heldBacklog): the pipeline's cost without start-up.
 * --profile writes V8 CPU profiles of the one-process Nezuko run's backlog phase (from the platform's start to the
 * drain), of the backlog met while running and of its steady phase to bench/profiles/ (summarise them with
 * scripts/bench/profile-summary.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import http from 'node:http';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { Telegraf } from 'telegraf';
import type { ChatMember, ChatMemberUpdated, Message } from 'telegraf/types';
import { registerBot } from '../../services/core/bots';
import { loadConfig } from '../../services/core/config';
import { createContext, type AppContext } from '../../services/core/context';
import { createLogger } from '../../services/core/logger';
import { startPoller } from '../../services/poller';
import { startVerifier } from '../../services/verifier';
import { updateHandlers, type UpdateHandlers } from '../../services/verifier/handlers';
import type { BotJob } from '../../services/verifier/job';
import { onPage } from '../../services/verifier/page';
import { isMember } from '../../services/core/telegram/membership';
import { openQueue, updatesQueue, type JobQueue } from '../../queues';
import { SimClient } from '../../sim/client';
import { noopJobs } from './ceiling';
import { startLoadGenerator } from './pipeline-load';
import {
  benchDatabase,
  dropRedisPrefix,
  numberArg,
  percentile,
  report,
  PLATFORM_NODE_FLAGS,
  runBench,
  simulatorProcess,
  type Row,
} from './support';
import { countRoundTrips, machineCpuSampler, portOf, postgresCpuSeconds, redisCpuSeconds } from './round-trips';

const BOTS = numberArg('bots', 4);
const GROUPS_PER_BOT = numberArg('groups', 5);
const USERS_PER_GROUP = numberArg('users', 60);
const RATE = numberArg('rate', 1000);
const SECONDS = numberArg('seconds', 15);
const BACKLOG_EVENTS = numberArg('backlog', 6000);
/** Verifier processes of the --compose run (docker-compose runs two). */
const COMPOSE_VERIFIERS = numberArg('compose-verifiers', 2);
/** Share of users not subscribed to every channel (kept low: prompts are paced at 20/min per group). */
const NON_SUBSCRIBED = 0.01;
/** Measured by this bench on the one-job-per-update pipeline (2026-12-02, machine loaded), for comparison. */
const REDIS_TRIPS_BEFORE = '2.6';
const POSTGRES_TRIPS_BEFORE = '0.9, when each message of a query counted';
const PROFILE = process.argv.includes('--profile');
/** Runs the floor (see floorHandlers) in Nezuko's place. */
const FLOOR = process.argv.includes('--floor');
const ALLOWED = ['message', 'callback_query', 'chat_member', 'my_chat_member', 'chat_join_request'];

interface Group {
  botId: number;
  chatId: number;
  channels: number[];
  users: number[];
  /** Users of the second backlog, which the running system has not seen (nothing about them cached). */
  laterUsers: number[];
}
interface World {
  bots: Array<{ id: number; token: string }>;
  groups: Group[];
}

async function buildWorld(sim: SimClient): Promise<World> {
  const world: World = { bots: [], groups: [] };
  const owner = await sim.createUser({ firstName: 'Owner' });
  for (let b = 0; b < BOTS; b++) {
    const bot = await sim.createBot({ username: `bench${randomBytes(3).toString('hex')}bot`, allowedUpdates: ALLOWED });
    world.bots.push({ id: bot.id, token: bot.token });
    for (let g = 0; g < GROUPS_PER_BOT; g++) {
      const group = await sim.createChat({ type: 'supergroup', title: `Bench ${b}.${g}`, ownerId: owner.id });
      await sim.makeAdmin(group.id, bot.id);
      const { ids } = await sim.createUsers(USERS_PER_GROUP, 'Member');
      const { ids: laterIds } = await sim.createUsers(USERS_PER_GROUP, 'Later');
      const subscribed = [...ids, ...laterIds].filter(() => Math.random() >= NON_SUBSCRIBED);
      const channels: number[] = [];
      for (let c = 0; c < 2; c++) {
        const channel = await sim.createChat({
          type: 'channel',
          title: `Channel ${b}.${g}.${c}`,
          username: `bch${randomBytes(4).toString('hex')}`,
          ownerId: owner.id,
        });
        await sim.makeAdmin(channel.id, bot.id, { can_invite_users: true });
        await sim.bulkJoin(channel.id, subscribed);
        channels.push(channel.id);
      }
      world.groups.push({ botId: bot.id, chatId: group.id, channels, users: ids, laterUsers: laterIds });
    }
  }
  return world;
}

const waitUntil = async (check: () => Promise<boolean> | boolean, timeoutMs: number) => {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error('benchmark did not drain in time');
    await new Promise((r) => setTimeout(r, 100));
  }
};

/**
 * Latency of each decision from the join it answers: the latest unanswered join of that user in that group
 * made before it. Older unanswered joins are dropped: a re-join within a second or two of the previous
 * join is the same join to Telegram's dates, so it gets no decision of its own.
 */
const latencies = (joins: Map<string, number[]>, decisions: Array<{ key: string; at: number }>) => {
  const pending = new Map([...joins].map(([k, v]) => [k, [...v].sort((a, b) => a - b)]));
  const values: number[] = [];
  for (const d of decisions.sort((a, b) => a.at - b.at)) {
    const times = pending.get(d.key);
    if (!times?.length) continue;
    let i = -1;
    while (i + 1 < times.length && times[i + 1]! <= d.at) i++;
    if (i < 0) continue;
    values.push(d.at - times[i]!);
    times.splice(0, i + 1);
  }
  return values.sort((a, b) => a - b);
};

/**
 * Where a join's time goes (recent completed jobs): from the join at the simulator until its update is queued
 * (long poll + addBulk), waiting in the queue, being processed.
 */
async function jobTimings(queues: JobQueue[], joins: Map<string, number[]>) {
  const jobs = (await Promise.all(queues.map((q) => q.getJobs(['completed'], 0, 499)))).flat();
  const sorted = (xs: number[]) => xs.sort((a, b) => a - b);
  const wait = sorted(jobs.map((j) => (j.processedOn ?? 0) - j.timestamp));
  const work = sorted(jobs.map((j) => (j.finishedOn ?? 0) - (j.processedOn ?? 0)));
  type Joined = { chat_member?: { chat: { id: number }; new_chat_member: { user: { id: number }; status: string } } };
  const poll = sorted(
    jobs.flatMap((j) =>
      ((j.data.updates ?? [j.data.update]) as Joined[]).flatMap((update) => {
        const member = update?.chat_member;
        if (!member || member.new_chat_member.status !== 'member') return [];
        const at = (joins.get(`${member.chat.id}:${member.new_chat_member.user.id}`) ?? [])
          .filter((t) => t <= j.timestamp)
          .at(-1);
        return at === undefined ? [] : [j.timestamp - at];
      }),
    ),
  );
  return {
    pollP50: percentile(poll, 50),
    pollP99: percentile(poll, 99),
    queueWaitP50: percentile(wait, 50),
    queueWaitP99: percentile(wait, 99),
    processingP50: percentile(work, 50),
    processingP99: percentile(work, 99),
  };
}

/** When the first getUpdates of these bots reached the simulator (wall-clock ms): a system starts working there. */
async function firstPoll(sim: SimClient, bots: World['bots']): Promise<number> {
  const firsts = await Promise.all(
    bots.map(async (b) => (await sim.calls(b.id, { method: 'getUpdates' })).calls[0]?.at ?? Infinity),
  );
  return Math.min(...firsts);
}

/**
 * A backlog met by a system that is already running: the second pool of users (nothing about them cached) makes
 * BACKLOG_EVENTS events while the simulator holds the bots' updates, as if the system's process were down; then
 * they are released at once, to the long polls waiting for them. Timed from the release to the last decision.
 */
async function heldBacklog(simUrl: string, sim: SimClient, world: World, label: string) {
  const later = await startLoadGenerator(
    simUrl,
    world.groups.map((g) => ({ chatId: g.chatId, users: g.laterUsers })),
  );
  await Promise.all(world.bots.map((b) => sim.holdDelivery(b.id, true)));
  await later.burst(BACKLOG_EVENTS);
  later.stop();
  const joins = [...later.joins.values()].reduce((n, v) => n + v.length, 0);
  const machine = machineCpuSampler();
  // This process' CPU every 50 ms, to read it at the last decision rather than after the wait for the drain.
  const start = process.cpuUsage();
  const cpuSamples: Array<{ at: number; seconds: number }> = [];
  const sample = () => cpuSamples.push({ at: Date.now(), seconds: cpuSeconds(start) });
  const sampler = setInterval(sample, 50);
  const releasedAt = Date.now();
  await Promise.all(world.bots.map((b) => sim.holdDelivery(b.id, false)));
  const { updates } = later;
  return {
    joins,
    /** The backlog's figures, its last decision made at `lastAt`; this process' CPU from the first sample after it. */
    finish(lastAt: number) {
      sample();
      clearInterval(sampler);
      const running = {
        throughput: updates / ((lastAt - releasedAt) / 1000),
        updates,
        cpu: (cpuSamples.find((s) => s.at >= lastAt) ?? cpuSamples.at(-1)!).seconds,
        machineBusy: machine.busyBetween(releasedAt, lastAt),
      };
      machine.stop();
      console.log(
        `${label}, running: ${updates} updates released at once, last decision ${lastAt - releasedAt} ms later`,
      );
      return running;
    },
  };
}

/** Telegram calls of these bots so far, getUpdates left out: what the decisions cost at Telegram. */
async function telegramCalls(sim: SimClient, bots: World['bots']): Promise<number> {
  const counters = await Promise.all(bots.map(async (b) => (await sim.calls(b.id)).counters));
  return counters.reduce((n, c) => n + c.total - (c.byMethod.getUpdates?.total ?? 0), 0);
}

const cpuSeconds = (since: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
};

/** Socket writes to Redis and PostgreSQL from this process: see round-trips.ts. */
const roundTrips = (() => {
  const redis = portOf(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', 6379);
  const postgres = portOf(process.env.DATABASE_URL ?? 'postgresql://127.0.0.1:5432/x', 5432);
  return countRoundTrips({ redis, postgres });
})();

/** A V8 CPU profile of this process between start() and stop(file). */
const profiler = (() => {
  const session = new Session();
  return {
    async start() {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    },
    async stop(file: string) {
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      mkdirSync('bench/profiles', { recursive: true });
      writeFileSync(file, JSON.stringify(profile));
      console.log(`CPU profile: ${file}`);
    },
  };
})();

// ---------------------------------------------------------------- Nezuko
/** The docker-compose shape: one poller process and `verifiers` verifier processes (services/main.ts, ROLES). */
interface Shape {
  verifiers: number;
}

/** CPU seconds a child process has used so far (Linux /proc). */
const childCpuSeconds = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};

/** Starts `services/main.ts` with these roles; resolves once it logged its start-up summary. */
async function startRole(env: NodeJS.ProcessEnv, roles: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...PLATFORM_NODE_FLAGS, '--import', 'tsx', 'services/main.ts'], {
    env: { ...env, ROLES: roles, LOG_LEVEL: 'info', LOG_FORMAT: 'json', METRICS_PORT: '0', API_PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d;
      if (out.includes('nezuko started')) {
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${roles} process exited with ${code}`)));
  });
  return child;
}

/**
 * Nezuko in one process, or in the docker-compose shape's processes (`shape`), or its floor (`floor`: the plain
 * bot's checks in its pipeline, measured through the two backlogs only).
 */
async function runNezuko(simUrl: string, { shape, floor }: { shape?: Shape; floor?: boolean } = {}) {
  const sim = new SimClient(simUrl);
  const world = await buildWorld(sim);
  const database = await benchDatabase('pipeline');
  const settings = {
    DATABASE_URL: database.url,
    REDIS_PREFIX: `bench${randomBytes(3).toString('hex')}`,
    TELEGRAM_API_ROOT: simUrl,
    TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'error',
    LOG_TO_FILE: 'false',
  };
  const config = loadConfig({ ...process.env, ...settings });
  const ctx: AppContext = await createContext(config, createLogger({ level: 'error' }));
  try {
    for (const bot of world.bots) {
      const row = await registerBot(ctx.db, config, bot.token);
      for (const group of world.groups.filter((g) => g.botId === bot.id)) {
        const created = await ctx.db.protectedGroup.create({
          data: { botInstanceId: row.id, chatId: BigInt(group.chatId), title: `g${group.chatId}`, enabled: true },
        });
        for (const channelId of group.channels) {
          const channel = await ctx.db.enforcedChannel.create({
            data: { botInstanceId: row.id, channelId: BigInt(channelId), title: `c${channelId}`, botIsAdmin: true },
          });
          await ctx.db.groupChannelLink.create({
            data: { groupId: created.id, channelId: channel.id, botInstanceId: row.id },
          });
        }
      }
    }
    const instanceIds = (await ctx.db.botInstance.findMany({ select: { id: true } })).map((b) => b.id);
    // Not on ctx.redis, which the platform in this process uses: BullMQ would define its scripts there, and
    // ioredis copies those into every auto-pipeline (a production verifier's shared connection has none).
    const benchConnection = ctx.newRedis('default');
    const queues = instanceIds.map((id) =>
      openQueue(updatesQueue(id), { connection: benchConnection, prefix: config.REDIS_PREFIX }),
    );
    const counted = async (counter: { get(): Promise<{ values: Array<{ value: number }> }> }) =>
      (await counter.get()).values.reduce((n, v) => n + v.value, 0);
    const floorDecisions: number[] = [];
    const decided = async () =>
      floor ? floorDecisions.length : shape ? ctx.db.verificationLog.count() : counted(ctx.metrics.verifications);
    /** When the last decision (after the first `since` of them) was made. */
    const lastDecision = async (since: { rows: bigint; floor: number }) =>
      floor
        ? Math.max(...floorDecisions.slice(since.floor))
        : (
            await ctx.db.verificationLog.aggregate({ where: { id: { gt: since.rows } }, _max: { createdAt: true } })
          )._max.createdAt?.getTime();
    const drained = async () => {
      for (const q of queues) {
        const c = await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
        if ((c.waiting ?? 0) + (c.active ?? 0) + (c.prioritized ?? 0) > 0) return false;
      }
      return true;
    };

    // Throughput: a backlog waiting at "Telegram", then the platform starts and drains it.
    const source = await startLoadGenerator(simUrl, world.groups);
    const { joins } = source;
    await source.burst(BACKLOG_EVENTS);
    const backlogUpdates = source.updates;
    const backlogJoins = [...joins.values()].reduce((n, v) => n + v.length, 0);
    const cpuAtStart = process.cpuUsage();
    const machine = machineCpuSampler();
    const tripsAtStart = roundTrips.read();
    const callsAtStart = await telegramCalls(sim, world.bots);
    const redisCpuAtStart = await redisCpuSeconds(ctx.redis);
    const databaseName = new URL(database.url).pathname.slice(1);
    const children: ChildProcess[] = [];
    let childCpuAtStart = 0;
    if (shape) {
      // Verifiers first, so that the backlog is not timed while they are still starting.
      const env = { ...process.env, ...settings };
      for (let i = 0; i < shape.verifiers; i++) children.push(await startRole(env, 'verifier'));
      children.push(await startRole(env, 'poller'));
      childCpuAtStart = children.reduce((n, c) => n + childCpuSeconds(c.pid!), 0);
    } else {
      if (PROFILE && !floor) await profiler.start();
      await startVerifier(ctx, floor ? floorHandlers(world, ({ at }) => floorDecisions.push(at)) : undefined);
      await startPoller(ctx);
    }
    // Drained: nothing waiting or active, and no new decision for a second. (A user who joins, leaves and
    // joins again within the same second is one join to Telegram's dates, so decisions ≤ joins.)
    let last = -1;
    let lastDecisionAt = 0;
    const settled = async () => {
      const now = await decided();
      if (now !== last || !(await drained())) {
        last = now;
        lastDecisionAt = Date.now();
        return false;
      }
      return Date.now() - lastDecisionAt >= 1_000;
    };
    await waitUntil(async () => (await decided()) > 0 && (await settled()), 300_000).catch(async (err) => {
      const outcomes = (await ctx.metrics.jobDuration.get()).values
        .filter((v) => v.metricName?.endsWith('_count'))
        .map((v) => `${v.labels.job}/${v.labels.outcome}=${v.value}`);
      const skipped = (await ctx.metrics.skippedUpdates.get()).values.map((v) => `${v.labels.reason}=${v.value}`);
      console.error('not drained:', {
        decided: await decided(),
        backlogJoins,
        outcomes,
        skipped,
        counts: await Promise.all(queues.map((q) => q.getJobCounts())),
      });
      throw err;
    });
    if (shape) {
      machine.stop();
      const childCpu = () => children.reduce((n, c) => n + childCpuSeconds(c.pid!), 0);
      const cpu = childCpu() - childCpuAtStart;
      const lastRow = await ctx.db.verificationLog.aggregate({ _max: { createdAt: true } });
      const end = lastRow._max.createdAt?.getTime() ?? lastDecisionAt;
      const throughput = backlogUpdates / ((end - (await firstPoll(sim, world.bots))) / 1000);
      // The second backlog, met by processes already warm: what the shape does once start-up is behind it.
      const heldSince = lastRow._max.createdAt ?? new Date(0);
      const decidedBefore = await decided();
      const held = await heldBacklog(simUrl, sim, world, 'Nezuko (compose shape)');
      // Read as the backlog is released (its burst before that leaves these processes idle); the drain's last
      // second, idle too, is in it.
      const childCpuAtRelease = childCpu();
      last = -1;
      await waitUntil(async () => (await decided()) > decidedBefore && (await settled()), 300_000);
      const runningCpu = childCpu() - childCpuAtRelease;
      const heldLast = await ctx.db.verificationLog.aggregate({
        where: { createdAt: { gt: heldSince } },
        _max: { createdAt: true },
      });
      const running = held.finish(heldLast._max.createdAt?.getTime() ?? lastDecisionAt);
      await Promise.all(children.map((c) => new Promise((resolve) => c.once('exit', resolve).kill('SIGTERM'))));
      return { throughput, backlogUpdates, cpu, running: { ...running, cpu: runningCpu } };
    }
    if (PROFILE && !floor) await profiler.stop('bench/profiles/pipeline-backlog.cpuprofile');
    // To the last decision, as for the plain bot: an update handed off to wait (a join another page was deciding,
    // say) may keep the queue busy after it without deciding anything.
    const lastAt = (await lastDecision({ rows: 0n, floor: 0 })) ?? lastDecisionAt;
    const backlogStart = await firstPoll(sim, world.bots);
    const throughput = backlogUpdates / ((lastAt - backlogStart) / 1000);
    const machineBusy = machine.busyBetween(backlogStart, lastAt);
    machine.stop();
    const firstAt = floor
      ? Math.min(...floorDecisions)
      : (await ctx.db.verificationLog.aggregate({ _min: { createdAt: true } }))._min.createdAt?.getTime();
    console.log(
      `${floor ? 'Nezuko floor' : 'Nezuko'} backlog: first decision ${(firstAt ?? NaN) - backlogStart} ms after the first getUpdates, last ${lastAt - backlogStart} ms, queue drained ${lastDecisionAt - backlogStart} ms`,
    );
    const backlogJobs = (await counted(ctx.metrics.updatesPolled)) - (await counted(ctx.metrics.updatesNotQueued));
    const backlogPages = (await ctx.metrics.jobDuration.get()).values
      .filter((v) => v.labels.job === 'page' && v.metricName?.endsWith('_count'))
      .reduce((n, v) => n + v.value, 0);
    // CPU of the two phases, not of the bench's own reading between and after them.
    const backlogCpu = cpuSeconds(cpuAtStart);
    const backlogTrips = roundTrips.read();
    const backlogDecisions = await decided();
    const timings = await jobTimings(queues, joins);

    // Throughput of the running system: a second backlog, released at once.
    const heldSince = {
      rows: (await ctx.db.verificationLog.aggregate({ _max: { id: true } }))._max.id ?? 0n,
      floor: floorDecisions.length,
    };
    const decidedBefore = await decided();
    const held = await heldBacklog(simUrl, sim, world, floor ? 'Nezuko floor' : 'Nezuko');
    if (PROFILE && !floor) await profiler.start();
    last = -1;
    await waitUntil(async () => (await decided()) > decidedBefore && (await settled()), 300_000);
    if (PROFILE && !floor) await profiler.stop('bench/profiles/pipeline-running.cpuprofile');
    const running = held.finish((await lastDecision(heldSince)) ?? lastDecisionAt);
    if (floor) return { throughput, backlogUpdates, cpu: backlogCpu, running };

    // Latency at a steady rate.
    await new Promise((r) => setTimeout(r, 1000));
    const sinceId = (await ctx.db.verificationLog.aggregate({ _max: { id: true } }))._max.id ?? 0n;
    joins.clear();
    const before = source.updates;
    const cpuAtSteady = process.cpuUsage();
    if (PROFILE) await profiler.start();
    await source.steady(RATE, SECONDS);
    source.stop();
    if (PROFILE) await profiler.stop('bench/profiles/pipeline-steady.cpuprofile');
    const steadyJoins = [...joins.values()].reduce((n, v) => n + v.length, 0);
    let lastCount = -1;
    let countStableSince = 0;
    await waitUntil(async () => {
      const count = await ctx.db.verificationLog.count({ where: { id: { gt: sinceId } } });
      if (count !== lastCount || !(await drained())) {
        lastCount = count;
        countStableSince = Date.now();
        return false;
      }
      return count > 0 && Date.now() - countStableSince >= 1_000;
    }, 120_000);
    const cpu = backlogCpu + cpuSeconds(cpuAtSteady);
    const serverCpu =
      (await redisCpuSeconds(ctx.redis)) -
      redisCpuAtStart +
      (await postgresCpuSeconds(database.url, databaseName).catch(() => NaN));
    const calls = (await telegramCalls(sim, world.bots)) - callsAtStart;
    const rows = await ctx.db.verificationLog.findMany({
      where: { id: { gt: sinceId } },
      select: { chatId: true, userId: true, createdAt: true, status: true, cached: true },
    });
    const lat = latencies(
      joins,
      rows.map((r) => ({ key: `${r.chatId}:${r.userId}`, at: r.createdAt.getTime() })),
    );
    for (const [label, pick] of [
      ['verified, cached', (r: (typeof rows)[number]) => r.status === 'verified' && r.cached],
      ['verified, asked Telegram', (r: (typeof rows)[number]) => r.status === 'verified' && !r.cached],
      ['restricted', (r: (typeof rows)[number]) => r.status === 'restricted'],
    ] as const) {
      const some = latencies(
        joins,
        rows.filter(pick).map((r) => ({ key: `${r.chatId}:${r.userId}`, at: r.createdAt.getTime() })),
      );
      console.log(`decisions ${label}: ${some.length}, p50 ${percentile(some, 50)} ms, p99 ${percentile(some, 99)} ms`);
    }
    const cache = (await ctx.metrics.membershipCache.get()).values;
    const hits = cache.filter((v) => v.labels.result === 'hit').reduce((s, v) => s + v.value, 0);
    const total = cache.reduce((s, v) => s + v.value, 0);
    const steadyTimings = await jobTimings(queues, joins);
    await Promise.all(queues.map((q) => q.close()));
    const callTimes = (await ctx.metrics.telegramCallDuration.get()).values;
    const byMethod: Record<string, { count: number; avgMs: number }> = {};
    for (const method of new Set(callTimes.map((v) => String(v.labels.method)))) {
      const sum = callTimes
        .filter((v) => v.labels.method === method && v.metricName?.endsWith('_sum'))
        .reduce((a, v) => a + v.value, 0);
      const count = callTimes
        .filter((v) => v.labels.method === method && v.metricName?.endsWith('_count'))
        .reduce((a, v) => a + v.value, 0);
      byMethod[method] = { count, avgMs: Math.round((sum / count) * 1000 * 10) / 10 };
    }
    console.log('telegram calls', byMethod);
    return {
      throughput,
      running,
      backlogUpdates,
      backlogJobs,
      backlogPages,
      p50: percentile(lat, 50),
      p99: percentile(lat, 99),
      decisions: lat.length,
      steadyJoins,
      offered: (source.updates - before) / SECONDS,
      cacheHitRate: total ? hits / total : 0,
      timings,
      steadyTimings,
      updates: source.updates,
      joins: backlogJoins + held.joins + steadyJoins,
      cpu,
      backlogCpu,
      machineBusy,
      serverCpu,
      calls,
      backlogDecisions,
      redisTrips: backlogTrips.redis - tripsAtStart.redis,
      postgresTrips: backlogTrips.postgres - tripsAtStart.postgres,
    };
  } finally {
    await ctx.lifecycle.shutdown('bench done', 15_000);
    await database.drop();
    await dropRedisPrefix(settings.REDIS_PREFIX);
  }
}

// ---------------------------------------------------------------- baseline: a plain Telegraf bot
type Call = (
  method: 'getChatMember' | 'restrictChatMember' | 'sendMessage' | 'deleteMessage',
  payload: object,
) => Promise<unknown>;
type Decided = (decision: { key: string; at: number }) => void;

/**
 * The plain bot's checks, whatever carries its calls: Telegraf's client in the baseline, Nezuko's BotApi (with
 * its policies) in the floor run. One bot's: a join or a message in one of its groups is checked against the
 * group's channels (answers kept in memory for as long as Nezuko caches them); a non-member is muted and prompted,
 * the message deleted. Nothing is recorded, nothing survives the process.
 */
function plainChecks(call: Call, channelsOf: Map<number, number[]>, decided: Decided) {
  const cache = new Map<string, { member: boolean; until: number }>();
  const missing = async (userId: number, channels: number[]) => {
    const out: number[] = [];
    await Promise.all(
      channels.map(async (channelId) => {
        const key = `${channelId}:${userId}`;
        const hit = cache.get(key);
        let member = hit && hit.until > Date.now() ? hit.member : undefined;
        if (member === undefined) {
          member = isMember(
            (await call('getChatMember', { chat_id: channelId, user_id: userId })) as ChatMember & {
              is_member?: boolean;
            },
          );
          cache.set(key, { member, until: Date.now() + (member ? 600_000 : 60_000) });
        }
        if (!member) out.push(channelId);
      }),
    );
    return out;
  };
  const mute = async (chatId: number, userId: number) => {
    await call('restrictChatMember', { chat_id: chatId, user_id: userId, permissions: { can_send_messages: false } });
    await call('sendMessage', {
      chat_id: chatId,
      text: 'Please join the channels first',
      reply_markup: { inline_keyboard: [[{ text: "I've joined", callback_data: `v:${userId}` }]] },
    });
  };
  return {
    async onChatMember(u: ChatMemberUpdated) {
      const channels = channelsOf.get(u.chat.id);
      if (!channels || isMember(u.old_chat_member as never) || !isMember(u.new_chat_member as never)) return;
      const userId = u.new_chat_member.user.id;
      if ((await missing(userId, channels)).length) await mute(u.chat.id, userId).catch(() => {});
      decided({ key: `${u.chat.id}:${userId}`, at: Date.now() });
    },
    async onMessage(m: Message) {
      const channels = channelsOf.get(m.chat.id);
      if (!channels || !m.from || 'new_chat_members' in m || 'left_chat_member' in m) return;
      if ((await missing(m.from.id, channels)).length) {
        await call('deleteMessage', { chat_id: m.chat.id, message_id: m.message_id }).catch(() => {});
        await mute(m.chat.id, m.from.id).catch(() => {});
      }
    },
  };
}

const channelsOfBot = (world: World, botId: number) =>
  new Map(world.groups.filter((g) => g.botId === botId).map((g) => [g.chatId, g.channels]));

/**
 * The floor under Nezuko's throughput: its whole pipeline (poller, page jobs, claims and done markers, BotApi with
 * its policies) carrying the plain bot's checks instead of its own handlers. Nezuko's handlers add the rest.
 */
function floorHandlers(world: World, decided: Decided): UpdateHandlers {
  const checksOf = new Map<number, ReturnType<typeof plainChecks>>();
  const checks = (job: BotJob) => {
    let found = checksOf.get(job.bot.id);
    if (!found) {
      const call: Call = (method, payload) => job.api.call(method, payload as never);
      checksOf.set(job.bot.id, (found = plainChecks(call, channelsOfBot(world, job.telegramBotId), decided)));
    }
    return found;
  };
  return {
    ...updateHandlers,
    page: (job, data, bullJob) =>
      onPage(job, data, bullJob, async (j, { update }) => {
        if ('chat_member' in update) await checks(j).onChatMember(update.chat_member as ChatMemberUpdated);
        else if ('message' in update) await checks(j).onMessage(update.message as Message);
      }),
  };
}

async function runPlainTelegraf(simUrl: string) {
  const sim = new SimClient(simUrl);
  const world = await buildWorld(sim);
  const decisions: Array<{ key: string; at: number }> = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const bots: Telegraf[] = [];
  for (const { id, token } of world.bots) {
    const bot = new Telegraf(token, { telegram: { apiRoot: simUrl } });
    // Same keep-alive sockets Nezuko gets: the comparison is about the architecture, not about TCP set-up.
    (bot.telegram as unknown as { options: { agent: unknown } }).options.agent = agent;
    const checks = plainChecks(
      (method, payload) => bot.telegram.callApi(method, payload as never),
      channelsOfBot(world, id),
      (decision) => decisions.push(decision),
    );
    bot.on('chat_member', (c) => checks.onChatMember(c.chatMember));
    bot.on('message', (c) => checks.onMessage(c.message));
    bot.catch(() => {});
    bots.push(bot);
  }

  const source = await startLoadGenerator(simUrl, world.groups);
  const { joins } = source;
  await source.burst(BACKLOG_EVENTS);
  const backlogUpdates = source.updates;
  const backlogJoins = [...joins.values()].reduce((n, v) => n + v.length, 0);
  const cpuAtStart = process.cpuUsage();
  const machine = machineCpuSampler();
  const callsAtStart = await telegramCalls(sim, world.bots);
  for (const bot of bots) void bot.launch({ allowedUpdates: ALLOWED as never });
  const pendingZero = async () =>
    (await Promise.all(world.bots.map((b) => sim.getBot(b.id)))).every((b) => b.pendingUpdates === 0);
  await waitUntil(async () => decisions.length >= backlogJoins * 0.98 && (await pendingZero()), 300_000);
  const backlogCpu = cpuSeconds(cpuAtStart);
  const backlogStart = await firstPoll(sim, world.bots);
  const lastDecision = Math.max(...decisions.map((d) => d.at));
  const throughput = backlogUpdates / ((lastDecision - backlogStart) / 1000);
  const machineBusy = machine.busyBetween(backlogStart, lastDecision);
  machine.stop();
  console.log(
    `plain backlog: first decision ${Math.min(...decisions.map((d) => d.at)) - backlogStart} ms after the first getUpdates, last ${lastDecision - backlogStart} ms`,
  );

  // Throughput of the running bot: a second backlog, released at once.
  const decidedBefore = decisions.length;
  const held = await heldBacklog(simUrl, sim, world, 'plain');
  await waitUntil(async () => decisions.length - decidedBefore >= held.joins * 0.98 && (await pendingZero()), 300_000);
  const running = held.finish(Math.max(...decisions.slice(decidedBefore).map((d) => d.at)));

  await new Promise((r) => setTimeout(r, 1000));
  joins.clear();
  decisions.length = 0;
  const before = source.updates;
  const cpuAtSteady = process.cpuUsage();
  await source.steady(RATE, SECONDS);
  source.stop();
  const steadyJoins = [...joins.values()].reduce((n, v) => n + v.length, 0);
  await waitUntil(() => decisions.length >= steadyJoins * 0.98, 120_000);
  const lat = latencies(joins, decisions);
  const cpu = backlogCpu + cpuSeconds(cpuAtSteady);
  const calls = (await telegramCalls(sim, world.bots)) - callsAtStart;
  for (const bot of bots) bot.stop('bench done');
  agent.destroy();
  return {
    throughput,
    running,
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    decisions: lat.length,
    steadyJoins,
    offered: (source.updates - before) / SECONDS,
    updates: source.updates,
    backlogUpdates,
    joins: backlogJoins + held.joins + steadyJoins,
    cpu,
    backlogCpu,
    machineBusy,
    calls,
  };
}

/** The figures of a backlog met while running (heldBacklog), CPU those processes' own. */
interface Running {
  throughput: number;
  updates: number;
  cpu: number;
  machineBusy: number;
}

/** Microseconds of CPU per update, from seconds of CPU spent on `updates`. */
const microsPerUpdate = (seconds: number, updates: number) => (seconds / updates) * 1e6;

/** A figure of ours against the baseline's, with their ratio. */
const versus = (figure: string, value: number, baseline: number, unit: string): Row => ({
  figure,
  value,
  baseline,
  unit,
  ratio: value / baseline,
});

/** The floor's rows (see floorHandlers) against the plain bot's. */
function floorRows(
  floor: { throughput: number; cpu: number; backlogUpdates: number; running: Running },
  plain: { throughput: number; backlogCpu: number; backlogUpdates: number; running: Running },
): Row[] {
  return [
    versus(
      "floor: Nezuko's pipeline carrying the plain bot's checks, cold backlog drained",
      floor.throughput,
      plain.throughput,
      'updates/s',
    ),
    versus(
      'floor: CPU per update of the cold backlog, this process',
      microsPerUpdate(floor.cpu, floor.backlogUpdates),
      microsPerUpdate(plain.backlogCpu, plain.backlogUpdates),
      'µs',
    ),
    ...runningRows('floor: ', 'this process', floor.running, plain.running),
  ];
}

/** Throughput, how busy the machine was and CPU per update of that backlog, `ours` against `theirs`. */
function runningRows(prefix: string, whose: string, ours: Running, theirs: Running): Row[] {
  const perUpdate = (r: Running) => microsPerUpdate(r.cpu, r.updates);
  return [
    versus(
      `${prefix}throughput, running system: a backlog released at once`,
      ours.throughput,
      theirs.throughput,
      'updates/s',
    ),
    {
      figure: `${prefix}machine busy during that backlog`,
      value: ours.machineBusy * 100,
      baseline: theirs.machineBusy * 100,
      unit: '%',
    },
    versus(`${prefix}CPU per update of that backlog, ${whose}`, perUpdate(ours), perUpdate(theirs), 'µs'),
  ];
}

type NezukoResult = Awaited<ReturnType<typeof runNezuko>>;

/** What a run's JSON records of its scenario and machine. */
const scenario = () => ({
  bots: BOTS,
  groupsPerBot: GROUPS_PER_BOT,
  usersPerGroup: USERS_PER_GROUP,
  rate: RATE,
  seconds: SECONDS,
  backlog: BACKLOG_EVENTS,
  baseline: 'plain Telegraf bot.launch(), same checks inline, same keep-alive agent',
  machine:
    'load average at the end: ' +
    os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' '),
});
type OneProcess = Extract<NezukoResult, { p99: number }>;

async function main() {
  if (!PLATFORM_NODE_FLAGS.every((flag) => process.execArgv.includes(flag)))
    console.warn(
      `not run with ${PLATFORM_NODE_FLAGS.join(' ')} (npm run bench:pipeline is): not the platform as it runs`,
    );
  const simulator = await simulatorProcess();
  try {
    console.log(
      `scenario: ${BOTS} bots × ${GROUPS_PER_BOT} groups × 2 channels, ${USERS_PER_GROUP} users per group; backlog ${BACKLOG_EVENTS} events, then ${RATE} updates/s for ${SECONDS} s`,
    );
    /** Runs one system's measurement and prints where the CPU went (this process vs. the simulator). */
    const measured = async <T>(label: string, run: () => Promise<T>): Promise<T> => {
      const own = process.cpuUsage();
      const sim = simulator.cpuSeconds();
      const loop = monitorEventLoopDelay({ resolution: 5 });
      loop.enable();
      const started = performance.now();
      const result = await run();
      const used = process.cpuUsage(own);
      loop.disable();
      const lag = (q: number) => (loop.percentile(q) / 1e6).toFixed(0);
      console.log(
        `${label}: ${((performance.now() - started) / 1000).toFixed(1)} s wall; CPU ${((used.user + used.system) / 1e6).toFixed(1)} s in this process, ${(simulator.cpuSeconds() - sim).toFixed(1)} s in the simulator; event-loop delay p50 ${lag(50)} ms, p99 ${lag(99)} ms, max ${(loop.max / 1e6).toFixed(0)} ms`,
      );
      return result;
    };
    const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
    const skipped = {
      throughput: NaN,
      running: { throughput: NaN, updates: NaN, cpu: NaN, machineBusy: NaN },
      backlogUpdates: NaN,
      backlogJobs: NaN,
      backlogPages: NaN,
      p50: NaN,
      p99: NaN,
      decisions: NaN,
      steadyJoins: NaN,
      offered: NaN,
      cacheHitRate: NaN,
      timings: undefined,
      steadyTimings: undefined,
      updates: NaN,
      joins: NaN,
      cpu: NaN,
      backlogCpu: NaN,
      machineBusy: NaN,
      serverCpu: NaN,
      calls: NaN,
      backlogDecisions: NaN,
      redisTrips: NaN,
      postgresTrips: NaN,
    };
    const plain = only === 'nezuko' ? skipped : await measured('plain Telegraf', () => runPlainTelegraf(simulator.url));
    const nezuko =
      only === 'plain' || FLOOR ? skipped : ((await measured('Nezuko', () => runNezuko(simulator.url))) as OneProcess);
    // The docker-compose shape on the same machine: one poller and two verifier processes.
    const compose = process.argv.includes('--compose')
      ? ((await measured(
          `Nezuko, 1 poller + ${COMPOSE_VERIFIERS} verifier process${COMPOSE_VERIFIERS === 1 ? '' : 'es'}`,
          () => runNezuko(simulator.url, { shape: { verifiers: COMPOSE_VERIFIERS } }),
        )) as Exclude<NezukoResult, OneProcess>)
      : undefined;
    // In Nezuko's place, so that its cold backlog meets cold code as Nezuko's does.
    const floor = FLOOR
      ? ((await measured('Nezuko floor (the plain checks in its pipeline)', () =>
          runNezuko(simulator.url, { floor: true }),
        )) as Exclude<NezukoResult, OneProcess>)
      : undefined;
    if (floor)
      return void report('pipeline-floor', floorRows(floor, plain), scenario(), {
        floor_throughput_ratio: floor.throughput / plain.throughput,
        floor_running_throughput_ratio: floor.running.throughput / plain.running.throughput,
        floor_running_cpu_ratio:
          floor.running.cpu / floor.running.updates / (plain.running.cpu / plain.running.updates),
      });
    // BullMQ's share: the same number of jobs through it with handlers that do nothing.
    let queueAlone = NaN;
    if (only !== 'plain') {
      const config = loadConfig({ ...process.env, LOG_TO_FILE: 'false' });
      const { totalMs } = await noopJobs({
        redisUrl: config.REDIS_URL,
        jobs: nezuko.backlogPages,
        updatesPerPage: Math.round(nezuko.backlogJobs / nezuko.backlogPages),
        queues: BOTS,
        concurrency: config.VERIFIER_CONCURRENCY,
      });
      queueAlone = nezuko.backlogUpdates / (totalMs / 1000);
      console.log(
        `backlog: ${nezuko.backlogUpdates} updates, ${nezuko.backlogJobs} of them queued, in ${nezuko.backlogPages} pages; as many pages of as many updates through BullMQ with no-op handlers: ${(totalMs / 1000).toFixed(2)} s`,
      );
    }
    const cpuPerUpdate = {
      nezuko: microsPerUpdate(nezuko.cpu, nezuko.updates),
      withServers: microsPerUpdate(nezuko.cpu + nezuko.serverCpu, nezuko.updates),
      plain: microsPerUpdate(plain.cpu, plain.updates),
    };
    const callsPerJoin = { nezuko: nezuko.calls / nezuko.joins, plain: plain.calls / plain.joins };
    console.log(
      `CPU, backlog + steady: Nezuko ${nezuko.cpu.toFixed(1)} s (+ ${nezuko.serverCpu.toFixed(1)} s Redis and PostgreSQL) for ${nezuko.updates} updates; plain ${plain.cpu.toFixed(1)} s for ${plain.updates}`,
    );
    console.log(
      `round trips, backlog: Redis ${nezuko.redisTrips}, PostgreSQL ${nezuko.postgresTrips} for ${nezuko.backlogDecisions} decisions (${nezuko.backlogJobs} updates queued)`,
    );
    const rows: Row[] = [
      versus('throughput (backlog drained)', nezuko.throughput, plain.throughput, 'updates/s'),
      ...runningRows('', 'this process', nezuko.running, plain.running),
      versus('the queue alone: as many pages, no-op handlers', queueAlone, plain.throughput, 'updates/s'),
      // Near 100 % for both, the throughput ratio is the ratio of what each spends per update on the whole machine.
      {
        figure: 'machine busy during the backlog (all processes, all cores)',
        value: nezuko.machineBusy * 100,
        baseline: plain.machineBusy * 100,
        unit: '%',
      },
      { figure: `p50 creation→decision at ${RATE}/s`, value: nezuko.p50, baseline: plain.p50, unit: 'ms' },
      { figure: `p99 creation→decision at ${RATE}/s`, value: nezuko.p99, baseline: plain.p99, unit: 'ms' },
      { figure: 'offered rate', value: nezuko.offered, baseline: plain.offered, unit: 'updates/s' },
      { figure: 'join decisions measured', value: nezuko.decisions, baseline: plain.decisions, unit: '' },
      { figure: 'membership cache hit rate', value: nezuko.cacheHitRate * 100, unit: '%' },
      ...(compose
        ? [
            versus(
              `docker-compose shape (1 poller + ${COMPOSE_VERIFIERS} verifier${COMPOSE_VERIFIERS === 1 ? '' : 's'}) ÷ one process: throughput`,
              compose.throughput,
              nezuko.throughput,
              'updates/s',
            ),
            {
              figure: 'docker-compose shape: CPU per backlog update, all its processes',
              value: microsPerUpdate(compose.cpu, compose.backlogUpdates),
              unit: 'µs',
            },
            ...runningRows(
              'docker-compose shape ÷ one process: ',
              'all its processes',
              compose.running,
              nezuko.running,
            ),
          ]
        : []),
      versus('CPU per update (backlog + steady), this process', cpuPerUpdate.nezuko, cpuPerUpdate.plain, 'µs'),
      versus(
        'the same, with Redis (whole server) and our PostgreSQL backends',
        cpuPerUpdate.withServers,
        cpuPerUpdate.plain,
        'µs',
      ),
      versus(
        'CPU per update, backlog phase only, this process',
        microsPerUpdate(nezuko.backlogCpu, nezuko.backlogUpdates),
        microsPerUpdate(plain.backlogCpu, plain.backlogUpdates),
        'µs',
      ),
      versus(
        'CPU per update, steady phase only, this process',
        microsPerUpdate(nezuko.cpu - nezuko.backlogCpu, nezuko.updates - nezuko.backlogUpdates),
        microsPerUpdate(plain.cpu - plain.backlogCpu, plain.updates - plain.backlogUpdates),
        'µs',
      ),
      versus('Telegram calls per join (getUpdates left out)', callsPerJoin.nezuko, callsPerJoin.plain, ''),
      {
        figure: `Redis round trips per decided update (backlog; before issue 16: ${REDIS_TRIPS_BEFORE})`,
        value: nezuko.redisTrips / nezuko.backlogDecisions,
        unit: '',
      },
      { figure: 'Redis round trips per update (backlog)', value: nezuko.redisTrips / nezuko.backlogUpdates, unit: '' },
      {
        figure: `PostgreSQL round trips per decided update (backlog; before issue 16: ${POSTGRES_TRIPS_BEFORE})`,
        value: nezuko.postgresTrips / nezuko.backlogDecisions,
        unit: '',
      },
    ];
    if (nezuko.timings) console.log('nezuko job timings (ms): backlog', nezuko.timings, 'steady', nezuko.steadyTimings);
    report('pipeline', rows, scenario(), {
      throughput_ratio: nezuko.throughput / plain.throughput,
      cpu_ratio: cpuPerUpdate.nezuko / cpuPerUpdate.plain,
      cpu_ratio_with_servers: cpuPerUpdate.withServers / cpuPerUpdate.plain,
      p50_ms: nezuko.p50,
      p99_ms: nezuko.p99,
      calls_per_join_ratio: callsPerJoin.nezuko / callsPerJoin.plain,
      redis_round_trips_per_decided_update: nezuko.redisTrips / nezuko.backlogDecisions,
      postgres_round_trips_per_decided_update: nezuko.postgresTrips / nezuko.backlogDecisions,
    });
  } finally {
    await simulator.stop();
  }
}

runBench(main);
