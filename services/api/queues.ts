import { Queue } from 'bullmq';
import type { AppContext } from '../core/context';
import { MAINTENANCE_QUEUE, defaultJobOptions, updateJobs, updatesQueueName, type UpdateJobData } from '../../queues';

/** BullMQ Queue handles the API uses (job counts, enqueueing, Bull Board), created on demand and closed at shutdown. */
export function apiQueues(ctx: AppContext) {
  const queues = new Map<string, Queue>();
  let connection: ReturnType<AppContext['newRedis']> | undefined;
  const get = (name: string): Queue => {
    let queue = queues.get(name);
    if (!queue) {
      connection ??= ctx.newRedis('default');
      queue = new Queue(name, { connection, prefix: ctx.config.REDIS_PREFIX, defaultJobOptions });
      queue.on('error', (err) => ctx.log.warn('queue error', { queue: name, err }));
      queues.set(name, queue);
    }
    return queue;
  };
  ctx.lifecycle.onShutdown('workers', 'api queues', async () => {
    await Promise.all([...queues.values()].map((q) => q.close().catch(() => {})));
  });
  return {
    get,
    forBot: (botId: number) => get(updatesQueueName(botId)),
    maintenance: () => get(MAINTENANCE_QUEUE),
    /** Forget a queue handle (bot deleted). */
    drop(name: string) {
      const q = queues.get(name);
      queues.delete(name);
      void q?.close().catch(() => {});
    },
    async liftRestrictions(data: UpdateJobData<'lift-restrictions'>) {
      const payload = updateJobs['lift-restrictions'].parse(data);
      return get(updatesQueueName(payload.botInstanceId)).add('lift-restrictions', payload);
    },
  };
}
export type ApiQueues = ReturnType<typeof apiQueues>;
