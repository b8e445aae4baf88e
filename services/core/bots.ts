import type { UserFromGetMe } from 'telegraf/types';
import type { Config } from './config';
import { decryptSecret, encryptSecret, TokenDecryptionError } from './crypto';
import type { PrismaClient } from './db';
import { describeError, isTelegramError } from './telegram/errors';
import { getMeWithPolicies } from './telegram/policies';

/** A bot as the roles need it: its token decrypted in memory only. */
export interface ActiveBot {
  id: number;
  telegramBotId: bigint;
  username: string;
  token: string;
}

export class BotRegistryError extends Error {
  override name = 'BotRegistryError';
  constructor(
    message: string,
    readonly code: 'key_missing' | 'key_wrong' | 'invalid_token' | 'telegram_unavailable' | 'duplicate' | 'not_found',
  ) {
    super(message);
  }
}

function requireKey(config: Pick<Config, 'TOKEN_ENCRYPTION_KEY'>): Buffer {
  if (!config.TOKEN_ENCRYPTION_KEY) {
    throw new BotRegistryError(
      'TOKEN_ENCRYPTION_KEY is not set but bot tokens are stored encrypted; set the key they were encrypted with (openssl rand -hex 32 for a new deployment)',
      'key_missing',
    );
  }
  return config.TOKEN_ENCRYPTION_KEY;
}

/**
 * Start-up check: a process refuses to run when tokens are stored and the key is missing or cannot decrypt them.
 * Trying one token is enough: all are sealed with the same key.
 */
export async function assertTokenKey(db: PrismaClient, config: Pick<Config, 'TOKEN_ENCRYPTION_KEY'>): Promise<void> {
  const sample = await db.botInstance.findFirst({ where: { deletedAt: null }, select: { tokenEncrypted: true } });
  if (!sample) return;
  const key = requireKey(config);
  try {
    decryptSecret(sample.tokenEncrypted, key);
  } catch (err) {
    if (err instanceof TokenDecryptionError)
      throw new BotRegistryError(
        'TOKEN_ENCRYPTION_KEY cannot decrypt the stored bot tokens: it is not the key they were encrypted with',
        'key_wrong',
      );
    throw err;
  }
}

export async function loadActiveBots(
  db: PrismaClient,
  config: Pick<Config, 'TOKEN_ENCRYPTION_KEY'>,
  ids?: number[],
): Promise<ActiveBot[]> {
  const rows = await db.botInstance.findMany({
    where: { isActive: true, deletedAt: null, ...(ids ? { id: { in: ids } } : {}) },
    select: { id: true, telegramBotId: true, username: true, tokenEncrypted: true },
    orderBy: { id: 'asc' },
  });
  if (!rows.length) return [];
  const key = requireKey(config);
  return rows.map((row) => ({
    id: row.id,
    telegramBotId: row.telegramBotId,
    username: row.username,
    token: decryptSecret(row.tokenEncrypted, key),
  }));
}

/**
 * Asks Telegram who a token belongs to, with the Bot API calls' retry and timeout. Only a 401 means the token is
 * invalid (Telegram's answer to a revoked or unknown token); anything else, once retries are spent, is Telegram
 * being unreachable or failing, which says nothing about the token.
 */
export async function checkToken(config: Pick<Config, 'TELEGRAM_API_ROOT'>, token: string): Promise<UserFromGetMe> {
  try {
    return await getMeWithPolicies(token, config.TELEGRAM_API_ROOT);
  } catch (err) {
    if (isTelegramError(err, 401))
      throw new BotRegistryError('Telegram does not accept this bot token', 'invalid_token');
    throw new BotRegistryError(
      `Could not validate the token: Telegram did not answer usably (${describeError(err)}); try again`,
      'telegram_unavailable',
    );
  }
}

/**
 * Registers a bot from its token (validated with getMe), or updates the token of a bot already known.
 * `failOnDuplicate` makes an existing live bot a conflict (the admin API's "add"); BOT_TOKEN at start-up
 * updates instead, so a rotated token just works.
 */
export async function registerBot(
  db: PrismaClient,
  config: Pick<Config, 'TOKEN_ENCRYPTION_KEY' | 'TELEGRAM_API_ROOT'>,
  token: string,
  options: { createdById?: number; failOnDuplicate?: boolean } = {},
) {
  const key = requireKey(config);
  const me = await checkToken(config, token);
  const existing = await db.botInstance.findUnique({ where: { telegramBotId: BigInt(me.id) } });
  if (existing && existing.deletedAt === null && options.failOnDuplicate) {
    throw new BotRegistryError(`Bot @${me.username} is already registered (id ${existing.id})`, 'duplicate');
  }
  const fields = { username: me.username, name: me.first_name, tokenEncrypted: encryptSecret(token, key) };
  return existing
    ? db.botInstance.update({ where: { id: existing.id }, data: { ...fields, deletedAt: null, isActive: true } })
    : db.botInstance.create({
        data: { ...fields, telegramBotId: BigInt(me.id), createdById: options.createdById ?? null },
      });
}
