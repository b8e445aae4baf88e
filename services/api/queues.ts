import {
  addJob,
  exportsQueue,
  openQueue,
  updatesQueue,
  type JobData,
  type JobQueue,
  type QueueKind,
  type QueueRef,
} from '../../queues';
import type { AppContext } from '../core/context';

/** The queues the API uses (job counts, enqueueing, exports, Bull Board), opened on demand and closed at shutdown. */
export function apiQueues(ctx: AppContext) {
  const queues = new Map<string, JobQueue>();
  let connection: ReturnType<AppContext['newRedis']> | undefined;
  const get = <K extends QueueKind>(ref: QueueRef<K>): JobQueue<K> => {
    let queue = queues.get(ref.name);
    if (!queue) {
      connection ??= ctx.newRedis('default');
      queue = openQueue(ref, { connection, prefix: ctx.config.REDIS_PREFIX, log: ctx.log });
      queues.set(ref.name, queue);
    }
    return queue as JobQueue<K>;
  };
  ctx.lifecycle.onShutdown('workers', 'api queues', async () => {
    await Promise.all([...queues.values()].map((q) => q.close().catch(() => {})));
  });
  return {
    get,
    exports: () => get(exportsQueue),
    /** Forget a bot's queue handle (bot deleted). */
    dropBot(botId: number) {
      const name = updatesQueue(botId).name;
      const q = queues.get(name);
      queues.delete(name);
      void q?.close().catch(() => {});
    },
    liftRestrictions(data: JobData<'updates', 'lift-restrictions'>) {
      return addJob(get(updatesQueue(data.botInstanceId)), 'lift-restrictions', data);
    },
  };
}
export type ApiQueues = ReturnType<typeof apiQueues>;
