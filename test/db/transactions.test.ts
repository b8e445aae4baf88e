// A failed interactive transaction rolls back and re-throws the error that caused it, with its own stack.
import { describe, expect, test } from 'vitest';
import { Prisma } from '../../services/core/db';
import { useTestDatabase } from '../support/db';
import { makeBot } from './fixtures';

const tdb = useTestDatabase();

class BusinessRuleError extends Error {}

function failInsideTransaction(): never {
  throw new BusinessRuleError('rule broken after the first write');
}

describe('transactions', () => {
  test('an error thrown inside rolls everything back and reaches the caller unchanged, stack included', async () => {
    const before = await tdb.prisma.botInstance.count();
    let caught: unknown;
    try {
      await tdb.prisma.$transaction(async (tx) => {
        await makeBot(tx as never);
        failInsideTransaction();
      });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(BusinessRuleError);
    expect((caught as Error).message).toBe('rule broken after the first write');
    expect((caught as Error).stack).toContain('failInsideTransaction');
    expect(await tdb.prisma.botInstance.count()).toBe(before);
  });

  test('a database error inside rolls back and surfaces as the database error', async () => {
    const bot = await makeBot(tdb.prisma);
    const before = await tdb.prisma.botInstance.count();
    const attempt = tdb.prisma.$transaction(async (tx) => {
      await makeBot(tx as never);
      // Same Telegram bot id: the unique key refuses it.
      await tx.botInstance.create({
        data: { telegramBotId: bot.telegramBotId, username: 'dup', name: 'Dup', tokenEncrypted: 'v1:x:y:z' },
      });
    });
    await expect(attempt).rejects.toBeInstanceOf(Prisma.PrismaClientKnownRequestError);
    await expect(attempt).rejects.toMatchObject({ code: 'P2002' });
    expect(await tdb.prisma.botInstance.count()).toBe(before);
  });
});
