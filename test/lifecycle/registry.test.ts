import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BotRegistryError, loadActiveBots, registerBot } from '../../services/core/bots';
import { decryptSecret } from '../../services/core/crypto';
import { createDatabase, type PrismaClient } from '../../services/core/db';
import { rotateTokenKey } from '../../scripts/rotate-key';
import { SimClient, startSimulator, type RunningSimulator } from '../../sim';
import { useTestDatabase } from '../support/db';
import { spawnTs } from '../support/process';
import { useTestRedis } from '../support/redis';
import { lifecycleConfig } from './helpers';

const database = useTestDatabase();
const redis = useTestRedis();
let sim: RunningSimulator;
let db: PrismaClient;
let config: ReturnType<typeof lifecycleConfig>;

beforeAll(async () => {
  sim = await startSimulator({ port: 0 });
  db = createDatabase({ url: database.url, poolSize: 3 });
  config = lifecycleConfig({
    databaseUrl: database.url,
    redisUrl: redis.url,
    redisPrefix: redis.prefix,
    apiRoot: sim.apiRoot,
  });
});
afterAll(async () => {
  await db?.$disconnect();
  await sim?.stop();
});

describe('bot registry', () => {
  it('a duplicate bot is a clear BotRegistryError, not a database error; BOT_TOKEN-style registration updates instead', async () => {
    const client = new SimClient(sim.url);
    const simBot = await client.createBot({ username: 'dupcheckbot' });
    const first = await registerBot(db, config, simBot.token, { failOnDuplicate: true });
    const err = await registerBot(db, config, simBot.token, { failOnDuplicate: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BotRegistryError);
    expect(err).toMatchObject({
      code: 'duplicate',
      message: `Bot @dupcheckbot is already registered (id ${first.id})`,
    });
    expect((err as Error).message).not.toContain(simBot.token);
    const again = await registerBot(db, config, simBot.token);
    expect(again.id).toBe(first.id);
    expect(await db.botInstance.count({ where: { telegramBotId: BigInt(simBot.id) } })).toBe(1);
    const invalid = await registerBot(db, config, `${simBot.id}:${'x'.repeat(35)}`).catch((e: unknown) => e);
    expect(invalid).toMatchObject({ code: 'invalid_token', message: 'Telegram does not accept this bot token' });
  });

  it(
    'rotates the token key; the old key is then refused at start-up with one clear line',
    { timeout: 60_000 },
    async () => {
      const client = new SimClient(sim.url);
      const oldKey = config.TOKEN_ENCRYPTION_KEY!;
      const bots = [await client.createBot(), await client.createBot()];
      for (const bot of bots) await registerBot(db, config, bot.token);
      const newKey = randomBytes(32);
      const total = await db.botInstance.count();
      expect(await rotateTokenKey(db, oldKey, newKey)).toBe(total);

      const loaded = await loadActiveBots(db, { TOKEN_ENCRYPTION_KEY: newKey });
      for (const bot of bots) expect(loaded.find((b) => b.telegramBotId === BigInt(bot.id))?.token).toBe(bot.token);
      const sealed = await db.botInstance.findMany();
      for (const row of sealed) expect(() => decryptSecret(row.tokenEncrypted, oldKey)).toThrow();

      const env = {
        ROLES: 'poller',
        DATABASE_URL: database.url,
        REDIS_URL: redis.url,
        REDIS_PREFIX: redis.prefix,
        TELEGRAM_API_ROOT: sim.apiRoot,
        METRICS_PORT: '0',
        LOG_LEVEL: 'warn',
      };
      const [withOld, withoutKey] = [
        spawnTs('services/main.ts', { ...env, TOKEN_ENCRYPTION_KEY: oldKey.toString('hex') }),
        spawnTs('services/main.ts', { ...env, TOKEN_ENCRYPTION_KEY: '' }),
      ];
      expect(await withOld.exited).toBe(1);
      expect(withOld.output().trim()).toBe(
        'TOKEN_ENCRYPTION_KEY cannot decrypt the stored bot tokens: it is not the key they were encrypted with',
      );
      expect(await withoutKey.exited).toBe(1);
      expect(withoutKey.output().trim().split('\n')).toHaveLength(1);
      expect(withoutKey.output()).toMatch(/^TOKEN_ENCRYPTION_KEY is not set but bot tokens are stored encrypted/);
    },
  );
});
