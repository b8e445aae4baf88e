// Benchmark: maintenance jobs on a throw-away database cloned from the migrated test template
// (npm test or npm run setup creates it). Figures are compared with a baseline measured in the same run.
//   - full rollup of N verification_log rows vs. a plain GROUP BY over the same rows (no write);
//   - incremental rollup of 1% new rows;
//   - dashboard read (Redis, PostgreSQL) vs. the live aggregation it replaces;
//   - CSV export of every row, written the way the maintenance role writes it (in an export process of its own):
//     rows/s from request to finished file, that process' RSS before the first row and its peak (VmHWM), with
//     the previous writer (cursor + csv-stringify) in the same run as the baseline;
//   - retention of about half the rows: rows/s and the longest single DELETE (the longest lock it held).
// Usage: npx tsx scripts/bench/maintenance.ts [-- --rows 1000000]
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createDatabase, type PrismaClient } from '../../services/core/db';
import { logger } from '../../services/core/logger';
import { createRedis, keyspace } from '../../services/core/redis';
import { dashboardKey } from '../../queues';
import { readDashboard } from '../../services/api/stats';
import { writeDashboard } from '../../services/maintenance/dashboard';
import {
  runExport,
  writeExportFileInChild,
  writeInProcess,
  type ExportWriter,
} from '../../services/maintenance/export';
import { runRetention } from '../../services/maintenance/retention';
import { API_CALL_ROLLUP, rollupTable, VERIFICATION_ROLLUP } from '../../services/maintenance/rollup';
import { benchDatabase, report } from './support';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
  },
});

const CURSOR_EXPORT_PROCESS = fileURLToPath(new URL('./cursor-export-process.ts', import.meta.url));
const ms = (t0: number) => performance.now() - t0;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

const N = Number(values.rows);
// A database migrated for this run (prisma migrate deploy), dropped at the end.
const { url, drop } = await benchDatabase('maintenance');
const db: PrismaClient = createDatabase({ url, poolSize: 4 });
const redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const keys = keyspace(`bench${randomBytes(3).toString('hex')}`);
const dir = await mkdtemp(path.join(tmpdir(), 'nezuko-bench-'));

