/**
 * Operator CLI for bots: npm run bots -- <command>
 *   list                 every bot with its status
 *   add <token>          register a bot (validated with getMe)
 *   start|stop|restart <id>
 *   health [id]          health of one bot, or of all
 * Reads the same environment as the platform (.env, DATABASE_URL, REDIS_URL, TOKEN_ENCRYPTION_KEY …).
 */
import { controlBot, publishControl } from '../queues';
import { botHealth } from '../services/api/bot-health';
import { BotRegistryError, registerBot } from '../services/core/bots';
import { ConfigError, loadConfig } from '../services/core/config';
import { createContext, StartupError } from '../services/core/context';
import { createLogger } from '../services/core/logger';

const USAGE = 'usage: npm run bots -- list | add <token> | start <id> | stop <id> | restart <id> | health [id]';

async function main(): Promise<number> {
  const [command, arg] = process.argv.slice(2);
  const config = loadConfig();
  const ctx = await createContext(config, createLogger({ level: 'warn' }));
  const id = Number(arg);
  try {
    switch (command) {
      case 'list': {
        const bots = await ctx.db.botInstance.findMany({ where: { deletedAt: null }, orderBy: { id: 'asc' } });
        console.table(
          bots.map((b) => ({
            id: b.id,
            username: `@${b.username}`,
            active: b.isActive,
            status: b.status,
            reason: b.statusReason ?? '',
            restarts: b.restartCount,
          })),
        );
        return 0;
      }
      case 'add': {
        if (!arg) break;
        const bot = await registerBot(ctx.db, config, arg, { failOnDuplicate: true });
        await publishControl(ctx, { type: 'bots-changed', botId: bot.id });
        console.log(`added @${bot.username} as bot ${bot.id}`);
        return 0;
      }
      case 'start':
      case 'stop':
      case 'restart': {
        if (!Number.isInteger(id)) break;
        await controlBot(ctx, id, command);
        console.log(`bot ${id}: ${command} requested`);
        return 0;
      }
      case 'health': {
        const ids = arg
          ? [id]
          : (await ctx.db.botInstance.findMany({ where: { deletedAt: null }, select: { id: true } })).map((b) => b.id);
        for (const botId of ids) {
          const health = await botHealth(ctx, botId);
          console.log(health ? JSON.stringify(health, null, 2) : `bot ${botId}: not found`);
        }
        return 0;
      }
    }
    console.error(USAGE);
    return 2;
  } finally {
    await ctx.lifecycle.shutdown('cli done', 5_000);
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    const expected = err instanceof ConfigError || err instanceof StartupError || err instanceof BotRegistryError;
    console.error(expected ? err.message : `failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
