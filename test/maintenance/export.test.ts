import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logger } from '../../services/core/logger';
import { ExportRequestError, exportFilePath, requestExport } from '../../queues';
import { ExportUnavailableError, openExportFile } from '../../services/api/export-files';
import { runExport, writeExportFileInChild } from '../../services/maintenance/export';
import { ExportFailedError } from '../../services/maintenance/export-writer';
import { runScheduledExports } from '../../services/maintenance/scheduled-export';
import { useTestDatabase } from '../support/db';
import { insertApiCalls, insertVerifications, makeBot, makeGroup, type VerificationRow } from './helpers';

const db = useTestDatabase();
let dir: string;
const added: Array<{ name: string; data: unknown; opts: unknown }> = [];
const queue = {
  add: async (name: string, data: unknown, opts: unknown) => void added.push({ name, data, opts }),
} as never;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'nezuko-export-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** RFC 4180: quoted fields, doubled quotes, newlines inside quotes. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else if (c !== '\r') field += c;
  }
  if (field || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

const deps = () => ({ db: db.prisma, databaseUrl: db.url, exportDir: dir, log: logger });

async function readExport(exportId: number) {
  const row = await db.prisma.export.findUniqueOrThrow({ where: { id: exportId } });
  const file = exportFilePath(dir, row.filePath!)!;
  const gz = await readFile(file);
  const [header, ...records] = parseCsv(gunzipSync(gz).toString('utf8'));
  return {
    row,
    gz,
    header: header!,
    records: records.map((r) => Object.fromEntries(header!.map((h, i) => [h, r[i]!]))),
  };
}

describe('CSV exports', () => {
  it('writes exactly the filtered rows, escapes formulas, and records rows, bytes, sha256 and progress', async () => {
    const prisma = db.prisma;
    const bot = await makeBot(prisma);
    const other = await makeBot(prisma);
    const evil = await makeGroup(prisma, bot.id, { title: '=HYPERLINK("http://evil.example","click")' });
    const plain = await makeGroup(prisma, bot.id, { title: 'Plain, "quoted"\ngroup' });
    const day = Date.UTC(2026, 0, 10);
    const rows: VerificationRow[] = [];
    for (let i = 0; i < 12_000; i++) {
      rows.push({
        botInstanceId: i % 3 === 0 ? other.id : bot.id,
        chatId: i % 2 ? evil.chatId : plain.chatId,
        userId: BigInt(100 + i),
        status: (['verified', 'restricted', 'error'] as const)[i % 3 === 1 ? 1 : i % 5 === 0 ? 2 : 0],
        latencyMs: i % 1000,
        cached: i % 2 === 0,
        createdAt: new Date(day - 3_600_000 + i * 1000), // spans the day's start
      });
    }
    await insertVerifications(prisma, rows);

    const filters = { botId: bot.id, from: new Date(day).toISOString(), to: new Date(day + 86_400_000).toISOString() };
    const requested = await requestExport(
      { db: prisma, exportsQueue: queue },
      { kind: 'verifications', filters, requestedById: null },
    );
    expect(requested.status).toBe('queued');
    expect(added.at(-1)).toMatchObject({
      name: 'export',
      data: { exportId: requested.id },
      opts: { jobId: `export-${requested.id}` },
    });

    const progress: number[] = [];
    const outcome = await runExport(deps(), requested.id, {
      fetchRows: 1000,
      progressEveryMs: 0,
      onProgress: (n) => void progress.push(n),
    });
    expect(outcome.status).toBe('done');

    const { row, gz, header, records } = await readExport(requested.id);
    const expected = rows.filter(
      (r) => r.botInstanceId === bot.id && r.createdAt.getTime() >= day && r.createdAt.getTime() < day + 86_400_000,
    );
    expect(header).toEqual([
      'id',
      'created_at',
      'bot_id',
      'bot_username',
      'group_chat_id',
      'group_title',
      'user_id',
      'status',
      'latency_ms',
      'cached',
      'error_type',
      'reason',
    ]);
    expect(records).toHaveLength(expected.length);
    expect(records.map((r) => r.user_id)).toEqual(expected.map((r) => String(r.userId)));
    expect(records.every((r) => r.bot_id === String(bot.id) && r.bot_username === bot.username)).toBe(true);
    // Negative chat ids are numbers, not formulas: left as they are.
    expect(records.find((r) => r.group_chat_id === String(evil.chatId))?.group_title).toBe(
      `'=HYPERLINK("http://evil.example","click")`,
    );
    expect(records.find((r) => r.group_chat_id === String(plain.chatId))?.group_title).toBe('Plain, "quoted"\ngroup');
    expect(records.filter((r) => r.status === 'error').every((r) => r.error_type === 'timeout')).toBe(true);

    expect(row).toMatchObject({
      status: 'done',
      rows: BigInt(expected.length),
      progressRows: BigInt(expected.length),
      bytes: BigInt(gz.length),
      error: null,
    });
    expect(row.sha256).toBe(createHash('sha256').update(gz).digest('hex'));
    expect(row.startedAt!.getTime()).toBeLessThanOrEqual(row.finishedAt!.getTime());
    // Progress moved forward batch by batch, and ended at the row count.
    expect(progress.length).toBeGreaterThan(3);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
    expect(progress.at(-1)).toBe(expected.length);

    // A duplicate job does nothing.
    expect(await runExport(deps(), requested.id)).toMatchObject({ status: 'skipped' });

    // Download: the file, its size and checksum.
    const download = await openExportFile({ db: prisma, config: { EXPORT_DIR: dir } }, requested.id);
    const chunks: Buffer[] = [];
    for await (const c of download.stream) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(gz)).toBe(true);
    expect(download).toMatchObject({ bytes: gz.length, sha256: row.sha256, fileName: row.filePath });
    expect(download.fileName).toMatch(/^export-\d+-verifications-\d{8}T\d{6}Z\.csv\.gz$/);
  });

  it('filters by status and group; api_calls, groups and audit kinds', async () => {
    const prisma = db.prisma;
    const bot = await makeBot(prisma);
    const g1 = await makeGroup(prisma, bot.id, { title: '@SUM(A1)' });
    const g2 = await makeGroup(prisma, bot.id, { enabled: false });
    await makeGroup(prisma, bot.id, { botRemovedAt: new Date() });
    const now = new Date();
    await insertVerifications(prisma, [
      { botInstanceId: bot.id, chatId: g1.chatId, status: 'restricted', latencyMs: 5, cached: false, createdAt: now },
      { botInstanceId: bot.id, chatId: g1.chatId, status: 'verified', latencyMs: 5, cached: false, createdAt: now },
      { botInstanceId: bot.id, chatId: g2.chatId, status: 'restricted', latencyMs: 5, cached: false, createdAt: now },
    ]);
    await insertApiCalls(prisma, [
      { botInstanceId: bot.id, method: 'getChatMember', success: true, latencyMs: 3, createdAt: now },
      {
        botInstanceId: bot.id,
        method: 'sendMessage',
        success: false,
        errorCode: 429,
        chatId: g1.chatId,
        latencyMs: 9,
        createdAt: now,
      },
    ]);
    await prisma.adminAuditLog.create({
      data: {
        action: 'group.update',
        resourceType: 'group',
        resourceId: String(g1.id),
        actorEmail: '+cmd@example.com',
        newValues: { title: '=1+1' },
      },
    });

    const run = async (kind: 'verifications' | 'api_calls' | 'groups' | 'audit', filters: object) => {
      const r = await requestExport({ db: prisma, exportsQueue: queue }, { kind, filters });
      expect((await runExport(deps(), r.id)).status).toBe('done');
      return (await readExport(r.id)).records;
    };
    const v = await run('verifications', { botId: bot.id, groupChatId: String(g1.chatId), status: 'restricted' });
    expect(v).toHaveLength(1);
    expect(v[0]).toMatchObject({ status: 'restricted', group_chat_id: String(g1.chatId), group_title: `'@SUM(A1)` });

    const a = await run('api_calls', { botId: bot.id, status: 'failure' });
    expect(a).toEqual([
      expect.objectContaining({
        method: 'sendMessage',
        success: 'false',
        error_code: '429',
        chat_id: String(g1.chatId),
      }),
    ]);

    expect((await run('groups', { botId: bot.id })).map((g) => g.title)).toHaveLength(3);
    expect((await run('groups', { botId: bot.id, status: 'enabled' })).map((g) => g.id)).toEqual([String(g1.id)]);
    expect(await run('groups', { botId: bot.id, status: 'removed' })).toHaveLength(1);

    const audit = await run('audit', {});
    expect(audit.at(-1)).toMatchObject({
      action: 'group.update',
      actor_email: `'+cmd@example.com`,
      new_values: '{"title": "=1+1"}',
    });
  });

  it('rejects bad filters with a clear error', async () => {
    const r = (kind: never, filters: unknown) =>
      requestExport({ db: db.prisma, exportsQueue: queue }, { kind, filters });
    await expect(r('verifications' as never, { status: 'bogus' })).rejects.toThrow(ExportRequestError);
    await expect(r('verifications' as never, { from: 'yesterday' })).rejects.toThrow(/ISO 8601/);
    await expect(
      r('verifications' as never, { from: '2026-01-02T00:00:00Z', to: '2026-01-01T00:00:00Z' }),
    ).rejects.toThrow(/before/);
    await expect(r('audit' as never, { botId: 1 })).rejects.toThrow(ExportRequestError);
    await expect(r('nope' as never, {})).rejects.toThrow(ExportRequestError);
    await expect(r('verifications' as never, { extra: 1 })).rejects.toThrow(ExportRequestError);
  });

  it('a failing export is marked failed with its reason and leaves no file; an interrupted one too', async () => {
    const prisma = db.prisma;
    // A database that refuses the connection makes the export fail after it was claimed.
    const bad = await prisma.export.create({ data: { kind: 'verifications', filters: {} } });
    const outcome = await runExport({ ...deps(), databaseUrl: 'postgresql://nobody@127.0.0.1:1/none' }, bad.id);
    expect(outcome.status).toBe('failed');
    const row = await prisma.export.findUniqueOrThrow({ where: { id: bad.id } });
    expect(row.status).toBe('failed');
    expect(row.error).toBeTruthy();
    expect(row.finishedAt).not.toBeNull();
    expect((await readdir(dir)).filter((f) => f.includes(`-${bad.id}`))).toEqual([]);

    // Aborted mid-way (shutdown): failed, partial file removed.
    const bot = await makeBot(prisma);
    await insertVerifications(
      prisma,
      Array.from({ length: 20_000 }, (_, i) => ({
        botInstanceId: bot.id,
        chatId: -9n,
        status: 'verified' as const,
        latencyMs: i % 50,
        cached: false,
        createdAt: new Date(),
      })),
    );
    const big = await prisma.export.create({ data: { kind: 'verifications', filters: {} } });
    const abort = new AbortController();
    const aborted = await runExport(deps(), big.id, {
      fetchRows: 500,
      progressEveryMs: 0,
      signal: abort.signal,
      onProgress: () => abort.abort(),
    });
    expect(aborted).toMatchObject({ status: 'failed', error: expect.stringMatching(/interrupted/) });
    expect((await readdir(dir)).filter((f) => f.includes(`-${big.id}`))).toEqual([]);

    // A crash mid-export (row left running, partial file on disk): the re-delivered job marks it failed and removes the file.
    const crashed = await prisma.export.create({
      data: { kind: 'verifications', filters: {}, status: 'running', startedAt: new Date() },
    });
    const partial = path.join(dir, `.export-${crashed.id}.partial`);
    await (await import('node:fs/promises')).writeFile(partial, 'half a file');
    expect(await runExport(deps(), crashed.id)).toMatchObject({ status: 'failed' });
    expect(existsSync(partial)).toBe(false);
    expect((await prisma.export.findUniqueOrThrow({ where: { id: crashed.id } })).status).toBe('failed');
  });

  it('in a process of its own (as the maintenance role runs it): the same file, progress, its peak RSS; abort and bad input fail cleanly', async () => {
    const prisma = db.prisma;
    const bot = await makeBot(prisma);
    const g = await makeGroup(prisma, bot.id, { title: '+SUM(1)' });
    await insertVerifications(
      prisma,
      Array.from({ length: 30_000 }, (_, i) => ({
        botInstanceId: bot.id,
        chatId: g.chatId,
        userId: BigInt(i + 1),
        status: 'verified' as const,
        latencyMs: i % 90,
        cached: i % 2 === 0,
        createdAt: new Date(),
      })),
    );
    const inProcess = await requestExport(
      { db: prisma, exportsQueue: queue },
      { kind: 'verifications', filters: { botId: bot.id } },
    );
    const inChild = await requestExport(
      { db: prisma, exportsQueue: queue },
      { kind: 'verifications', filters: { botId: bot.id } },
    );
    expect((await runExport(deps(), inProcess.id)).status).toBe('done');
    const progress: number[] = [];
    const outcome = await runExport(deps(), inChild.id, {
      writer: writeExportFileInChild,
      fetchRows: 2_000,
      progressEveryMs: 0,
      onProgress: (n) => void progress.push(n),
    });
    expect(outcome.status).toBe('done');
    const a = await readExport(inProcess.id);
    const b = await readExport(inChild.id);
    expect(b.records).toHaveLength(30_000);
    expect(b.records).toEqual(a.records);
    expect(b.records[0]!.group_title).toBe("'+SUM(1)");
    expect(b.row.sha256).toBe(createHash('sha256').update(b.gz).digest('hex'));
    expect(progress.length).toBeGreaterThan(5);
    expect(progress.at(-1)).toBe(30_000);
    // The export process loads no Prisma, BullMQ or Redis client: it starts at ~80 MB (node + tsx ≈ 75).
    // Loading the maintenance process' modules would put it near 190 MB before the first row.
    if (outcome.status !== 'done') throw new Error('unreachable');
    expect(outcome.process!.startRssMb).toBeLessThan(120);
    expect(outcome.process!.peakRssMb).toBeLessThan(150);

    // Aborted (shutdown): the process is stopped, the partial file removed, the export marked failed.
    const big = await requestExport(
      { db: prisma, exportsQueue: queue },
      { kind: 'verifications', filters: { botId: bot.id } },
    );
    const abort = new AbortController();
    const aborted = await runExport(deps(), big.id, {
      writer: writeExportFileInChild,
      fetchRows: 500,
      progressEveryMs: 0,
      signal: abort.signal,
      onProgress: () => abort.abort(),
    });
    expect(aborted).toMatchObject({ status: 'failed', error: expect.stringMatching(/interrupted/) });
    expect((await readdir(dir)).filter((f) => f.includes(`-${big.id}`))).toEqual([]);

    // A failure inside the export process comes back as the export's reason.
    const broken = await requestExport({ db: prisma, exportsQueue: queue }, { kind: 'verifications', filters: {} });
    const failed = await runExport({ ...deps(), databaseUrl: 'postgresql://nobody@127.0.0.1:1/none' }, broken.id, {
      writer: writeExportFileInChild,
    });
    expect(failed).toMatchObject({ status: 'failed', error: 'could not reach the database; request the export again' });
    expect(await prisma.export.findUniqueOrThrow({ where: { id: broken.id } })).toMatchObject({
      status: 'failed',
      filePath: null,
    });
    expect((await readdir(dir)).filter((f) => f.includes(`-${broken.id}`))).toEqual([]);
  });

  it("a failed export shows a clean reason, never PostgreSQL's text", async () => {
    const prisma = db.prisma;
    // Filters stored by an older version that did not validate them: refused before any query runs.
    const stale = await prisma.export.create({
      data: { kind: 'verifications', filters: { from: '0000-01-01T00:00:00Z' } },
    });
    const outcome = await runExport(deps(), stale.id, { writer: writeExportFileInChild });
    expect(outcome).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(
        /^the stored filters are not valid any more \(from: the year must be 0001 to 9999\)/,
      ),
    });
    // The same value reaching PostgreSQL in the export process: the reason is ours, PostgreSQL's words go to the log.
    const failure = await writeExportFileInChild(
      {
        exportId: 999_001,
        kind: 'verifications',
        filters: { from: '0000-01-01T00:00:00Z' },
        databaseUrl: db.url,
        exportDir: dir,
      },
      {},
    ).catch((e: unknown) => e as ExportFailedError);
    expect(failure).toBeInstanceOf(ExportFailedError);
    expect((failure as ExportFailedError).message).toBe(
      'a filter value was refused by the database (out of range or malformed); request the export again with other filters',
    );
    expect((failure as ExportFailedError).detail).toMatch(/date\/time field value out of range/);
    const row = await prisma.export.findUniqueOrThrow({ where: { id: stale.id } });
    expect(row.error).not.toMatch(/relation|column|timestamptz|out of range:|syntax|at character/);
  });

  it('opens only finished files inside EXPORT_DIR', async () => {
    const prisma = db.prisma;
    const queued = await prisma.export.create({ data: { kind: 'groups', filters: {} } });
    await expect(openExportFile({ db: prisma, config: { EXPORT_DIR: dir } }, queued.id)).rejects.toMatchObject({
      reason: 'not_ready',
    });
    await expect(openExportFile({ db: prisma, config: { EXPORT_DIR: dir } }, 999_999)).rejects.toMatchObject({
      reason: 'not_found',
    });
    const sneaky = await prisma.export.create({
      data: {
        kind: 'groups',
        filters: {},
        status: 'done',
        rows: 0,
        bytes: 0,
        sha256: 'a'.repeat(64),
        filePath: '../../etc/passwd',
        startedAt: new Date(),
        finishedAt: new Date(),
      },
    });
    await expect(openExportFile({ db: prisma, config: { EXPORT_DIR: dir } }, sneaky.id)).rejects.toThrow(
      ExportUnavailableError,
    );
    expect(exportFilePath(dir, '../x')).toBeNull();
    expect(exportFilePath(dir, 'sub/x')).toBeNull();
  });

  it('daily export: the previous UTC day, once per day however often it runs', async () => {
    const prisma = db.prisma;
    const at = new Date(Date.UTC(2026, 2, 5, 2, 0, 0));
    const first = await runScheduledExports({ db: prisma, exportsQueue: queue }, ['verifications', 'groups'], at);
    const again = await runScheduledExports(
      { db: prisma, exportsQueue: queue },
      ['verifications', 'groups'],
      new Date(at.getTime() + 60_000),
    );
    expect(first.map((e) => e.created)).toEqual([true, true]);
    expect(again.map((e) => [e.exportId, e.created])).toEqual(first.map((e) => [e.exportId, false]));
    const row = await prisma.export.findUniqueOrThrow({ where: { id: first[0]!.exportId } });
    expect(row).toMatchObject({
      kind: 'verifications',
      scheduled: true,
      filters: { from: '2026-03-04T00:00:00.000Z', to: '2026-03-05T00:00:00.000Z' },
    });
    const size = (await stat(dir)).isDirectory();
    expect(size).toBe(true);
  });
});
