/**
 * npm run bench:pipeline [-- --bots 4 --rate 1000 --seconds 15 --backlog 6000]
 *
 * The same mixed scenario (joins, leaves, messages; most joiners subscribed and, after their first visit,
 * cached) against two systems talking to the same simulator:
 *   - Nezuko: poller → per-bot BullMQ queues → verifier workers, on real Redis and PostgreSQL;
 *   - baseline: a plain single-process Telegraf bot (`bot.launch()`) doing the same checks inline.
 * Throughput: a backlog of updates, drained, timed from each system's first getUpdates to its last decision
 * (start-up is not throughput); with it, the same number of jobs through BullMQ with no-op handlers, the
 * queue's own cost on this machine. Latency: a steady rate, from the moment an event is created in the
 * simulator to the decision (mute+prompt or verified). The load comes from a process of its own
 * (pipeline-load.ts), so neither system shares its event loop with the generator.
 */
import http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { Telegraf } from 'telegraf';
import type { ChatMember } from 'telegraf/types';
import { registerBot } from '../../services/core/bots';
import { loadConfig } from '../../services/core/config';
import { createContext, type AppContext } from '../../services/core/context';
import { createLogger } from '../../services/core/logger';
import { startPoller } from '../../services/poller';
import { startVerifier } from '../../services/verifier';
import { isMember } from '../../services/core/telegram/membership';
import { openQueue, updatesQueue, type JobQueue } from '../../queues';
import { SimClient } from '../../sim/client';
import { noopJobs } from './ceiling';
import { startLoadGenerator } from './pipeline-load';
import { benchDatabase, percentile, report, simulatorProcess, type Row } from './support';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const BOTS = arg('bots', 4);
const GROUPS_PER_BOT = arg('groups', 5);
const USERS_PER_GROUP = arg('users', 60);
const RATE = arg('rate', 1000);
const SECONDS = arg('seconds', 15);
const BACKLOG_EVENTS = arg('backlog', 6000);
/** Share of users not subscribed to every channel (kept low: prompts are paced at 20/min per group). */
const NON_SUBSCRIBED = 0.01;
const ALLOWED = ['message', 'callback_query', 'chat_member', 'my_chat_member', 'chat_join_request'];

interface Group {
  botId: number;
  chatId: number;
  channels: number[];
  users: number[];
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
      const subscribed = ids.filter(() => Math.random() >= NON_SUBSCRIBED);
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
      world.groups.push({ botId: bot.id, chatId: group.id, channels, users: ids });
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
  const poll = sorted(
    jobs.flatMap((j) => {
      // Other jobs on the queue (prompt senders, deletions) carry no update.
      const member = (
        j.data.update as
          | { chat_member?: { chat: { id: number }; new_chat_member: { user: { id: number }; status: string } } }
          | undefined
      )?.chat_member;
      if (!member || member.new_chat_member.status !== 'member') return [];
      const at = (joins.get(`${member.chat.id}:${member.new_chat_member.user.id}`) ?? [])
        .filter((t) => t <= j.timestamp)
        .at(-1);
      return at === undefined ? [] : [j.timestamp - at];
    }),
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

// ---------------------------------------------------------------- Nezuko
async function runNezuko(simUrl: string) {
  const sim = new SimClient(simUrl);
  const world = await buildWorld(sim);
  const database = await benchDatabase('pipeline');
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: database.url,
    REDIS_PREFIX: `bench${randomBytes(3).toString('hex')}`,
    TELEGRAM_API_ROOT: simUrl,
    TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'error',
    LOG_TO_FILE: 'false',
  });
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
    const queues = instanceIds.map((id) =>
      openQueue(updatesQueue(id), { connection: ctx.redis, prefix: config.REDIS_PREFIX }),
    );
    const counted = async (counter: { get(): Promise<{ values: Array<{ value: number }> }> }) =>
      (await counter.get()).values.reduce((n, v) => n + v.value, 0);
    const decided = () => counted(ctx.metrics.verifications);
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
    await startVerifier(ctx);
    await startPoller(ctx);
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
    const throughput = backlogUpdates / ((lastDecisionAt - (await firstPoll(sim, world.bots))) / 1000);
    const backlogJobs = (await counted(ctx.metrics.updatesPolled)) - (await counted(ctx.metrics.updatesNotQueued));
    const timings = await jobTimings(queues, joins);

