// The COPY writer writes byte for byte the CSV the previous writer (cursor + csv-stringify with escape_formulas,
// kept as bench:maintenance's baseline) wrote: same header, same quoting, same formula escaping, for every kind.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExportKind } from '../../services/core/config';
import { writeExportFile, type ExportFile } from '../../services/maintenance/export-writer';
import { writeExportFileWithCursor } from '../../scripts/bench/cursor-export-writer';
import { useTestDatabase } from '../support/db';
import { insertApiCalls, insertVerifications, makeBot, makeGroup } from './helpers';

const db = useTestDatabase();
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'nezuko-export-copy-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Every first character csv-stringify escapes, the ones it does not, and what needs quoting. */
const TRICKY = [
  '=HYPERLINK("http://evil.example","x")',
  '+1',
  '-1',
  '@SUM(A1)',
  '\tTab first',
  '\rCR first',
  '\uFF1Dfull-width equals',
  '\uFF0Bfull-width plus',
  '\uFF0Dfull-width minus',
  '\uFF20full-width at',
  '',
  "'already quoted",
  'plain',
  'comma, inside',
  'quote " inside',
  'line\nbreak',
  'ends with CR\r',
  ' space first',
  'ünïcödé ✓',
];

let exportId = 900_000;
async function both(kind: ExportKind, filters = {}) {
  const spec = { kind, filters, databaseUrl: db.url, exportDir: dir };
  const read = async (file: ExportFile) => gunzipSync(await readFile(path.join(dir, file.filePath))).toString('utf8');
  const copy = await writeExportFile({ ...spec, exportId: exportId++ });
  const cursor = await writeExportFileWithCursor({ ...spec, exportId: exportId++ });
  return { copy, cursor, copyText: await read(copy), cursorText: await read(cursor) };
}

describe('COPY export writer', () => {
  it('writes the same bytes as the csv-stringify writer for every kind, tricky values included', async () => {
    const prisma = db.prisma;
    const bot = await makeBot(prisma);
    const groups = [];
    // A title needs a non-space character (CHECK); empty values are covered by the audit rows below.
    for (const [i, title] of TRICKY.filter((t) => /\S/.test(t)).entries()) {
      const g = await makeGroup(prisma, bot.id, { title });
      await prisma.protectedGroup.update({
        where: { id: g.id },
        data: {
          username: i % 2 ? `group_${i}` : null,
          missingRights: i % 3 === 0 ? [] : ['can_restrict_members', 'can_delete_messages'],
          memberCount: i % 2 ? null : i * 1000,
          botRemovedAt: i % 5 === 0 ? new Date(Date.UTC(2026, 0, 1, 0, 0, i)) : null,
        },
      });
      groups.push(g);
    }
    await insertVerifications(
      prisma,
      groups.flatMap((g, i) => [
        {
          botInstanceId: bot.id,
          chatId: g.chatId,
          userId: BigInt(1000 + i),
          status: 'error' as const,
          latencyMs: i,
          cached: i % 2 === 0,
          createdAt: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, i)),
        },
        {
          botInstanceId: bot.id,
          chatId: -42n, // no such group: empty title
          status: 'verified' as const,
          latencyMs: 0,
          cached: false,
          createdAt: new Date(),
        },
      ]),
    );
    await insertApiCalls(prisma, [
      { botInstanceId: bot.id, method: 'getChatMember', success: true, latencyMs: 3, createdAt: new Date() },
      {
        botInstanceId: bot.id,
        method: 'sendMessage',
        success: false,
        errorCode: 429,
        chatId: -100123n,
        latencyMs: 9,
        createdAt: new Date(),
      },
    ]);
    for (const [i, value] of TRICKY.entries())
      await prisma.adminAuditLog.create({
        data: {
          action: 'group.update',
          resourceType: 'group',
          resourceId: value || null,
          actorEmail: value || null,
          ip: i % 2 ? '-1.2.3.4' : '203.0.113.9',
          userAgent: value,
          oldValues: i % 2 ? { title: value } : undefined,
          newValues: { title: value, n: -i },
        },
      });

    for (const kind of ['groups', 'verifications', 'api_calls', 'audit'] as const) {
      const { copy, cursor, copyText, cursorText } = await both(kind);
      expect(copyText.split('\n')[0], kind).toBe(cursorText.split('\n')[0]);
      expect(copyText, kind).toBe(cursorText);
      expect(copy.rows, kind).toBe(cursor.rows);
      expect(copy.rows, kind).toBeGreaterThan(1);
    }
    // Filters reach COPY as escaped literals: the same rows as the parameterised cursor query.
    const filtered = await both('verifications', {
      botId: bot.id,
      status: 'error',
      groupChatId: String(groups[0]!.chatId),
      from: '2026-01-01T00:00:00Z',
      to: '2026-02-01T00:00:00Z',
    });
    expect(filtered.copyText).toBe(filtered.cursorText);
    expect(filtered.copy.rows).toBe(1);
    // A quote in a value stays inside its literal (filters are validated before; this is the second wall).
    const injected = await writeExportFile({
      kind: 'verifications',
      filters: { status: "error' OR '1'='1" as never },
      databaseUrl: db.url,
      exportDir: dir,
      exportId: exportId++,
    });
    expect(injected.rows).toBe(0);
  });
});
