import { randomBytes } from 'node:crypto';
import { registerBot } from '../../services/core/bots';
import { loadConfig, type Config } from '../../services/core/config';
import type { PrismaClient } from '../../services/core/db';
import { openQueue, updatesQueue } from '../../queues';
import type { SimBot, SimClient } from '../../sim';

/** The configuration a test shares with the processes it starts (same database, Redis prefix and key). */
export function lifecycleConfig(options: {
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
  apiRoot: string;
  env?: Record<string, string>;
}): Config {
  return loadConfig({
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: options.redisUrl,
    REDIS_PREFIX: options.redisPrefix,
    TELEGRAM_API_ROOT: options.apiRoot,
    TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    LOG_TO_FILE: 'false',
    LOG_LEVEL: 'warn',
    ...options.env,
  });
}

/** Registers `count` new simulator bots in the platform; returns them with their bot_instances id. */
export async function registerSimBots(
  db: PrismaClient,
  config: Config,
  client: SimClient,
  count: number,
): Promise<Array<SimBot & { instanceId: number }>> {
  const bots = [];
  for (let i = 0; i < count; i++) {
    const bot = await client.createBot({ username: `lc${randomBytes(4).toString('hex')}bot` });
    const row = await registerBot(db, config, bot.token);
    bots.push({ ...bot, instanceId: row.id });
  }
  return bots;
}

/**
 * update_id of every update in the bot's updates queue (whatever its job's state), once per job that holds it: a
 * page (`pg-<bot>-…`, every update of a getUpdates batch) or an update handed off by its page (`u-<bot>-<update>`).
 */
export async function queuedUpdateIds(config: Config, instanceId: number): Promise<number[]> {
  const queue = openQueue(updatesQueue(instanceId), {
    connection: { url: config.REDIS_URL },
    prefix: config.REDIS_PREFIX,
  });
  try {
    const jobs = await queue.getJobs(['waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized'], 0, -1);
    return jobs.flatMap((job) => {
      const data = job.data as {
        botInstanceId: number;
        updates?: { update_id: number }[];
        update?: { update_id: number };
      };
      if (data.botInstanceId !== instanceId) throw new Error(`job ${job.id} belongs to bot ${data.botInstanceId}`);
      if (job.name === 'page') return data.updates!.map((u) => u.update_id);
      if (job.name === 'update') return [data.update!.update_id];
      return [];
    });
  } finally {
    await queue.close();
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