    // Latency at a steady rate.
    await new Promise((r) => setTimeout(r, 1000));
    const sinceId = (await ctx.db.verificationLog.aggregate({ _max: { id: true } }))._max.id ?? 0n;
    joins.clear();
    const before = source.updates;
    await source.steady(RATE, SECONDS);
    source.stop();
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
    const calls = (await ctx.metrics.telegramCallDuration.get()).values;
    const byMethod: Record<string, { count: number; avgMs: number }> = {};
    for (const method of new Set(calls.map((v) => String(v.labels.method)))) {
      const sum = calls
        .filter((v) => v.labels.method === method && v.metricName?.endsWith('_sum'))
        .reduce((a, v) => a + v.value, 0);
      const count = calls
        .filter((v) => v.labels.method === method && v.metricName?.endsWith('_count'))
        .reduce((a, v) => a + v.value, 0);
      byMethod[method] = { count, avgMs: Math.round((sum / count) * 1000 * 10) / 10 };
    }
    console.log('telegram calls', byMethod);
    return {
      throughput,
      backlogUpdates,
      backlogJobs,
      p50: percentile(lat, 50),
      p99: percentile(lat, 99),
      decisions: lat.length,
      steadyJoins,
      offered: (source.updates - before) / SECONDS,
      cacheHitRate: total ? hits / total : 0,
      timings,
      steadyTimings,
    };
  } finally {
    await ctx.lifecycle.shutdown('bench done', 15_000);
    await database.drop();
  }
}

// ---------------------------------------------------------------- baseline: a plain Telegraf bot
async function runPlainTelegraf(simUrl: string) {
  const sim = new SimClient(simUrl);
  const world = await buildWorld(sim);
  const decisions: Array<{ key: string; at: number }> = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const bots: Telegraf[] = [];
  for (const { id, token } of world.bots) {
    const channelsOf = new Map(world.groups.filter((g) => g.botId === id).map((g) => [g.chatId, g.channels]));
    const cache = new Map<string, { member: boolean; until: number }>();
    const bot = new Telegraf(token, { telegram: { apiRoot: simUrl } });
    // Same keep-alive sockets Nezuko gets: the comparison is about the architecture, not about TCP set-up.
    (bot.telegram as unknown as { options: { agent: unknown } }).options.agent = agent;
    const missing = async (userId: number, channels: number[]) => {
      const out: number[] = [];
      await Promise.all(
        channels.map(async (channelId) => {
          const key = `${channelId}:${userId}`;
          const hit = cache.get(key);
          let member = hit && hit.until > Date.now() ? hit.member : undefined;
          if (member === undefined) {
            member = isMember(
              (await bot.telegram.getChatMember(channelId, userId)) as ChatMember & { is_member?: boolean },
            );
            cache.set(key, { member, until: Date.now() + (member ? 600_000 : 60_000) });
          }
          if (!member) out.push(channelId);
        }),
      );
      return out;
    };
    const mute = async (chatId: number, userId: number) => {
      await bot.telegram.restrictChatMember(chatId, userId, { permissions: { can_send_messages: false } });
      await bot.telegram.sendMessage(chatId, 'Please join the channels first', {
        reply_markup: { inline_keyboard: [[{ text: "I've joined", callback_data: `v:${userId}` }]] },
      });
    };
    bot.on('chat_member', async (c) => {
      const u = c.chatMember;
      const channels = channelsOf.get(u.chat.id);
      if (!channels || isMember(u.old_chat_member as never) || !isMember(u.new_chat_member as never)) return;
      const userId = u.new_chat_member.user.id;
      if ((await missing(userId, channels)).length) await mute(u.chat.id, userId).catch(() => {});
      decisions.push({ key: `${u.chat.id}:${userId}`, at: Date.now() });
    });
    bot.on('message', async (c) => {
      const channels = channelsOf.get(c.chat.id);
      if (!channels || !c.from || 'new_chat_members' in c.message || 'left_chat_member' in c.message) return;
      if ((await missing(c.from.id, channels)).length) {
        await c.deleteMessage().catch(() => {});
        await mute(c.chat.id, c.from.id).catch(() => {});
      }
    });
    bot.catch(() => {});
    bots.push(bot);
  }

  const source = await startLoadGenerator(simUrl, world.groups);
  const { joins } = source;
  await source.burst(BACKLOG_EVENTS);
  const backlogUpdates = source.updates;
  const backlogJoins = [...joins.values()].reduce((n, v) => n + v.length, 0);
  for (const bot of bots) void bot.launch({ allowedUpdates: ALLOWED as never });
  const pendingZero = async () =>
    (await Promise.all(world.bots.map((b) => sim.getBot(b.id)))).every((b) => b.pendingUpdates === 0);
  await waitUntil(async () => decisions.length >= backlogJoins * 0.98 && (await pendingZero()), 300_000);
  const throughput =
    backlogUpdates / ((Math.max(...decisions.map((d) => d.at)) - (await firstPoll(sim, world.bots))) / 1000);

  await new Promise((r) => setTimeout(r, 1000));
  joins.clear();
  decisions.length = 0;
  const before = source.updates;
  await source.steady(RATE, SECONDS);
  source.stop();
  const steadyJoins = [...joins.values()].reduce((n, v) => n + v.length, 0);
  await waitUntil(() => decisions.length >= steadyJoins * 0.98, 120_000);
  const lat = latencies(joins, decisions);
  for (const bot of bots) bot.stop('bench done');
  agent.destroy();
  return {
    throughput,
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    decisions: lat.length,
    steadyJoins,
    offered: (source.updates - before) / SECONDS,
  };
}

