/**
 * Admin API benchmark: npm run bench:api
 *
 * Seeds a throw-away database with 1,000,000 verification rows (bulk unnest() inserts), 20 bots and 2,000
 * groups, runs the maintenance rollup and dashboard snapshot once, starts the API role in a child process
 * (so the load generator does not share its event loop), then drives it with autocannon at 100 connections:
 * dashboard stats, a group search and a deep verifications page. In the same run it times the live
 * aggregation query that would compute the dashboard figures from the log, and prints the ratios: dashboard
 * request and live query each one at a time (like for like), and throughput. Each run also reports the API
 * process's CPU per request and how busy the machine was, since on a shared 2-core box the latency under
 * load mostly measures the wait for a core.
 * Targets on a 2-core machine: dashboard p99 ≤ 20 ms, list/search p99 ≤ 50 ms, ratio ≥ 50×.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { createRequire } from 'node:module';
import pg from 'pg';
import { loadConfig } from '../../services/core/config';
import { createContext } from '../../services/core/context';
import { encryptSecret, hashToken } from '../../services/core/crypto';
import { createLogger } from '../../services/core/logger';
import { writeDashboard } from '../../services/maintenance/dashboard';
import { rollupAll } from '../../services/maintenance/rollup';
import { report } from './support';

interface CannonResult {
  requests: { average: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
}
// autocannon ships no types; the little used here is declared locally.
const autocannon = createRequire(import.meta.url)('autocannon') as (
  options: { url: string; connections: number; duration: number; headers: Record<string, string>; title: string },
  done: (err: Error | null, result: CannonResult) => void,
) => unknown;

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const BATCH = 100_000;
const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = 100;
const base = process.env.DATABASE_URL ?? 'postgresql://postgres:postgres@127.0.0.1:5432/nezuko';

const dbUrl = (name: string) => {
  const u = new URL(base);
  u.pathname = `/${name}`;
  return u.toString();
};

async function adminQuery(sql: string) {
  const client = new pg.Client({ connectionString: dbUrl('postgres') });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });

async function createDatabase(name: string) {
  // The test template is already migrated; otherwise migrate a fresh database.
  const template = await adminQuery(`SELECT 1 FROM pg_database WHERE datname = 'nezuko_test_template'`);
  if (template.rowCount) {
    await adminQuery(`CREATE DATABASE "${name}" TEMPLATE nezuko_test_template`);
    return;
  }
  await adminQuery(`CREATE DATABASE "${name}"`);
  const { execFileSync } = await import('node:child_process');
  execFileSync('npx', ['prisma', 'migrate', 'deploy'], {
    env: { ...process.env, DATABASE_URL: dbUrl(name) },
    stdio: 'ignore',
  });
}

const WORDS = [
  'crypto',
  'traders',
  'football',
  'news',
  'python',
  'devs',
  'music',
  'travel',
  'anime',
  'chess',
  'berlin',
  'moscow',
  'gaming',
  'art',
  'cats',
];

async function seed(client: pg.Client, key: Buffer) {
  const bots = 20;
  for (let b = 1; b <= bots; b++) {
    await client.query(
      `INSERT INTO bot_instances (id, telegram_bot_id, username, name, token_encrypted, status, is_active) VALUES ($1, $2, $3, $4, $5, 'running', true)`,
      [
        b,
        7_000_000 + b,
        `bench_bot_${b}`,
        `Bench ${b}`,
        encryptSecret(`${7_000_000 + b}:${randomBytes(24).toString('base64url')}`, key),
      ],
    );
  }
  await client.query(`SELECT setval('bot_instances_id_seq', ${bots})`);
  const groups = 2_000;
  const chatIds: bigint[] = [];
  const g = { bot: [] as number[], chat: [] as string[], title: [] as string[], enabled: [] as boolean[] };
  for (let i = 0; i < groups; i++) {
    const chat = -1_001_000_000_000n - BigInt(i);
    chatIds.push(chat);
    g.bot.push(1 + (i % bots));
    g.chat.push(chat.toString());
    g.title.push(`${WORDS[i % WORDS.length]} ${WORDS[(i * 7) % WORDS.length]} group ${i}`);
    g.enabled.push(i % 4 !== 0);
  }
  await client.query(
    `INSERT INTO protected_groups (bot_instance_id, chat_id, title, enabled) SELECT * FROM unnest($1::int[], $2::bigint[], $3::text[], $4::bool[])`,
    [g.bot, g.chat, g.title, g.enabled],
  );
  const statuses = [
    'verified',
    'verified',
    'verified',
    'restricted',
    'restricted',
    'approved',
    'declined',
    'skipped',
    'skipped',
    'error',
  ];
  const now = Date.now();
  for (let done = 0; done < ROWS; done += BATCH) {
    const n = Math.min(BATCH, ROWS - done);
    const bot = new Array<number>(n);
    const chat = new Array<string>(n);
    const user = new Array<string>(n);
    const status = new Array<string>(n);
    const latency = new Array<number>(n);
    const cached = new Array<boolean>(n);
    const errorType = new Array<string | null>(n);
    const at = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      const gi = Math.floor(Math.random() * groups);
      bot[i] = 1 + (gi % bots);
      chat[i] = chatIds[gi]!.toString();
      user[i] = String(100_000 + Math.floor(Math.random() * 300_000));
      status[i] = statuses[Math.floor(Math.random() * statuses.length)]!;
      latency[i] = Math.floor(Math.random() ** 3 * 3000);
      cached[i] = Math.random() < 0.6;
      errorType[i] = status[i] === 'error' ? 'timeout' : null;
      // Spread over the last 30 days, ordered by id like the real log.
      at[i] = new Date(now - 30 * 86_400_000 + ((done + i) / ROWS) * 30 * 86_400_000).toISOString();
    }
    await client.query(
      `INSERT INTO verification_log (bot_instance_id, chat_id, user_id, status, latency_ms, cached, error_type, created_at)
       SELECT * FROM unnest($1::int[], $2::bigint[], $3::bigint[], $4::text[], $5::int[], $6::bool[], $7::text[], $8::timestamptz[])`,
      [bot, chat, user, status, latency, cached, errorType, at],
    );
    process.stdout.write(`\r  seeded ${done + n} verification rows`);
  }
  process.stdout.write('\n');
  await client.query('ANALYZE');
}

/** What the dashboard shows, computed straight from the log: the query the API never runs on a request. */
const LIVE_AGGREGATION = `
  WITH bounds AS (SELECT date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS today)
  SELECT
    count(*) AS total,
    count(*) FILTER (WHERE status = 'verified') AS verified,
    count(*) FILTER (WHERE status = 'restricted') AS restricted,
    count(*) FILTER (WHERE status = 'error') AS errors,
    count(*) FILTER (WHERE cached) AS cache_hits,
    avg(latency_ms) AS avg_latency,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50,
    percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms) AS p99,
    count(*) FILTER (WHERE created_at >= (SELECT today FROM bounds)) AS today,
    count(*) FILTER (WHERE created_at >= now() - interval '24 hours') AS last24h,
    count(*) FILTER (WHERE created_at >= now() - interval '7 days') AS last7d
  FROM verification_log`;