try {
  console.log(
    `maintenance benchmark: ${fmt(N)} verification_log rows (20 bots, 400 groups, 30 days), ${fmt(N / 4)} api_call_log rows`,
  );
  await db.$executeRaw`
    INSERT INTO bot_instances (telegram_bot_id, username, name, token_encrypted, status)
    SELECT 9000000 + i, 'bench' || i || '_bot', 'Bench ' || i, 'v1:x', 'running' FROM generate_series(1, 20) i`;
  await db.$executeRaw`
    INSERT INTO protected_groups (bot_instance_id, chat_id, title, enabled)
    SELECT 1 + (i % 20), -1001000000000 - i, CASE WHEN i % 50 = 0 THEN '=HYPERLINK("x")' ELSE 'Group ' || i END, true FROM generate_series(1, 400) i`;
  const insertVerifications = (n: number, daysBack: number) =>
    db.$executeRawUnsafe(`
    INSERT INTO verification_log (bot_instance_id, chat_id, user_id, status, latency_ms, cached, error_type, created_at)
    SELECT 1 + (i % 20), -1001000000000 - (i % 400) - 1, 1000 + i,
      (ARRAY['verified','restricted','approved','declined','skipped','error'])[1 + (i * 7 % 6)],
      (random() * 3000)::int, i % 3 = 0, CASE WHEN i * 7 % 6 = 5 THEN 'timeout' END,
      now() - random() * interval '${daysBack} days'
    FROM generate_series(1, ${n}) i`);
  let t0 = performance.now();
  await insertVerifications(N, 30);
  await db.$executeRawUnsafe(`
    INSERT INTO api_call_log (bot_instance_id, method, success, error_code, latency_ms, created_at)
    SELECT 1 + (i % 20), (ARRAY['getChatMember','restrictChatMember','sendMessage'])[1 + i % 3], i % 10 <> 0,
      CASE WHEN i % 10 = 0 THEN 429 END, (random() * 500)::int, now() - random() * interval '30 days'
    FROM generate_series(1, ${N / 4}) i`);
  await db.$executeRawUnsafe('VACUUM ANALYZE verification_log');
  await db.$executeRawUnsafe('VACUUM ANALYZE api_call_log');
  console.log(`  set-up (generate_series inserts + VACUUM ANALYZE): ${fmt(ms(t0))} ms`);

  // Baseline: the same aggregation without writing anything.
  t0 = performance.now();
  await db.$queryRawUnsafe(`
    SELECT bot_instance_id, chat_id, date_trunc('hour', created_at, 'UTC'), count(*), count(*) FILTER (WHERE status = 'verified'),
      count(*) FILTER (WHERE cached), sum(latency_ms)
    FROM verification_log GROUP BY 1, 2, 3`);
  const baseline = ms(t0);
  t0 = performance.now();
  const full = await rollupTable(db, VERIFICATION_ROLLUP);
  const fullMs = ms(t0);
  const statRows = await db.verificationStatsHourly.count();
  console.log(
    `  full rollup:        ${fmt(fullMs)} ms for ${fmt(full.rows)} rows (${fmt(full.rows / (fullMs / 1000))} rows/s) → ${fmt(statRows)} hourly rows; plain GROUP BY baseline ${fmt(baseline)} ms (ratio ${(fullMs / baseline).toFixed(2)})`,
  );

  await insertVerifications(N / 100, 1);
  t0 = performance.now();
  const inc = await rollupTable(db, VERIFICATION_ROLLUP);
  console.log(
    `  incremental rollup: ${fmt(ms(t0))} ms for ${fmt(inc.rows)} new rows (vs full: ${((ms(t0) / fullMs) * 100).toFixed(1)}%)`,
  );
  await rollupTable(db, API_CALL_ROLLUP);

  t0 = performance.now();
  await writeDashboard({ db, redis, keys });
  const snapshotMs = ms(t0);
  const reads = 50;
  t0 = performance.now();
  for (let i = 0; i < reads; i++) await readDashboard({ db, redis, keys });
  const redisRead = ms(t0) / reads;
  await redis.del(dashboardKey(keys));
  t0 = performance.now();
  for (let i = 0; i < reads; i++) await readDashboard({ db, redis, keys });
  const pgRead = ms(t0) / reads;
  const liveRuns = 3;
  t0 = performance.now();
  for (let i = 0; i < liveRuns; i++) {
    await db.$queryRawUnsafe(`
      SELECT bot_instance_id, count(*), count(*) FILTER (WHERE status = 'verified'), count(*) FILTER (WHERE created_at >= date_trunc('day', now())),
        count(*) FILTER (WHERE created_at >= now() - interval '7 days'), count(*) FILTER (WHERE cached), avg(latency_ms)
      FROM verification_log GROUP BY 1`);
  }
  const live = ms(t0) / liveRuns;
  console.log(
    `  dashboard: snapshot written in ${fmt(snapshotMs)} ms; read ${redisRead.toFixed(2)} ms (Redis), ${pgRead.toFixed(2)} ms (PostgreSQL) vs live aggregation ${fmt(live)} ms (${fmt(live / redisRead)}x slower than the Redis read)`,
  );

  // The export, written both ways in the same run, each in a process of its own as the maintenance role does:
  // the previous writer (cursor + csv-stringify) first, then the COPY writer Nezuko uses.
  const exportWith = async (writer: ExportWriter) => {
    const exp = await db.export.create({ data: { kind: 'verifications', filters: {} } });
    const t = performance.now();
    const outcome = await runExport({ db, databaseUrl: url, exportDir: dir, log: logger }, exp.id, { writer });
    const took = ms(t);
    if (outcome.status !== 'done' || !outcome.process)
      throw new Error(`export ${outcome.status}: ${JSON.stringify(outcome)}`);
    await rm(path.join(dir, outcome.filePath), { force: true });
    return { ...outcome, process: outcome.process, ms: took, rowsPerS: outcome.rows / (took / 1000) };
  };
  // Both writers start from a settled database: the set-up's writes flushed (a checkpoint running under one
  // writer and not the other would decide the comparison).
  await db.$executeRawUnsafe('CHECKPOINT');
  const previous = await exportWith((spec, options) => writeInProcess(CURSOR_EXPORT_PROCESS, spec, options));
  const exported = await exportWith(writeExportFileInChild);
  if (exported.rows !== previous.rows) throw new Error(`rows differ: ${exported.rows} vs ${previous.rows}`);
  for (const [label, e] of [
    ['previous writer (cursor + csv-stringify, gzip 6)', previous],
    ['COPY writer (COPY … TO STDOUT, gzip 1)', exported],
  ] as const)
    console.log(
      `  export, ${label}: ${fmt(e.rows)} rows in ${fmt(e.ms)} ms = ${fmt(e.rowsPerS)} rows/s from request to finished file (in the export process ${fmt(e.process.writeMs)} ms = ${fmt(e.rows / (e.process.writeMs / 1000))} rows/s), ${fmt(e.bytes / 1024)} KiB gzip; export process RSS ${e.process.startRssMb} MB before the first row, peak ${e.process.peakRssMb} MB (VmHWM)`,
    );
  console.log(
    `  export: ${fmt(exported.rowsPerS)} rows/s (target ≥ 300,000) ${exported.rowsPerS >= 300_000 ? 'ok' : 'MISS'}, ${(exported.rowsPerS / previous.rowsPerS).toFixed(2)}× the previous writer; peak RSS ${exported.process.peakRssMb} MB (target ≤ 100 MB) ${exported.process.peakRssMb <= 100 ? 'ok' : 'MISS'}, previous ${previous.process.peakRssMb} MB`,
  );

  let longest = 0;
  t0 = performance.now();
  const deleted = await runRetention(
    { db, config: { RETENTION_DAYS: 15, STATS_RETENTION_DAYS: 400, EXPORT_RETENTION_DAYS: 14, EXPORT_DIR: dir } },
    { onBatch: (_t, _n, batchMs) => (longest = Math.max(longest, batchMs)) },
  );
  const retentionMs = ms(t0);
  const gone = deleted.verification_log! + deleted.api_call_log!;
  console.log(
    `  retention: ${fmt(gone)} rows deleted in ${fmt(retentionMs)} ms = ${fmt(gone / (retentionMs / 1000))} rows/s; longest DELETE (5,000 rows) ${longest.toFixed(0)} ms`,
  );
  report(
    'maintenance',
    [
      { figure: 'full rollup (vs plain GROUP BY)', value: fullMs, baseline, unit: 'ms', ratio: baseline / fullMs },
      {
        figure: 'dashboard read (Redis snapshot vs live aggregation)',
        value: redisRead,
        baseline: live,
        unit: 'ms',
        ratio: live / redisRead,
      },
      {
        figure: 'export throughput, request to file (vs previous writer)',
        value: exported.rowsPerS,
        baseline: previous.rowsPerS,
        unit: 'rows/s',
        ratio: exported.rowsPerS / previous.rowsPerS,
      },
      {
        figure: 'export process peak RSS (vs previous writer)',
        value: exported.process.peakRssMb,
        baseline: previous.process.peakRssMb,
        unit: 'MB',
        ratio: exported.process.peakRssMb / previous.process.peakRssMb,
      },
      { figure: 'retention delete throughput', value: gone / (retentionMs / 1000), unit: 'rows/s' },
    ],
    { rows: N, loadAverage: os.loadavg() },
    { export_rows_per_s: Math.round(exported.rowsPerS), export_peak_rss_mb: exported.process.peakRssMb },
  );
} finally {
  await db.$disconnect();
  await redis.del(dashboardKey(keys));
  const leftovers = await redis.keys(`${keys.prefix}:*`);
  if (leftovers.length) await redis.del(...leftovers);
  await redis.quit();
  await drop();
  await rm(dir, { recursive: true, force: true });
}
