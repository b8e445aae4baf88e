// Index paths for the API's hot reads.
import { describe, expect, it } from 'vitest';
import { insertVerifications, makeBot } from '../maintenance/helpers';
import { useTestDatabase } from '../support/db';

const database = useTestDatabase();

describe('verification_log indexes', () => {
  it('a verifications page filtered by a rare status (error) reads its page through (status, id), not the whole table', async () => {
    const db = database.prisma;
    const bot = await makeBot(db);
    const now = Date.now();
    await insertVerifications(
      db,
      Array.from({ length: 50_000 }, (_, i) => ({
        botInstanceId: bot.id,
        chatId: -100n,
        status: i % 5_000 === 0 ? ('error' as const) : ('verified' as const),
        latencyMs: 5,
        cached: false,
        createdAt: new Date(now - i * 1000),
      })),
    );
    await db.$executeRawUnsafe('ANALYZE verification_log');
    // The query the verifications route runs for ?status=error (first page, limit 50).
    const [row] = await db.$queryRawUnsafe<Array<{ 'QUERY PLAN': unknown }>>(
      `EXPLAIN (ANALYZE, FORMAT JSON) SELECT v.id FROM verification_log v WHERE v.status = $1 ORDER BY v.id DESC LIMIT $2`,
      'error',
      51,
    );
    const plan = JSON.stringify(row!['QUERY PLAN']);
    expect(plan).toContain('verification_log_status_id_idx');
    const scanned = [...plan.matchAll(/"Actual Rows":(\d+)/g)].map((m) => Number(m[1]));
    expect(Math.max(...scanned)).toBeLessThanOrEqual(51);
  });
});