function run(
  url: string,
  token: string,
  title: string,
  connections = CONNECTIONS,
  duration = DURATION_S,
): Promise<CannonResult> {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections, duration, headers: { authorization: `Bearer ${token}` }, title }, (err, result) =>
      err ? reject(err) : resolve(result),
    );
  });
}

/**
 * CPU time of a process and how busy the whole machine was, from /proc (Linux; null elsewhere). On a shared
 * 2-core machine a latency under load says as much about the neighbours as about the API: CPU per request and
 * the machine's busy share make a run readable.
 */
const CLOCK_TICKS_PER_S = 100;
function processCpuMs(pid: number): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
  } catch {
    return null;
  }
}
function machineTicks(): { busy: number; total: number } | null {
  try {
    const t = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = t.reduce((a, b) => a + b, 0);
    return { busy: total - t[3]! - t[4]!, total };
  } catch {
    return null;
  }
}

interface Measured {
  label: string;
  reqs: number;
  p50: number;
  p99: number;
  target: number;
  non2xx: number;
  /** API process CPU per request (µs). */
  cpuUsPerReq: number | null;
  /** Share of both cores busy during the run (everything on the machine), %. */
  machineBusy: number | null;
}

async function measure(
  label: string,
  url: string,
  token: string,
  target: number,
  pid: number,
  connections = CONNECTIONS,
  duration = DURATION_S,
): Promise<Measured> {
  const cpu0 = processCpuMs(pid);
  const m0 = machineTicks();
  const r = await run(url, token, label, connections, duration);
  const cpu1 = processCpuMs(pid);
  const m1 = machineTicks();
  const n = r.requests.average * duration;
  return {
    label,
    reqs: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    target,
    non2xx: r.non2xx + r.errors,
    cpuUsPerReq: cpu0 !== null && cpu1 !== null && n > 0 ? ((cpu1 - cpu0) * 1000) / n : null,
    machineBusy: m0 && m1 ? (100 * (m1.busy - m0.busy)) / Math.max(1, m1.total - m0.total) : null,
  };
}

