/**
 * npm run bench's raw ceiling [-- --jobs 20000 --concurrency 50 --queues 4]
 *
 * No-op jobs through the same BullMQ queues Nezuko uses (`updates-<bot>`, same prefix scheme, same default job
 * options, job ids `u-<bot>-<n>`), on the same Redis: the poller's addBulk of 100 and a Worker per queue with
 * the verifier's concurrency doing nothing. What the queue alone can carry on this machine; the pipeline's
 * throughput is compared with it.
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../services/core/config';
import { createRedis } from '../../services/core/redis';
import { addJob, addJobs, openQueue, openWorker, updateJobId, updatesQueue } from '../../queues';
import { report } from './support';

const BATCH = 100;

/** A group message update of the size the pipeline carries. */
const sampleUpdate = (updateId: number) => ({
  update_id: updateId,
  message: {
    message_id: updateId,
    from: { id: 7_000_000 + updateId, is_bot: false, first_name: 'Member' },
    chat: { id: -1_000_000_000_001, title: 'Bench 0.0', type: 'supergroup' },
    date: 1_796_300_000,
    text: 'hello',
  },
});

/**
 * No-op jobs through BullMQ as the pipeline uses it: a Worker per queue with `concurrency` does nothing.
 * One update per job (before pages): producers add batches of 100 (one addBulk at a time per queue, all queues at
 * once). `updatesPerPage` > 1: `page` jobs of that many updates, added one at a time, as pollers do now.
 */
export async function noopJobs(options: {
  redisUrl: string;
  jobs: number;
  queues: number;
  concurrency: number;
  updatesPerPage?: number;
}): Promise<{ totalMs: number; addMs: number }> {
  const { jobs: total, concurrency, updatesPerPage = 1 } = options;
  const prefix = `bench-ceiling-${randomBytes(3).toString('hex')}`;
  const connection = createRedis(options.redisUrl, 'worker');
  const host = { connection, prefix };
  const queues = Array.from({ length: options.queues }, (_, i) => openQueue(updatesQueue(i + 1), host));
  let done = 0;
  let finished: () => void = () => {};
  const allDone = new Promise<void>((r) => (finished = r));
  const workers = queues.map((_, i) =>
    openWorker(updatesQueue(i + 1), async () => {}, host, { concurrency, maxStalledCount: 2 }).on('completed', () => {
      if (++done === total) finished();
    }),
  );
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  const started = performance.now();
  const perQueue = Math.ceil(total / queues.length);
  await Promise.all(
    queues.map(async (q, qi) => {
      const bot = qi + 1;
      if (updatesPerPage > 1) {
        for (let i = 0; i < perQueue && qi * perQueue + i < total; i++) {
          const updates = Array.from({ length: updatesPerPage }, (_, k) => sampleUpdate(i * updatesPerPage + k + 1));
          await addJob(q, 'page', { botInstanceId: bot, updates, receivedAt: Date.now() }, { jobId: `p-${bot}-${i}` });
        }
        return;
      }
      for (let i = 0; i < perQueue && qi * perQueue + i < total; i += BATCH) {
        const n = Math.min(BATCH, perQueue - i, total - qi * perQueue - i);
        const jobs = Array.from({ length: n }, (_, k) => ({
          name: 'update' as const,
          data: { botInstanceId: bot, update: { update_id: i + k + 1 }, receivedAt: Date.now() },
          opts: { jobId: updateJobId(bot, i + k + 1) },
        }));
        await addJobs(q, jobs);
      }
    }),
  );
  const addMs = performance.now() - started;
  await allDone;
  const totalMs = performance.now() - started;
  await Promise.all(workers.map((w) => w.close()));
  await Promise.all(queues.map((q) => q.obliterate({ force: true }).then(() => q.close())));
  await connection.quit();
  return { totalMs, addMs };
}

async function main() {
  const { values } = parseArgs({
    options: {
      jobs: { type: 'string', default: '20000' },
      concurrency: { type: 'string' },
      queues: { type: 'string', default: '4' },
    },
    strict: false,
  });
  const config = loadConfig({ ...process.env, LOG_TO_FILE: 'false' });
  const jobs = Number(values.jobs);
  const options = {
    redisUrl: config.REDIS_URL,
    jobs,
    queues: Number(values.queues),
    concurrency: Number(values.concurrency ?? config.VERIFIER_CONCURRENCY),
  };
  const { totalMs, addMs } = await noopJobs(options);
  report(
    'ceiling',
    [
      { figure: 'no-op jobs through BullMQ (addBulk + workers)', value: jobs / (totalMs / 1000), unit: 'jobs/s' },
      { figure: 'addBulk alone', value: jobs / (addMs / 1000), unit: 'jobs/s' },
    ],
    {
      jobs,
      queues: options.queues,
      concurrency: options.concurrency,
      batch: BATCH,
      redis: 'REDIS_URL (same Redis as the pipeline)',
    },
  );
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
