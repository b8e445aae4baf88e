import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db';
import { waitFor } from '../support/process';
import { freePort } from '../support/redis-server';
import { useTestRedis } from '../support/redis';
import {
  chaosDeployment,
  drained,
  makeJoiners,
  metricSum,
  outcome,
  printOutcome,
  protectGroups,
  sleep,
  tcpProxy,
  type ChaosDeployment,
} from './helpers';

const database = useTestDatabase();
const redis = useTestRedis();
let d: ChaosDeployment;
let proxy: Awaited<ReturnType<typeof tcpProxy>>;
const OUTAGE_MS = 10_000;

beforeAll(async () => {
  // The processes reach PostgreSQL through a proxy of the test's own; the test's own checks go direct.
  const url = new URL(database.url);
  proxy = await tcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
  d = await chaosDeployment({ databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix });
});
afterAll(async () => {
  await d?.stop();
  await proxy?.close();
});

describe('chaos: PostgreSQL unreachable for 10 s', () => {
  it(
    'decisions wait or continue, log rows are retried not dropped, /ready goes red and back to green',
    { timeout: 60_000 },
    async () => {
      const bot = await d.addBot();
      const viaProxy = new URL(database.url);
      viaProxy.host = `127.0.0.1:${proxy.port}`;
      const metricsPort = await freePort();
      const worker = d.spawn('poller,verifier', {
        DATABASE_URL: viaProxy.toString(),
        METRICS_PORT: String(metricsPort),
        READY_CHECK_TIMEOUT_MS: '1000',
      });
      const ops = (p: string) => fetch(`http://127.0.0.1:${metricsPort}${p}`);
      const ready = async () => (await ops('/ready').catch(() => undefined))?.status === 200;
      await waitFor(ready, 30_000, 'the process to be ready');
      const scene = await protectGroups(d, bot, 6);
      const joiners = await makeJoiners(d, scene, 50, 0.7);

      let next = 0;
      const stream = (async () => {
        while (next < joiners.length) {
          const j = joiners[next++]!;
          await d.client.join(j.groupId, j.userId);
          await sleep(30);
        }
      })();
      await sleep(1_500);
      const joinedBeforeCut = next;
      const cutAt = Date.now();
      proxy.cut();
      await waitFor(async () => !(await ready()), 5_000, '/ready to go red');
      const redAfterMs = Date.now() - cutAt;
      const decidedBefore = await d.db.verificationLog.count({ where: { botInstanceId: bot.instanceId } });
      await sleep(OUTAGE_MS - (Date.now() - cutAt));
      const joinedDuringOutage = next - joinedBeforeCut;
      const failuresDuringOutage = metricSum(await (await ops('/metrics')).text(), 'nezuko_log_write_failures_total');
      proxy.restore();
      const restoredAt = Date.now();
      await waitFor(ready, 20_000, '/ready to be green again');
      const greenAfterMs = Date.now() - restoredAt;
      await stream;
      await drained(d, bot, 30_000);
      await sleep(1_000);

      const result = await outcome(d, bot, joiners);
      const metrics = await (await ops('/metrics')).text();
      printOutcome('postgres-outage', result, {
        outageMs: restoredAt - cutAt,
        joinedBeforeCut,
        joinedDuringOutage,
        decidedBeforeCut: decidedBefore,
        readyRedAfterMs: redAfterMs,
        readyGreenAfterMs: greenAfterMs,
        logWriteFailures: metricSum(metrics, 'nezuko_log_write_failures_total'),
        logWriteFailuresDuringOutage: failuresDuringOutage,
        logRowsWritten: metricSum(metrics, 'nezuko_log_rows_written_total', 'verification_log'),
      });
      expect(joinedDuringOutage).toBeGreaterThan(100);
      expect(result.problems).toEqual([]);
      expect(result.lost).toBe(0);
      expect(result.duplicates).toBe(0);
      expect(result.logRowsMissing).toBe(0);
      expect(worker.child.exitCode).toBeNull();
    },
  );
});
