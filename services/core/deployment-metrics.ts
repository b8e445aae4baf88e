import { Queue } from 'bullmq';
import client from 'prom-client';
import { MAINTENANCE_QUEUE, updatesQueueName } from '../../queues';
import type { AppContext } from './context';

/**
 * Figures about the whole deployment rather than this process (bots by status, queue depth, poller lag,
 * heartbeat age), read from PostgreSQL and Redis when Prometheus scrapes. One process exports them (the
 * API role); dashboards and alerts use max() so a second exporter would do no harm.
 */
export function registerDeploymentMetrics(ctx: AppContext): () => Promise<void> {
  const { registry } = ctx.metrics;
  const queues = new Map<string, Queue>();
  const queue = (name: string) => {
    let q = queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: ctx.redis, prefix: ctx.config.REDIS_PREFIX });
      q.on('error', () => {});
      queues.set(name, q);
    }
    return q;
  };

  let snapshot: Promise<Array<{ id: number; status: string }>> | undefined;
  /** One read of the bot list per scrape, shared by the gauges below. */
  const bots = () => {
    snapshot ??= ctx.db.botInstance
      .findMany({ where: { deletedAt: null }, select: { id: true, status: true } })
      .finally(() => setTimeout(() => (snapshot = undefined), 1_000));
    return snapshot;
  };

  new client.Gauge({
    name: 'nezuko_bots',
    help: 'Bots by status',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const statuses = ['starting', 'running', 'stopping', 'stopped', 'crashed', 'restarting'];
      const list = await bots();
      for (const status of statuses) this.set({ status }, list.filter((b) => b.status === status).length);
    },
  });

  new client.Gauge({
    name: 'nezuko_queue_jobs',
    help: 'Jobs per queue and state',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const names = [MAINTENANCE_QUEUE, ...(await bots()).map((b) => updatesQueueName(b.id))];
      const counts = await Promise.all(names.map((name) => queue(name).getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed')));
      names.forEach((name, i) => {
        for (const [state, count] of Object.entries(counts[i]!)) this.set({ queue: name, state }, count);
      });
    },
  });

  new client.Gauge({
    name: 'nezuko_poller_lag_seconds',
    help: 'Age of the oldest update waiting to be handled, per bot',
    labelNames: ['bot'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const list = await bots();
      const oldest = await Promise.all(list.map((b) => queue(updatesQueueName(b.id)).getJobs(['wait'], 0, 0, true)));
      list.forEach((b, i) => {
        const job = oldest[i]![0];
        const since = job ? ((job.data as { receivedAt?: number }).receivedAt ?? job.timestamp) : Date.now();
        this.set({ bot: String(b.id) }, Math.max(0, (Date.now() - since) / 1000));
      });
    },
  });

  new client.Gauge({
    name: 'nezuko_bot_heartbeat_age_seconds',
    help: 'Seconds since the bot\'s poller last reported; absent = never',
    labelNames: ['bot'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const list = await bots();
      if (!list.length) return;
      const beats = await ctx.redis.mget(...list.map((b) => ctx.keys.bot(b.id, 'heartbeat')));
      list.forEach((b, i) => {
        if (beats[i]) this.set({ bot: String(b.id) }, Math.max(0, (Date.now() - Number(beats[i])) / 1000));
      });
    },
  });

  return async () => {
    await Promise.all([...queues.values()].map((q) => q.close()));
  };
}
