/** Shared plumbing for benchmarks: a throw-away database, the simulator as a child process, percentiles. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import pg from 'pg';

export const baseDatabaseUrl = process.env.DATABASE_URL ?? 'postgresql://postgres:postgres@127.0.0.1:5432/nezuko';

function withDatabase(name: string) {
  const url = new URL(baseDatabaseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function admin(sql: string) {
  const client = new pg.Client({ connectionString: withDatabase('postgres') });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A freshly migrated database, dropped by `drop()`. */
export async function benchDatabase(label: string) {
  const name = `nezuko_bench_${label}_${randomBytes(3).toString('hex')}`;
  await admin(`CREATE DATABASE "${name}"`);
  const url = withDatabase(name);
  execFileSync('npx', ['prisma', 'migrate', 'deploy'], { env: { ...process.env, DATABASE_URL: url }, stdio: 'ignore' });
  return { url, drop: () => admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) };
}

/** Deletes every Redis key a bench run wrote under its prefix (done markers and caches would linger a day). */
export async function dropRedisPrefix(prefix: string): Promise<void> {
  const { createRedis } = await import('../../services/core/redis');
  const redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
}

/** The Telegram simulator in its own process (so it does not share an event loop with what is measured). */
export async function simulatorProcess(): Promise<{
  url: string;
  child: ChildProcess;
  cpuSeconds(): number;
  stop(): Promise<void>;
}> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'sim/main.ts'], {
    env: { ...process.env, SIM_PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`simulator exited with ${code}`)));
  });
  return {
    url,
    child,
    /** CPU seconds the simulator process has used so far (Linux /proc). */
    cpuSeconds: () => {
      const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/**
 * The V8 flag docker-compose.yml gives the poller and verifier processes (and `npm start` its one process).
 * bench:pipeline runs under it (its npm script; the plain bot shares that process) and starts its roles with it.
 */
export const PLATFORM_NODE_FLAGS = ['--max-semi-space-size=64'];

/** `--name value` from the command line as a number, or `fallback`. */
export function numberArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

/** Runs a bench's `main` and exits: 0 when it finished, 1 (with the error printed) when it threw. */
export function runBench(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export interface Row {
  figure: string;
  value: number;
  baseline?: number;
  unit: string;
  /** value / baseline, or baseline / value when lower is better. */
  ratio?: number;
}

/**
 * Prints the table and writes it as JSON under bench/results with the machine and versions. `keyed` figures are
 * also written as top-level fields under their names (what the targets are checked against).
 */
export function report(
  name: string,
  rows: Row[],
  notes: Record<string, unknown> = {},
  keyed: Record<string, number | null> = {},
) {
  const fmt = (n: number | undefined) =>
    n === undefined || Number.isNaN(n) ? '' : n >= 100 ? n.toFixed(0) : n.toFixed(2);
  console.log(`\n${name}`);
  console.table(
    rows.map((r) => ({
      figure: r.figure,
      value: `${fmt(r.value)} ${r.unit}`,
      baseline: r.baseline === undefined ? '' : `${fmt(r.baseline)} ${r.unit}`,
      ratio: r.ratio === undefined ? '' : `${fmt(r.ratio)}×`,
    })),
  );
  mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(
    file,
    JSON.stringify(
      {
        name,
        at: new Date().toISOString(),
        cores: os.cpus().length,
        cpu: os.cpus()[0]?.model,
        node: process.version,
        ...keyed,
        rows,
        notes,
      },
      null,
      2,
    ),
  );
  console.log(`written to ${file}`);
}