async function main() {
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
      backlogUpdates: NaN,
      backlogJobs: NaN,
      p50: NaN,
      p99: NaN,
      decisions: NaN,
      steadyJoins: NaN,
      offered: NaN,
      cacheHitRate: NaN,
      timings: undefined,
      steadyTimings: undefined,
    };
    const plain = only === 'nezuko' ? skipped : await measured('plain Telegraf', () => runPlainTelegraf(simulator.url));
    const nezuko = only === 'plain' ? skipped : await measured('Nezuko', () => runNezuko(simulator.url));
    // The floor under Nezuko's throughput: the same number of jobs through BullMQ with handlers that do nothing.
    let queueAlone = NaN;
    if (only !== 'plain') {
      const config = loadConfig({ ...process.env, LOG_TO_FILE: 'false' });
      const { totalMs } = await noopJobs({
        redisUrl: config.REDIS_URL,
        jobs: nezuko.backlogJobs,
        queues: BOTS,
        concurrency: config.VERIFIER_CONCURRENCY,
      });
      queueAlone = nezuko.backlogUpdates / (totalMs / 1000);
      console.log(
        `backlog: ${nezuko.backlogUpdates} updates, ${nezuko.backlogJobs} of them queued as jobs; the same jobs through BullMQ with no-op handlers: ${(totalMs / 1000).toFixed(2)} s`,
      );
    }
    const rows: Row[] = [
      {
        figure: 'throughput (backlog drained)',
        value: nezuko.throughput,
        baseline: plain.throughput,
        unit: 'updates/s',
        ratio: nezuko.throughput / plain.throughput,
      },
      {
        figure: 'the queue alone: same jobs, no-op handlers',
        value: queueAlone,
        baseline: plain.throughput,
        unit: 'updates/s',
        ratio: queueAlone / plain.throughput,
      },
      // An estimate: handlers as cheap as the plain bot's whole work would still add the queue's cost to it.
      {
        figure: "bound: plain bot's work + the queue alone",
        value: 1 / (1 / plain.throughput + 1 / queueAlone),
        baseline: plain.throughput,
        unit: 'updates/s',
        ratio: 1 / (1 + plain.throughput / queueAlone),
      },
      { figure: `p50 creation→decision at ${RATE}/s`, value: nezuko.p50, baseline: plain.p50, unit: 'ms' },
      { figure: `p99 creation→decision at ${RATE}/s`, value: nezuko.p99, baseline: plain.p99, unit: 'ms' },
      { figure: 'offered rate', value: nezuko.offered, baseline: plain.offered, unit: 'updates/s' },
      { figure: 'join decisions measured', value: nezuko.decisions, baseline: plain.decisions, unit: '' },
      { figure: 'membership cache hit rate', value: nezuko.cacheHitRate * 100, unit: '%' },
    ];
    if (nezuko.timings) console.log('nezuko job timings (ms): backlog', nezuko.timings, 'steady', nezuko.steadyTimings);
    report('pipeline', rows, {
      bots: BOTS,
      groupsPerBot: GROUPS_PER_BOT,
      usersPerGroup: USERS_PER_GROUP,
      rate: RATE,
      seconds: SECONDS,
      backlog: BACKLOG_EVENTS,
      baseline: 'plain Telegraf bot.launch(), same checks inline, same keep-alive agent',
    });
  } finally {
    await simulator.stop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
