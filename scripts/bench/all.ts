/**
 * npm run bench [-- --quick]
 *
 * Runs every benchmark as a child process — the raw ceiling (no-op jobs through the same BullMQ queues on the
 * same Redis), the pipeline (Nezuko vs a plain Telegraf bot), the admin API and maintenance — one after the
 * other on this machine, reads the JSON each wrote under bench/results/, and prints one table (figure,
 * baseline, ratio), written as bench/results/all-<time>.json with the core count and the versions used.
 * --quick runs reduced sizes (a few minutes on 2 cores); without it, each benchmark's defaults.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import pg from 'pg';
import { createRedis } from '../../services/core/redis';
import { PLATFORM_NODE_FLAGS, type Row } from './support';

const quick = process.argv.includes('--quick');

const benches: Array<{
  name: string;
  script: string;
  args: string[];
  env?: Record<string, string>;
  nodeFlags?: string[];
}> = [
  { name: 'ceiling', script: 'scripts/bench/ceiling.ts', args: quick ? ['--jobs', '10000'] : ['--jobs', '50000'] },
  {
    name: 'pipeline',
    script: 'scripts/bench/pipeline.ts',
    args: quick ? ['--bots', '2', '--seconds', '6', '--backlog', '2000', '--rate', '500'] : [],
    nodeFlags: PLATFORM_NODE_FLAGS,
  },
  {
    name: 'api',
    script: 'scripts/bench/api.ts',
    args: [],
    env: quick ? { BENCH_ROWS: '200000', BENCH_DURATION: '5' } : {},
  },
  { name: 'maintenance', script: 'scripts/bench/maintenance.ts', args: quick ? ['--rows', '200000'] : [] },
];

function run(
  script: string,
  args: string[],
  env: Record<string, string> = {},
  nodeFlags: string[] = [],
): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', script, ...args], {
      env: { ...process.env, LOG_TO_FILE: 'false', LOG_LEVEL: 'warn', ...env },
      stdio: 'inherit',
    });
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

/** The newest bench/results/<name>-*.json written since `since`. */
function newest(name: string, since: number): { rows: Row[]; notes?: Record<string, unknown>; at: string } | undefined {
  const files = readdirSync('bench/results')
    .filter((f) => f.startsWith(`${name}-`) && f.endsWith('.json'))
    .sort();
  for (const f of files.reverse()) {
    const data = JSON.parse(readFileSync(`bench/results/${f}`, 'utf8'));
    if (Date.parse(data.at) >= since) return data;
  }
  return undefined;
}

async function versions(): Promise<Record<string, string>> {
  const pkg = (name: string) => {
    try {
      return (JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8')) as { version: string }).version;
    } catch {
      return 'unknown';
    }
  };
  const out: Record<string, string> = {
    node: process.version,
    bullmq: pkg('bullmq'),
    ioredis: pkg('ioredis'),
    '@prisma/client': pkg('@prisma/client'),
    telegraf: pkg('telegraf'),
    express: pkg('express'),
    cockatiel: pkg('cockatiel'),
    nezuko: (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version,
  };
  try {
    const redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    out.redis = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? 'unknown';
    await redis.quit();
  } catch {
    out.redis = 'unknown';
  }
  try {
    const client = new pg.Client({
      connectionString: process.env.DATABASE_URL ?? 'postgresql://postgres:postgres@127.0.0.1:5432/postgres',
    });
    await client.connect();
    out.postgresql = String((await client.query('SHOW server_version')).rows[0].server_version);
    await client.end();
  } catch {
    out.postgresql = 'unknown';
  }
  return out;
}

async function main() {
  const since = Date.now();
  const failed: string[] = [];
  for (const b of benches) {
    console.log(
      `\n━━ ${b.name} ${b.args.join(' ')} ${Object.entries(b.env ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
    );
    const code = await run(b.script, b.args, b.env, b.nodeFlags);
    if (code !== 0) failed.push(`${b.name} (exit ${code})`);
  }
  const rows: Array<Row & { bench: string }> = [];
  const notes: Record<string, unknown> = {};
  for (const b of benches) {
    const result = newest(b.name, since);
    if (!result) continue;
    notes[b.name] = result.notes;
    for (const r of result.rows) rows.push({ bench: b.name, ...r });
  }

  const fmt = (n: number | undefined) =>
    n === undefined || Number.isNaN(n) ? '' : Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(2);
  console.log(
    `\nNezuko benchmarks${quick ? ' (--quick)' : ''} on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'})`,
  );
  console.table(
    rows.map((r) => ({
      bench: r.bench,
      figure: r.figure,
      value: `${fmt(r.value)} ${r.unit}`,
      baseline: r.baseline === undefined ? '' : `${fmt(r.baseline)} ${r.unit}`,
      ratio: r.ratio === undefined ? '' : `${fmt(r.ratio)}×`,
    })),
  );
  const v = await versions();
  console.log(
    `versions: ${Object.entries(v)
      .map(([k, x]) => `${k} ${x}`)
      .join(', ')}`,
  );
  mkdirSync('bench/results', { recursive: true });
  const at = new Date().toISOString();
  const file = `bench/results/all-${at.replace(/[:.]/g, '-')}.json`;
  writeFileSync(
    file,
    JSON.stringify(
      { name: 'all', at, quick, cores: os.cpus().length, cpu: os.cpus()[0]?.model, versions: v, rows, notes, failed },
      null,
      2,
    ),
  );
  console.log(`written to ${file}`);
  if (failed.length) {
    console.error(`failed: ${failed.join(', ')}`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