/** The same load against a no-op Express route in a process of its own: the floor under every API figure here. */
async function measureExpressFloor(): Promise<Measured> {
  const floor = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench/express-floor.ts'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      floor.stdout!.on('data', (d: Buffer) => {
        const m = /listening on (\d+)/.exec(String(d));
        if (m) resolve(Number(m[1]));
      });
      floor.once('exit', (code) => reject(new Error(`express floor exited with ${code}`)));
    });
    return await measure('floor: no-op Express route', `http://127.0.0.1:${port}/floor`, '', 0, floor.pid!);
  } finally {
    floor.kill('SIGTERM');
  }
}

async function main() {
  // BENCH_DATABASE=<name> reuses a database seeded by an earlier run with BENCH_KEEP_DB=1 (iterating without reseeding).
  const reuse = process.env.BENCH_DATABASE;
  const keep = Boolean(reuse) || process.env.BENCH_KEEP_DB === '1';
  const name = reuse ?? `nezuko_bench_api_${randomBytes(3).toString('hex')}`;
  const prefix = `benchapi${randomBytes(3).toString('hex')}`;
  const key = reuse ? Buffer.from(process.env.BENCH_KEY ?? '', 'hex') : randomBytes(32);
  if (reuse && key.length !== 32)
    throw new Error('BENCH_DATABASE needs BENCH_KEY (printed by the BENCH_KEEP_DB=1 run)');
  if (!reuse) {
    console.log(`database ${name}: seeding ${ROWS.toLocaleString()} verification rows…`);
    await createDatabase(name);
  }
  const url = dbUrl(name);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let child: ReturnType<typeof spawn> | undefined;
  try {
    if (!reuse) {
      const t0 = performance.now();
      await seed(client, key);
      console.log(`  seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      if (keep) console.log(`  kept: BENCH_DATABASE=${name} BENCH_KEY=${key.toString('hex')}`);
    }

    const env = {
      DATABASE_URL: url,
      REDIS_PREFIX: prefix,
      TOKEN_ENCRYPTION_KEY: key.toString('hex'),
      LOG_TO_FILE: 'false',
      LOG_LEVEL: 'warn',
    };
    const config = loadConfig({ ...process.env, ...env });
    const ctx = await createContext(config, createLogger({ level: 'warn' }));
    const t1 = performance.now();
    await rollupAll(ctx.db, { settleTimeoutMs: 5_000 });
    await writeDashboard(ctx);
    console.log(
      `  rollup + dashboard snapshot in ${((performance.now() - t1) / 1000).toFixed(1)} s (maintenance role's work, off the request path)`,
    );
    const token = `nzk_bench_${randomBytes(16).toString('hex')}`;
    await ctx.db.apiToken.create({
      data: { name: 'bench', role: 'viewer', tokenHash: hashToken(token), tokenPrefix: token.slice(0, 10) },
    });

    // The live aggregation, timed in the same run (median of 5).
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s = performance.now();
      await client.query(LIVE_AGGREGATION);
      times.push(performance.now() - s);
    }
    times.sort((a, b) => a - b);
    const liveMs = times[2]!;

    const port = await freePort();
    child = spawn(process.execPath, ['--import', 'tsx', 'services/main.ts'], {
      env: { ...process.env, ...env, ROLES: 'api', API_PORT: String(port), API_HOST: '127.0.0.1' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const origin = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      const ok = await fetch(`${origin}/ready`)
        .then((r) => r.ok)
        .catch(() => false);
      if (ok) break;
      if (i > 200) throw new Error('API did not become ready');
      await new Promise((r) => setTimeout(r, 100));
    }
    const { max } = (await client.query(`SELECT max(id)::text AS max FROM verification_log`)).rows[0] as {
      max: string;
    };
    const middle = BigInt(max) / 2n;
    // The search matches the 'art traders group …' titles: about 130 of the 2,000 groups, a full page of 20.
    const targets = [
      { label: 'dashboard stats', path: '/api/v1/stats/dashboard', p99Target: 20 },
      { label: 'group search (full-text, cached)', path: '/api/v1/groups?q=art%20trad&per_page=20', p99Target: 50 },
      {
        label: 'verifications page (keyset, deep cursor)',
        path: `/api/v1/verifications?limit=50&bot_id=3&cursor=${middle}`,
        p99Target: 50,
      },
    ];
    const pid = child.pid!;
    const results: Measured[] = [];
    for (const t of targets) {
      // Warm-up (connection pools, JIT, first cache fill).
      const warm = await fetch(`${origin}${t.path}`, { headers: { authorization: `Bearer ${token}` } });
      if (!warm.ok) throw new Error(`${t.path} answered ${warm.status}`);
      await warm.arrayBuffer();
      results.push(await measure(t.label, `${origin}${t.path}`, token, t.p99Target, pid));
    }
    // The live query is timed alone, one at a time: so is this, for a like-for-like latency ratio.
    const alone = await measure(
      'dashboard stats, one connection',
      `${origin}${targets[0]!.path}`,
      token,
      20,
      pid,
      1,
      Math.min(DURATION_S, 5),
    );
    const floor = await measureExpressFloor();
    await new Promise((r) => setTimeout(r, 1_000));
    await ctx.lifecycle.shutdown('bench done', 5_000);

    const dashboard = results[0]!;
    console.log(
      `\nAPI at ${CONNECTIONS} connections, ${DURATION_S} s each (${ROWS.toLocaleString()} verification rows, ${os.cpus().length} cores, load average ${os.loadavg()[0]!.toFixed(1)} at the end):`,
    );
    console.log(
      '  endpoint                                     req/s     p50 ms   p99 ms   target p99   errors   API CPU/req   machine busy',
    );
    const cell = (v: number | null, unit: string, width: number) =>
      (v === null ? 'n/a' : `${v.toFixed(0)} ${unit}`).padStart(width);
    for (const r of [...results, alone, floor]) {
      const verdict =
        r === alone || r === floor
          ? ''.padEnd(16)
          : `≤ ${String(r.target).padStart(3)} ms ${r.p99 <= r.target ? 'ok  ' : 'MISS'}`;
      console.log(
        `  ${r.label.padEnd(42)} ${r.reqs.toFixed(0).padStart(7)} ${r.p50.toFixed(1).padStart(9)} ${r.p99.toFixed(1).padStart(8)}   ${verdict} ${String(r.non2xx).padStart(5)} ${cell(r.cpuUsPerReq, 'µs', 13)} ${cell(r.machineBusy, '%', 14)}`,
      );
    }
    // autocannon reports whole milliseconds, so a sub-millisecond p50 counts as 1 ms here.
    const aloneMs = Math.max(alone.p50, 1);
    const latencyRatio = liveMs / aloneMs;
    const loadedRatio = liveMs / Math.max(dashboard.p50, 1);
    const throughputRatio = (dashboard.reqs * liveMs) / 1000;
    console.log(
      `\nlive aggregation over the log (same figures): ${liveMs.toFixed(0)} ms per query (median of 5, one at a time, no HTTP)`,
    );
    console.log(
      `ratio, one at a time each: live query / dashboard request p50 over HTTP (${aloneMs} ms) = ${latencyRatio.toFixed(0)}× (target ≥ 50×) ${latencyRatio >= 50 ? 'ok' : 'MISS'}`,
    );
    console.log(
      `ratio, throughput: dashboard ${dashboard.reqs.toFixed(0)} req/s at ${CONNECTIONS} connections vs live query ${(1000 / liveMs).toFixed(2)}/s on one connection = ${throughputRatio.toFixed(0)}×`,
    );
    console.log(
      `(live query / dashboard p50 at ${CONNECTIONS} connections = ${loadedRatio.toFixed(0)}×: that p50 is mostly waiting for a share of the cores, not work)`,
    );
    report(
      'api',
      [
        ...results.map((r) => ({ figure: `${r.label} p99 (target ≤ ${r.target} ms)`, value: r.p99, unit: 'ms' })),
        ...results.map((r) => ({ figure: `${r.label} throughput`, value: r.reqs, unit: 'req/s' })),
        { figure: `${floor.label} p99`, value: floor.p99, unit: 'ms' },
        { figure: `${floor.label} throughput`, value: floor.reqs, unit: 'req/s' },
        {
          figure: 'dashboard request p50 one at a time vs live aggregation query',
          value: aloneMs,
          baseline: liveMs,
          unit: 'ms',
          ratio: latencyRatio,
        },
        {
          figure: `dashboard p50 at ${CONNECTIONS} connections vs live aggregation query`,
          value: dashboard.p50,
          baseline: liveMs,
          unit: 'ms',
          ratio: loadedRatio,
        },
        {
          figure: 'dashboard throughput vs live query on one connection',
          value: dashboard.reqs,
          baseline: 1000 / liveMs,
          unit: 'req/s',
          ratio: throughputRatio,
        },
      ],
      {
        rows: ROWS,
        connections: CONNECTIONS,
        durationSeconds: DURATION_S,
        loadAverage: os.loadavg(),
        apiCpuMicrosecondsPerRequest: Object.fromEntries([...results, alone].map((r) => [r.label, r.cpuUsPerReq])),
        machineBusyPercent: Object.fromEntries([...results, alone].map((r) => [r.label, r.machineBusy])),
      },
    );
  } finally {
    if (child) {
      child.kill('SIGTERM');
      await new Promise((r) => child!.once('exit', r));
    }
    await client.end();
    if (!keep) await adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    const { createRedis } = await import('../../services/core/redis');
    const redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
    await redis.quit();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
