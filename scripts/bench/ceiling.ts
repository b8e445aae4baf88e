/**
 * npm run bench's raw ceiling [-- --jobs 20000 --concurrency 50 --queues 4]
 *
 * No-op jobs through the same BullMQ queues Nezuko uses (`updates-<bot>`, same prefix scheme, same default job
 * options, job ids `u-<bot>-<n>`), on the same Redis: the poller's addBulk of 100 and a Worker per queue with
 * the verifier's concurrency doing nothing. What the queue alone can carry on this machine; the pipeline's
 * throughput is compared with it.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Queue, Worker } from 'bullmq';
import { loadConfig } from '../../services/core/config';
import { createRedis } from '../../services/core/redis';
import { defaultJobOptions, updateJobId, updatesQueueName } from '../../queues';
import { report } from './support';

const { values } = parseArgs({ options: { jobs: { type: 'string', default: '20000' }, concurrency: { type: 'string' }, queues: { type: 'string', default: '4' } }, strict: false });
const config = loadConfig({ ...process.env, LOG_TO_FILE: 'false' });
const JOBS = Number(values.jobs);
const QUEUES = Number(values.queues);
const CONCURRENCY = Number(values.concurrency ?? config.VERIFIER_CONCURRENCY);
const prefix = `bench-ceiling-${randomBytes(3).toString('hex')}`;
const BATCH = 100;

async function main() {
  const connection = createRedis(config.REDIS_URL, 'worker');
  const queues = Array.from({ length: QUEUES }, (_, i) => new Queue(updatesQueueName(i + 1), { connection, prefix, defaultJobOptions }));
  let done = 0;
  let finished: () => void = () => {};
  const allDone = new Promise<void>((r) => (finished = r));
  const workers = queues.map(
    (q) =>
      new Worker(q.name, async () => {}, { connection, prefix, concurrency: CONCURRENCY, maxStalledCount: 2 }).on('completed', () => {
        if (++done === JOBS) finished();
      }),
  );
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  const started = performance.now();
  // Producers: like pollers, one addBulk of up to 100 updates per queue at a time, all queues at once.
  const perQueue = Math.ceil(JOBS / QUEUES);
  let addMs = 0;
  await Promise.all(
    queues.map(async (q, qi) => {
      const bot = qi + 1;
      for (let i = 0; i < perQueue && qi * perQueue + i < JOBS; i += BATCH) {
        const n = Math.min(BATCH, perQueue - i, JOBS - qi * perQueue - i);
        const jobs = Array.from({ length: n }, (_, k) => ({ name: 'update', data: { botInstanceId: bot, update: { update_id: i + k + 1 }, receivedAt: Date.now() }, opts: { jobId: updateJobId(bot, i + k + 1) } }));
        await q.addBulk(jobs);
      }
    }),
  );
  addMs = performance.now() - started;
  await allDone;
  const totalMs = performance.now() - started;
  await Promise.all(workers.map((w) => w.close()));
  await Promise.all(queues.map((q) => q.obliterate({ force: true }).then(() => q.close())));
  await connection.quit();
  report('ceiling', [
    { figure: 'no-op jobs through BullMQ (addBulk + workers)', value: JOBS / (totalMs / 1000), unit: 'jobs/s' },
    { figure: 'addBulk alone', value: JOBS / (addMs / 1000), unit: 'jobs/s' },
  ], { jobs: JOBS, queues: QUEUES, concurrency: CONCURRENCY, batch: BATCH, redis: 'REDIS_URL (same Redis as the pipeline)' });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
