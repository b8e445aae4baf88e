// `npm run demo`: a live Nezuko on this machine against the Telegram simulator — three bots, protected groups
// and channels, every role, an owner and a viewer, and simulated users at a gentle rate. Ctrl-C stops it.
// Options: --seconds N (or DEMO_SECONDS) stops by itself; --port P (or DEMO_PORT, default 3000);
// --step-ms M (or DEMO_STEP_MS, default 800) between scenario steps. Uses its own database (DEMO_DATABASE_URL,
// default …/nezuko_demo, recreated each run) and Redis prefix (nezuko_demo).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createRedis } from '../services/core/redis';
import { startDemo } from './demo/stack';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string' },
    port: { type: 'string' },
    'step-ms': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('usage: npm run demo [-- --seconds N] [--port 3000] [--step-ms 800]');
  process.exit(0);
}
const seconds = Number(values.seconds ?? process.env.DEMO_SECONDS ?? 0);
const port = Number(values.port ?? process.env.DEMO_PORT ?? 3000);
const stepMs = Number(values['step-ms'] ?? process.env.DEMO_STEP_MS ?? 800);

const base = new URL(process.env.DATABASE_URL ?? 'postgresql://postgres:postgres@127.0.0.1:5432/nezuko');
const demoDb = new URL(
  process.env.DEMO_DATABASE_URL ??
    (() => {
      const u = new URL(base);
      u.pathname = '/nezuko_demo';
      return u.toString();
    })(),
);
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const redisPrefix = process.env.DEMO_REDIS_PREFIX ?? 'nezuko_demo';
const say = (line: string) => console.log(`[demo] ${line}`);

/** A fresh database for this run: the simulator's world starts empty each time, so must the platform's. */
async function freshDatabase() {
  const name = decodeURIComponent(demoDb.pathname.slice(1));
  if (!/^[\w-]+$/.test(name)) throw new Error(`unexpected demo database name ${name}`);
  const admin = new URL(demoDb);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  // As in scripts/setup.sh: hosts that reach only the npm registry use the offline schema engine beside the project.
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: demoDb.toString() };
  const offline = path.resolve(import.meta.dirname, '../../shared/prisma-offline/schema-engine.mjs');
  if (!env.PRISMA_SCHEMA_ENGINE_BINARY && existsSync(offline)) env.PRISMA_SCHEMA_ENGINE_BINARY = offline;
  try {
    execFileSync('npx', ['prisma', 'migrate', 'deploy'], { env, stdio: 'pipe' });
  } catch (err) {
    process.stderr.write(String((err as { stderr?: Buffer }).stderr ?? err));
    throw new Error('prisma migrate deploy failed for the demo database', { cause: err });
  }
}

async function clearRedis() {
  const redis = createRedis(redisUrl, 'default');
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${redisPrefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
}

say('preparing a fresh demo database and Redis prefix');
await freshDatabase();
await clearRedis();

let stopping = false;
const demo = await startDemo({
  databaseUrl: demoDb.toString(),
  redisUrl,
  redisPrefix,
  apiPort: port,
  rollupIntervalMs: Number(process.env.STATS_ROLLUP_INTERVAL_MS ?? 5_000),
  scenarioStepMs: stepMs,
  env: process.env.GRAFANA_URL ? { GRAFANA_URL: process.env.GRAFANA_URL } : {},
  log: say,
  onOutput: (chunk) => {
    if (!stopping) process.stderr.write(chunk.replace(/^/gm, '[roles] '));
  },
});

const stop = async (why: string) => {
  if (stopping) return;
  stopping = true;
  say(`${why}: stopping (scenario, roles, simulator)…`);
  await demo.stop();
  say(`stopped after ${demo.scenario?.steps ?? 0} scenario steps`);
  process.exit(0);
};
process.once('SIGINT', () => void stop('Ctrl-C'));
process.once('SIGTERM', () => void stop('SIGTERM'));
void demo.exited.then((code) => {
  if (!stopping) {
    console.error(`[demo] the roles process exited unexpectedly (${code})`);
    void stop('roles exited').then(() => process.exit(1));
  }
});

console.log(`
  Nezuko demo is running

  Dashboard    ${demo.url}/
  Bull Board   ${demo.url}/admin/queues   (log in on the dashboard first)
  Metrics      ${demo.url}/metrics
  OpenAPI      ${demo.url}/api/v1/openapi.json
  Simulator    ${demo.simUrl}/sim/state${process.env.GRAFANA_URL ? `\n  Grafana      ${process.env.GRAFANA_URL}` : ''}

  Owner login  ${demo.owner.email}  /  ${demo.owner.password}
  Viewer login ${demo.viewer.email}  /  ${demo.viewer.password}

  Bots: ${demo.bots.map((b) => '@' + b.username).join(', ')}; ${demo.world.groups.length} protected groups.
  Charts fill as the scenario runs (snapshot every ${Number(process.env.STATS_ROLLUP_INTERVAL_MS ?? 5_000) / 1000} s).
  ${seconds > 0 ? `Stops by itself after ${seconds} s.` : 'Ctrl-C stops everything.'}
`);

if (seconds > 0) setTimeout(() => void stop(`${seconds} s passed`), seconds * 1000);
