/**
 * npm run bench:startup [-- --runs 5 --bots 10]
 *
 * What one `ROLES=verifier` process with 10 bots costs to start and to keep, compiled (`npm run build`,
 * `node dist/services/main.js`, what the container image runs) against tsx (`node --import tsx
 * services/main.ts`, what `npm start` runs): the time from spawn to the first 200 from /ready (every role
 * started, a worker per bot) and the CPU the process used until then (steadier than wall time on a busy
 * machine), and the resident memory (VmRSS) at that moment and after 5 s idle. The two
 * alternate run by run on the same database, Redis and simulator; one warm-up run of each is not counted
 * (tsx caches its transforms on disk, so its counted runs are its warm case).
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { registerBot } from '../../services/core/bots';
import { loadConfig } from '../../services/core/config';
import { createDatabase } from '../../services/core/db';
import { SimClient } from '../../sim/client';
import { benchDatabase, dropRedisPrefix, numberArg, report, simulatorProcess, type Row } from './support';

const RUNS = numberArg('runs', 5);
const BOTS = numberArg('bots', 10);

const VARIANTS = {
  compiled: [process.execPath, 'dist/services/main.js'],
  tsx: [process.execPath, '--import', 'tsx', 'services/main.ts'],
} as const;
type Variant = keyof typeof VARIANTS;

/** CPU seconds (user + system) a process has used: less swayed than wall time by neighbours on a shared machine. */
const cpuSeconds = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const range = (xs: number[]) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;
const range2 = (xs: number[]) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;

async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function startOnce(
  variant: Variant,
  env: NodeJS.ProcessEnv,
): Promise<{ readyMs: number; cpuReady: number; rssReady: number; rssIdle: number }> {
  const port = await freePort();
  const [command, ...args] = VARIANTS[variant];
  const started = performance.now();
  const child = spawn(command, args, {
    env: { ...env, METRICS_PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${variant} exited with ${child.exitCode}`);
      const ok = await fetch(`http://127.0.0.1:${port}/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      await sleep(10);
    }
    const readyMs = performance.now() - started;
    const cpuReady = cpuSeconds(child.pid!);
    const rssReady = rssMb(child.pid!);
    await sleep(5_000);
    return { readyMs, cpuReady, rssReady, rssIdle: rssMb(child.pid!) };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
const sim = await simulatorProcess();
const database = await benchDatabase('startup');
const key = randomBytes(32).toString('hex');
const env: NodeJS.ProcessEnv = {
  ...process.env,
  ROLES: 'verifier',
  DATABASE_URL: database.url,
  REDIS_PREFIX: `bench${randomBytes(3).toString('hex')}`,
  TELEGRAM_API_ROOT: sim.url,
  TOKEN_ENCRYPTION_KEY: key,
  LOG_TO_FILE: 'false',
  LOG_LEVEL: 'warn',
};
try {
  const config = loadConfig(env);
  const db = createDatabase({ url: database.url, poolSize: 2 });
  const client = new SimClient(sim.url);
  for (let i = 0; i < BOTS; i++) {
    const bot = await client.createBot({ username: `start${randomBytes(3).toString('hex')}bot` });
    await registerBot(db, config, bot.token);
  }
  await db.$disconnect();

  const results: Record<Variant, Array<Awaited<ReturnType<typeof startOnce>>>> = { compiled: [], tsx: [] };
  for (const variant of Object.keys(VARIANTS) as Variant[]) await startOnce(variant, env);
  for (let run = 0; run < RUNS; run++) {
    for (const variant of Object.keys(VARIANTS) as Variant[]) {
      const result = await startOnce(variant, env);
      results[variant].push(result);
      console.log(
        `run ${run + 1} ${variant}: ready in ${result.readyMs.toFixed(0)} ms (${result.cpuReady.toFixed(2)} s CPU), RSS ${result.rssReady.toFixed(0)} MB at ready, ${result.rssIdle.toFixed(0)} MB after 5 s`,
      );
    }
  }
  const pick = (variant: Variant, field: 'readyMs' | 'cpuReady' | 'rssReady' | 'rssIdle') =>
    results[variant].map((r) => r[field]);
  const rows: Row[] = [];
  for (const [figure, field, unit] of [
    ['start → ready (median)', 'readyMs', 'ms'],
    ['CPU used until ready (median)', 'cpuReady', 's'],
    ['RSS at ready (median)', 'rssReady', 'MB'],
    ['RSS after 5 s idle (median)', 'rssIdle', 'MB'],
  ] as const) {
    const value = median(pick('compiled', field));
    const baseline = median(pick('tsx', field));
    rows.push({ figure: `${figure}, compiled vs tsx`, value, baseline, unit, ratio: baseline / value });
  }
  report('startup', rows, {
    roles: 'verifier',
    bots: BOTS,
    runs: RUNS,
    ranges: Object.fromEntries(
      (Object.keys(VARIANTS) as Variant[]).map((v) => [
        v,
        {
          readyMs: range(pick(v, 'readyMs')),
          cpuReadyS: range2(pick(v, 'cpuReady')),
          rssReadyMb: range(pick(v, 'rssReady')),
          rssIdleMb: range(pick(v, 'rssIdle')),
        },
      ]),
    ),
  });
  for (const variant of Object.keys(VARIANTS) as Variant[]) {
    console.log(
      `${variant}: ready ${range(pick(variant, 'readyMs'))} ms, CPU until ready ${range2(pick(variant, 'cpuReady'))} s, RSS at ready ${range(pick(variant, 'rssReady'))} MB, after 5 s ${range(pick(variant, 'rssIdle'))} MB`,
    );
  }
} finally {
  await database.drop();
  await sim.stop();
  await dropRedisPrefix(env.REDIS_PREFIX!);
}
