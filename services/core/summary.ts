import type { Config } from './config';
import type { PrismaClient } from './db';

/** Run from TypeScript sources (tsx) or from the compiled build: the commands a person is told to run differ. */
const compiled = import.meta.url.endsWith('.js');
const command = (npmScript: string, file: string) =>
  compiled ? `node dist/scripts/${file}.js` : `npm run ${npmScript} --`;

/**
 * What a person needs once a process has started, one line per item: where the dashboard (or this process's
 * metrics) is, which Telegram it talks to, how many bots run, and what to do next when there is no owner or
 * no bot yet.
 */
export async function startupSummary(
  db: PrismaClient,
  config: Config,
  ports: { api?: number; ops?: number },
): Promise<string[]> {
  // A server listening on every interface is reached locally on loopback.
  const host = ['0.0.0.0', '::', '[::]'].includes(config.API_HOST) ? '127.0.0.1' : config.API_HOST;
  const lines: string[] = [];
  if (config.ROLES.includes('api')) lines.push(`Dashboard: http://${host}:${ports.api}/`);
  else lines.push(`Metrics: http://${host}:${ports.ops}/metrics`);
  lines.push(`Telegram API: ${config.TELEGRAM_API_ROOT}`);

  const [active, registered, owners] = await Promise.all([
    db.botInstance.count({ where: { deletedAt: null, isActive: true } }),
    db.botInstance.count({ where: { deletedAt: null } }),
    db.adminUser.count({ where: { deletedAt: null, role: 'owner' } }),
  ]);
  lines.push(`Bots: ${active} active${registered > active ? ` (${registered} registered)` : ''}`);
  if (!owners)
    lines.push(
      config.ROLES.includes('api')
        ? `Next: no owner yet: open the dashboard and enter the one-time set-up code printed above (or run ${command('admin:create', 'admin-create')} you@example.com)`
        : `Next: no owner yet: open the dashboard and enter the one-time set-up code the api process printed (or run ${command('admin:create', 'admin-create')} you@example.com)`,
    );
  if (!registered) {
    const key = config.TOKEN_ENCRYPTION_KEY ? '' : ' with TOKEN_ENCRYPTION_KEY=$(openssl rand -hex 32)';
    lines.push(
      `Next: no bot yet: set BOT_TOKEN (from @BotFather)${key}, or run ${command('bots', 'bots')} add <token>`,
    );
  } else if (!active) {
    lines.push(`Next: no bot is active: run ${command('bots', 'bots')} list, then start <id>`);
  }
  return lines;
}
