import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerBot } from '../../services/core/bots';
import { loadConfig } from '../../services/core/config';
import { SimClient, startSimulator, type RunningSimulator } from '../../sim';
import { useTestDatabase } from '../support/db';
import { spawnTs, waitFor, type Spawned } from '../support/process';
import { useTestRedis } from '../support/redis';
import { freePort } from '../support/redis-server';

/**
 * promtool's lint findings, less the three prom-client default gauges whose names end in _total: the public
 * Node.js dashboard (Grafana 11159) queries them by exactly those names, so they stay.
 */
function promtoolProblems(text: string): string[] {
  let output = '';
  try {
    execFileSync('promtool', ['check', 'metrics'], { input: text, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stdout?: Buffer; stderr?: Buffer };
    output = `${e.stdout ?? ''}${e.stderr ?? ''}`;
  }
  return output
    .split('\n')
    .filter(
      (line) =>
        line.trim() &&
        !/^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/.test(
          line.trim(),
        ),
    );
}

const database = useTestDatabase();
const redis = useTestRedis();
let sim: RunningSimulator;
const processes: Spawned[] = [];

beforeAll(async () => {
  sim = await startSimulator({ port: 0 });
});
afterAll(async () => {
  for (const p of processes) p.child.kill('SIGTERM');
  await Promise.all(processes.map((p) => p.exited));
  await sim?.stop();
});

describe('metrics from every role, after real traffic', () => {
  it('promtool accepts /metrics of the worker roles and of the API, and log lines are JSON with ids', async () => {
    const client = new SimClient(sim.url);
    const key = randomBytes(32).toString('hex');
    const env = {
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      REDIS_PREFIX: redis.prefix,
      TELEGRAM_API_ROOT: sim.apiRoot,
      TOKEN_ENCRYPTION_KEY: key,
      STATS_ROLLUP_INTERVAL_MS: '1000',
    };
    const simBot = await client.createBot({ username: 'metricsbot' });
    await registerBot(database.prisma, loadConfig({ ...env }), simBot.token);

    const [metricsPort, apiPort] = await Promise.all([freePort(), freePort()]);
    processes.push(
      spawnTs('services/main.ts', { ...env, ROLES: 'poller,verifier,maintenance', METRICS_PORT: String(metricsPort) }),
    );
    processes.push(spawnTs('services/main.ts', { ...env, ROLES: 'api', API_PORT: String(apiPort) }));
    for (const port of [metricsPort, apiPort]) {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/ready`)).ok, 30_000, `/ready on ${port}`);
    }

    // Real traffic: an owner protects a group with /protect, then a non-subscriber joins and is muted.
    const owner = await client.createUser({ firstName: 'Owner' });
    const group = await client.createChat({ type: 'supergroup', title: 'Metrics group', ownerId: owner.id });
    const channel = await client.createChat({
      type: 'channel',
      title: 'Metrics channel',
      username: `mc${randomBytes(3).toString('hex')}`,
      ownerId: owner.id,
    });
    await client.makeAdmin(channel.id, simBot.id);
    await client.makeAdmin(group.id, simBot.id);
    await client.sendMessage(group.id, { fromId: owner.id, text: `/protect @${channel.chat.username}` });
    await waitFor(
      async () => (await database.prisma.protectedGroup.count({ where: { enabled: true } })) === 1,
      20_000,
      'protection',
    );
    const user = await client.createUser({ firstName: 'Joiner' });
    await client.join(group.id, user.id);
    await waitFor(async () => (await client.member(group.id, user.id)).status === 'restricted', 20_000, 'the mute');

    const workerMetrics = await waitFor(
      async () => {
        const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
        return /nezuko_verifications_total\{bot="\d+",status="restricted"\} 1/.test(text) ? text : undefined;
      },
      20_000,
      'the verification counter',
    );
    const apiMetrics = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text();

    for (const text of [workerMetrics!, apiMetrics]) expect(promtoolProblems(text)).toEqual([]);
    expect(workerMetrics).toMatch(/nezuko_updates_polled_total\{bot="\d+"\} [1-9]/);
    expect(workerMetrics).toMatch(
      /nezuko_telegram_calls_total\{bot="\d+",method="restrictChatMember",outcome="ok"\} 1/,
    );
    expect(workerMetrics).toMatch(/^process_cpu_user_seconds_total /m);
    expect(apiMetrics).toMatch(/nezuko_bots\{status="running"\} 1/);
    expect(apiMetrics).toMatch(/nezuko_queue_jobs\{queue="updates-\d+",state="completed"\} [1-9]/);
    // Labels stay low-cardinality: no user or chat id in any label value. (Only labels: a sample's value, such as a
    // duration sum, may hold an id's digits by chance; CI once saw it.)
    for (const text of [workerMetrics!, apiMetrics]) {
      const labelValues = [...text.matchAll(/\w+="([^"]*)"/g)].map((m) => m[1]!);
      for (const id of [String(user.id), String(group.id)])
        expect(labelValues.filter((value) => value.includes(id))).toEqual([]);
      expect(text).not.toContain(simBot.token);
    }

    const lines = processes
      .flatMap((p) => p.output().trim().split('\n'))
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(
      lines.every(
        (l) => typeof l.timestamp === 'string' && typeof l.level === 'string' && typeof l.message === 'string',
      ),
    ).toBe(true);
    expect(lines.some((l) => l.message === 'verifying bot' && typeof l.botId === 'number')).toBe(true);
  }, 90_000);
});
