/**
 * Re-encrypts every stored bot token with a new key, in one transaction (all or nothing):
 *   TOKEN_ENCRYPTION_KEY=<current> NEW_TOKEN_ENCRYPTION_KEY=<new> npm run rotate-key
 * Then deploy the new key as TOKEN_ENCRYPTION_KEY and restart the processes.
 */
import { loadConfig } from '../services/core/config';
import { decryptSecret, encryptSecret } from '../services/core/crypto';
import { createDatabase, type PrismaClient } from '../services/core/db';

export async function rotateTokenKey(db: PrismaClient, oldKey: Buffer, newKey: Buffer): Promise<number> {
  return db.$transaction(async (tx) => {
    const bots = await tx.botInstance.findMany({ select: { id: true, tokenEncrypted: true } });
    for (const bot of bots) {
      const resealed = encryptSecret(decryptSecret(bot.tokenEncrypted, oldKey), newKey);
      await tx.botInstance.update({ where: { id: bot.id }, data: { tokenEncrypted: resealed } });
    }
    return bots.length;
  });
}

async function main() {
  const current = loadConfig();
  const next = loadConfig({ TOKEN_ENCRYPTION_KEY: process.env.NEW_TOKEN_ENCRYPTION_KEY });
  if (!current.TOKEN_ENCRYPTION_KEY || !next.TOKEN_ENCRYPTION_KEY)
    throw new Error(
      'set TOKEN_ENCRYPTION_KEY (current) and NEW_TOKEN_ENCRYPTION_KEY (new), each 32 bytes (openssl rand -hex 32)',
    );
  const db = createDatabase({ url: current.DATABASE_URL });
  try {
    const count = await rotateTokenKey(db, current.TOKEN_ENCRYPTION_KEY, next.TOKEN_ENCRYPTION_KEY);
    console.log(`re-encrypted ${count} bot token(s); now set TOKEN_ENCRYPTION_KEY to the new key and restart`);
  } finally {
    await db.$disconnect();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
}
