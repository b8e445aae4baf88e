import client from 'prom-client';
import { lastBeats, maintenanceQueue, openQueue, updatesQueue, type JobQueue, type QueueRef } from '../../queues';
import type { AppContext } from '../core/context';

/**
 * Figures about the whole deployment rather than this process (bots by status, queue depth, poller lag,
 * heartbeat age), read from PostgreSQL and Redis when Prometheus scrapes. One process exports them (the
 * API role); dashboards and alerts use max() so a second exporter would do no harm.
 */
export function registerDeploymentMetrics(ctx: AppContext): () => Promise<void> {
  const { registry } = ctx.metrics;
  const queues = new Map<string, JobQueue>();
  // A connection of their own: BullMQ defines its ~65 Lua scripts on the connection it is given, and ioredis
  // then copies them into every pipeline it builds there, ~50 µs more per auto-pipelined round trip on the
  // shared connection that a verifier in the same process (npm start) uses for its every update.
  let connection: ReturnType<AppContext['newRedis']> | undefined;
  // Read only; errors surface as a failed scrape, so the queues' own error events are not logged.
  const queue = (ref: QueueRef) => {
    let q = queues.get(ref.name);
    if (!q) {
      connection ??= ctx.newRedis('default');
      q = openQueue(ref, { connection, prefix: ctx.config.REDIS_PREFIX });
      queues.set(ref.name, q);
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
      const refs = [maintenanceQueue, ...(await bots()).map((b) => updatesQueue(b.id))];
      const counts = await Promise.all(
        refs.map((ref) => queue(ref).getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed')),
      );
      refs.forEach((ref, i) => {
        for (const [state, count] of Object.entries(counts[i]!)) this.set({ queue: ref.name, state }, count);
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
      const oldest = await Promise.all(list.map((b) => queue(updatesQueue(b.id)).getJobs(['wait'], 0, 0, true)));
      list.forEach((b, i) => {
        const job = oldest[i]![0];
        const since = job ? ((job.data as { receivedAt?: number }).receivedAt ?? job.timestamp) : Date.now();
        this.set({ bot: String(b.id) }, Math.max(0, (Date.now() - since) / 1000));
      });
    },
  });

  new client.Gauge({
    name: 'nezuko_bot_heartbeat_age_seconds',
    help: "Seconds since the bot's poller last reported; absent = never",
    labelNames: ['bot'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const list = await bots();
      const beats = await lastBeats(
        ctx.redis,
        ctx.keys,
        list.map((b) => b.id),
      );
      list.forEach((b, i) => {
        if (beats[i]) this.set({ bot: String(b.id) }, Math.max(0, (Date.now() - beats[i]!) / 1000));
      });
    },
  });

  return async () => {
    await Promise.all([...queues.values()].map((q) => q.close()));
  };
}
