// Every CHECK constraint and every unique key of the data model, against the migrated database.
import { beforeAll, describe, expect, test } from 'vitest';
import type { PrismaClient } from '../../services/core/db';
import { useTestDatabase } from '../support/db';
import {
  expectCheckViolation,
  expectUniqueViolation,
  hourStart,
  makeAdmin,
  makeBot,
  makeChannel,
  makeGroup,
  next,
  sha256Hex,
} from './fixtures';

const tdb = useTestDatabase();

interface Fixture {
  db: PrismaClient;
  adminId: number;
  botId: number;
  groupId: number;
  channelId: number;
}
let f: Fixture;

beforeAll(async () => {
  const db = tdb.prisma;
  const admin = await makeAdmin(db);
  const bot = await makeBot(db);
  const group = await makeGroup(db, bot.id);
  const channel = await makeChannel(db, bot.id);
  f = { db, adminId: admin.id, botId: bot.id, groupId: group.id, channelId: channel.id };
});

const user = () => BigInt(100_000 + next());
const future = () => new Date(Date.now() + 3_600_000);

// Small builders: a valid row of each table with one field overridden.
const admin = (data: object) => makeAdmin(f.db, data);
const session = (data: object) =>
  f.db.adminSession.create({ data: { adminUserId: f.adminId, tokenHash: sha256Hex(), expiresAt: future(), ...data } });
const apiToken = (data: object) =>
  f.db.apiToken.create({ data: { name: 'ci', tokenHash: sha256Hex(), tokenPrefix: 'nzk_ab12', ...data } });
const audit = (data: object) =>
  f.db.adminAuditLog.create({ data: { action: 'bot.create', resourceType: 'bot', ...data } });
const bot = (data: object) => makeBot(f.db, data);
const group = (data: object) => makeGroup(f.db, f.botId, data);
const channel = (data: object) => makeChannel(f.db, f.botId, data);
const whitelist = (data: object) =>
  f.db.groupWhitelist.create({ data: { botInstanceId: f.botId, groupId: f.groupId, userId: user(), ...data } });
const restriction = (data: object) =>
  f.db.restriction.create({ data: { botInstanceId: f.botId, groupId: f.groupId, userId: user(), ...data } });
const verification = (data: object) =>
  f.db.verificationLog.create({
    data: { botInstanceId: f.botId, chatId: -100n, userId: user(), status: 'verified', ...data },
  });
const apiCall = (data: object) =>
  f.db.apiCallLog.create({ data: { botInstanceId: f.botId, method: 'getChatMember', success: true, ...data } });
const vstats = (data: object) =>
  f.db.verificationStatsHourly.create({
    data: { botInstanceId: f.botId, chatId: BigInt(-next()), hour: hourStart(next()), ...data },
  });
const astats = (data: object) =>
  f.db.apiCallStatsHourly.create({
    data: { botInstanceId: f.botId, hour: hourStart(next()), method: `m${next()}`, ...data },
  });
const snapshot = (data: object) =>
  f.db.dashboardSnapshot.create({ data: { data: {}, generatedAt: new Date(), ...data } });
const watermark = (data: object) => f.db.rollupWatermark.create({ data: { name: `w${next()}`, ...data } });
const exportRow = (data: object) => f.db.export.create({ data: { kind: 'verifications', ...data } });

const halfPast = () => new Date(hourStart(next()).getTime() + 30 * 60_000);

// [constraint, what is wrong, a write that breaks only that constraint]
const checkCases: [string, string, () => Promise<unknown>][] = [
  ['admin_users_role_check', 'unknown role', () => admin({ role: 'superuser' })],
  ['admin_users_email_normalized_check', 'upper-case email', () => admin({ email: 'Alice@Example.com' })],
  ['admin_users_email_format_check', 'email with a space', () => admin({ email: ' bob@example.com' })],
  ['admin_users_email_format_check', 'email without @', () => admin({ email: 'not-an-email' })],
  ['admin_users_password_hash_check', 'blank password hash', () => admin({ passwordHash: '  ' })],
  ['admin_sessions_token_hash_check', 'token hash not sha256 hex', () => session({ tokenHash: 'plain-token' })],
  [
    'admin_sessions_expiry_check',
    'expires before it was created',
    () => session({ expiresAt: new Date(Date.now() - 1000) }),
  ],
  ['api_tokens_role_check', 'unknown role', () => apiToken({ role: 'root' })],
  ['api_tokens_token_hash_check', 'token hash not sha256 hex', () => apiToken({ tokenHash: 'ABC' })],
  ['api_tokens_name_check', 'blank name', () => apiToken({ name: ' ' })],
  ['admin_audit_log_action_check', 'blank action', () => audit({ action: '' })],
  ['admin_audit_log_resource_type_check', 'blank resource type', () => audit({ resourceType: '   ' })],
  ['bot_instances_status_check', 'unknown status', () => bot({ status: 'sleeping' })],
  ['bot_instances_restart_count_check', 'negative restart count', () => bot({ restartCount: -1 })],
  ['bot_instances_telegram_bot_id_check', 'non-positive bot id', () => bot({ telegramBotId: -5n })],
  ['bot_instances_username_check', 'username with @', () => bot({ username: '@nezuko_bot' })],
  ['bot_instances_name_check', 'blank name', () => bot({ name: ' ' })],
  ['bot_instances_token_encrypted_check', 'empty token', () => bot({ tokenEncrypted: '' })],
  ['protected_groups_chat_id_check', 'positive (user) chat id', () => group({ chatId: 12345n })],
  ['protected_groups_title_check', 'blank title', () => group({ title: ' \t ' })],
  ['protected_groups_username_check', 'username with a space', () => group({ username: 'my group' })],
  ['protected_groups_chat_type_check', 'channel is not a group', () => group({ chatType: 'channel' })],
  ['protected_groups_mode_check', 'unknown mode', () => group({ mode: 'ban' })],
  ['protected_groups_prompt_lifetime_check', 'prompt lifetime too short', () => group({ promptLifetimeSeconds: 5 })],
  ['protected_groups_prompt_style_check', 'unknown prompt style', () => group({ promptStyle: 'popup' })],
  [
    'protected_groups_prompt_lifetime_check',
    'prompt lifetime too long',
    () => group({ promptLifetimeSeconds: 86_401 }),
  ],
  ['protected_groups_mute_duration_check', 'mute under 30 s', () => group({ muteDurationSeconds: 10 })],
  ['protected_groups_mute_duration_check', 'mute over 366 days', () => group({ muteDurationSeconds: 31_622_401 })],
  ['protected_groups_language_check', 'language not ISO 639-1', () => group({ language: 'english' })],
  ['protected_groups_custom_prompt_text_check', 'blank prompt text', () => group({ customPromptText: '   ' })],
  [
    'protected_groups_custom_prompt_text_check',
    'prompt text too long',
    () => group({ customPromptText: 'x'.repeat(2049) }),
  ],
  ['protected_groups_member_count_check', 'negative member count', () => group({ memberCount: -1 })],
  [
    'protected_groups_missing_rights_check',
    'unknown right',
    () => group({ missingRights: ['can_restrict_members', 'can_fly'] }),
  ],
  ['protected_groups_sender_chat_ban_after_check', 'negative ban threshold', () => group({ senderChatBanAfter: -1 })],
  ['protected_groups_sender_chat_ban_after_check', 'ban threshold over 100', () => group({ senderChatBanAfter: 101 })],
  [
    'protected_groups_guard_timeout_action_check',
    'unknown guard timeout action',
    () => group({ guardTimeoutAction: 'ban' }),
  ],
  ['enforced_channels_channel_id_check', 'positive channel id', () => channel({ channelId: 42n })],
  ['enforced_channels_title_check', 'empty title', () => channel({ title: '' })],
  ['enforced_channels_title_check', 'whitespace-only title', () => channel({ title: '\n\t ' })],
  ['enforced_channels_username_check', 'username with @', () => channel({ username: '@news' })],
  ['enforced_channels_subscriber_count_check', 'negative subscribers', () => channel({ subscriberCount: -3 })],
  ['group_whitelist_user_id_check', 'non-positive user id', () => whitelist({ userId: 0n })],
  ['restrictions_user_id_check', 'non-positive user id', () => restriction({ userId: -1n })],
  ['restrictions_reason_check', 'unknown reason', () => restriction({ reason: 'spam' })],
  [
    'restrictions_lift_reason_check',
    'unknown lift reason',
    () => restriction({ liftedAt: new Date(), liftReason: 'because' }),
  ],
  ['restrictions_lifted_check', 'lifted without a reason', () => restriction({ liftedAt: new Date() })],
  ['restrictions_lifted_check', 'a reason without lifted_at', () => restriction({ liftReason: 'verified' })],
  [
    'restrictions_muted_until_check',
    'muted until before muted at',
    () => restriction({ mutedAt: new Date(), mutedUntil: new Date(Date.now() - 60_000) }),
  ],
  ['restrictions_prompt_message_id_check', 'zero message id', () => restriction({ promptMessageId: 0 })],
  ['restrictions_prompt_ephemeral_id_check', 'zero ephemeral id', () => restriction({ promptEphemeralId: 0 })],
  [
    'restrictions_prior_permissions_check',
    'prior permissions not an object',
    () => restriction({ priorPermissions: [true] }),
  ],
  [
    'restrictions_prior_until_check',
    'prior end without prior permissions',
    () => restriction({ priorUntil: future() }),
  ],
  ['restrictions_relift_pending_check', 'relift pending on an open row', () => restriction({ reliftPending: true })],
  ['verification_log_status_check', 'unknown status', () => verification({ status: 'maybe' })],
  ['verification_log_latency_check', 'negative latency', () => verification({ latencyMs: -1 })],
  ['verification_log_error_type_check', 'error without error type', () => verification({ status: 'error' })],
  ['verification_log_reason_check', 'unknown reason', () => verification({ reason: 'guard_maybe' })],
  ['api_call_log_method_check', 'blank method', () => apiCall({ method: ' ' })],
  ['api_call_log_latency_check', 'negative latency', () => apiCall({ latencyMs: -5 })],
  ['api_call_log_error_code_check', 'success with an error code', () => apiCall({ success: true, errorCode: 400 })],
  ['verification_stats_hourly_chat_id_check', 'positive chat id', () => vstats({ chatId: 5n })],
  ['verification_stats_hourly_hour_check', 'hour not on the hour', () => vstats({ hour: halfPast() })],
  ['verification_stats_hourly_counts_check', 'negative cache hits', () => vstats({ cacheHits: -1 })],
  ['verification_stats_hourly_counts_check', 'negative latency sum', () => vstats({ latencySumMs: -1n })],
  ['verification_stats_hourly_total_check', 'total not the sum of statuses', () => vstats({ total: 5, verified: 4 })],
  ['verification_stats_hourly_guard_check', 'negative guard count', () => vstats({ guardQueued: -1 })],
  [
    'verification_stats_hourly_guard_check',
    'more guard requests than verifications',
    () => vstats({ total: 1, approved: 1, guardAtOnce: 1, guardWebApp: 1 }),
  ],
  [
    'verification_stats_hourly_cache_hits_check',
    'more cache hits than verifications',
    () => vstats({ total: 1, verified: 1, cacheHits: 2 }),
  ],
  [
    'verification_stats_hourly_latency_buckets_check',
    'nine buckets',
    () => vstats({ latencyBuckets: [0, 0, 0, 0, 0, 0, 0, 0, 0] }),
  ],
  [
    'verification_stats_hourly_latency_buckets_check',
    'negative bucket',
    () => vstats({ latencyBuckets: [0, 0, 0, -1, 0, 0, 0, 0, 0, 0] }),
  ],
  ['api_call_stats_hourly_method_check', 'blank method', () => astats({ method: '' })],
  ['api_call_stats_hourly_hour_check', 'hour not on the hour', () => astats({ hour: halfPast() })],
  ['api_call_stats_hourly_counts_check', 'negative latency sum', () => astats({ latencySumMs: -10n })],
  [
    'api_call_stats_hourly_calls_check',
    'calls not success + failure',
    () => astats({ calls: 3, successCount: 1, failureCount: 1 }),
  ],
  [
    'api_call_stats_hourly_error_429_check',
    'more 429s than failures',
    () => astats({ calls: 1, failureCount: 1, error429Count: 2 }),
  ],
  ['dashboard_snapshot_single_row_check', 'a second snapshot row', () => snapshot({ id: 2 })],
  ['dashboard_snapshot_data_check', 'data not an object', () => snapshot({ data: [1, 2] })],
  ['rollup_watermarks_name_check', 'blank name', () => watermark({ name: ' ' })],
  ['rollup_watermarks_last_id_check', 'negative watermark', () => watermark({ lastId: -1n })],
  ['exports_kind_check', 'unknown kind', () => exportRow({ kind: 'pdf' })],
  ['exports_status_check', 'unknown status', () => exportRow({ status: 'paused' })],
  ['exports_filters_check', 'filters not an object', () => exportRow({ filters: ['bot'] })],
  ['exports_counts_check', 'negative progress', () => exportRow({ progressRows: -1n })],
  ['exports_counts_check', 'negative bytes', () => exportRow({ bytes: -1n })],
  ['exports_sha256_check', 'checksum not sha256 hex', () => exportRow({ sha256: 'abc' })],
  ['exports_done_check', 'done without file and checksum', () => exportRow({ status: 'done', finishedAt: new Date() })],
  ['exports_failed_check', 'failed without error', () => exportRow({ status: 'failed', finishedAt: new Date() })],
  [
    'exports_times_check',
    'finished before started',
    () => exportRow({ startedAt: new Date(), finishedAt: new Date(Date.now() - 60_000) }),
  ],
];

describe('CHECK constraints', () => {
  test.each(checkCases)('%s rejects %s', async (name, _what, write) => {
    await expectCheckViolation(write(), name);
  });

  test('the table above covers every CHECK constraint in the database', async () => {
    const rows = await f.db.$queryRaw<{ conname: string }[]>`
      SELECT c.conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
      WHERE c.contype = 'c' AND n.nspname = 'public' ORDER BY 1`;
    const tested = [...new Set(checkCases.map(([name]) => name))].sort();
    expect(rows.map((r) => r.conname)).toEqual(tested);
  });

  // Without this, a CHECK that rejected everything would pass the table above.
  test('fully populated valid rows pass every CHECK', async () => {
    const db = f.db;
    const a = await admin({
      email: 'carol@example.org',
      role: 'owner',
      displayName: 'Carol',
      telegramUserId: 42n,
      lastLoginAt: new Date(),
    });
    await session({ adminUserId: a.id, ip: '203.0.113.7', userAgent: 'vitest', lastSeenAt: new Date() });
    const t = await apiToken({ role: 'admin', createdById: a.id, expiresAt: future(), lastUsedAt: new Date() });
    await audit({
      actorId: a.id,
      actorTokenId: t.id,
      actorEmail: a.email,
      resourceId: '7',
      oldValues: { enabled: false },
      newValues: { enabled: true },
      ip: '::1',
      userAgent: 'vitest',
    });
    for (const status of ['starting', 'running', 'stopping', 'stopped', 'crashed', 'restarting']) {
      await bot({
        status,
        statusReason: 'test',
        restartCount: 2,
        startedAt: new Date(),
        lastHeartbeatAt: new Date(),
        lastError: 'boom',
        lastErrorAt: new Date(),
        createdById: a.id,
      });
    }
    for (const mode of ['mute', 'join_request']) {
      await group({
        mode,
        username: 'Public_Group1',
        chatType: 'group',
        isForum: true,
        linkedChatId: -1009n,
        enabled: true,
        promptLifetimeSeconds: 86_400,
        muteDurationSeconds: 31_622_400,
        language: 'ru',
        customPromptText: '{mention}, join {channels}',
        memberCount: 0,
        lastSyncAt: new Date(),
        missingRights: ['can_restrict_members', 'can_delete_messages', 'can_invite_users'],
        rightsNotifiedAt: new Date(),
        botRemovedAt: new Date(),
      });
    }
    await group({ promptLifetimeSeconds: 10, muteDurationSeconds: 30, senderChatBanAfter: 0 });
    await group({ senderChatBanAfter: 100 });
    await channel({
      username: null,
      inviteLink: 'https://t.me/+abc',
      subscriberCount: 0,
      botIsAdmin: true,
      lastSyncAt: new Date(),
    });
    await whitelist({ addedByUserId: 99n, note: 'moderator' });
    await restriction({
      reason: 'left_channel',
      promptMessageId: 17,
      mutedUntil: future(),
      priorPermissions: { can_send_messages: true, can_send_photos: false },
      priorUntil: future(),
    });
    await restriction({ priorPermissions: { can_send_messages: true } });
    await restriction({ liftedAt: new Date(), liftReason: 'verified', reliftPending: true });
    for (const liftReason of ['verified', 'unprotected', 'expired', 'manual', 'bot_removed']) {
      await restriction({ liftedAt: new Date(), liftReason });
    }
    for (const status of ['verified', 'restricted', 'approved', 'declined', 'skipped']) {
      await verification({ status, latencyMs: 0, cached: true });
    }
    await verification({ status: 'error', errorType: 'telegram_403' });
    await apiCall({ success: false, errorCode: 429, latencyMs: 12, chatId: -100n });
    await apiCall({ success: false, errorCode: null });
    await vstats({
      chatId: 0n,
      total: 6,
      verified: 1,
      restricted: 1,
      approved: 1,
      declined: 1,
      skipped: 1,
      errors: 1,
      cacheHits: 6,
      latencySumMs: 600n,
      latencyBuckets: [1, 1, 1, 1, 1, 1, 0, 0, 0, 0],
    });
    await astats({ calls: 3, successCount: 1, failureCount: 2, error429Count: 2, latencySumMs: 30n });
    await snapshot({ id: 1, data: { totals: { verifications: 6 } } });
    await watermark({ lastId: 0n });
    for (const kind of ['verifications', 'audit', 'api_calls', 'groups']) await exportRow({ kind, scheduled: true });
    await exportRow({ status: 'running', startedAt: new Date(), progressRows: 10n });
    await exportRow({
      status: 'done',
      startedAt: new Date(),
      finishedAt: new Date(),
      rows: 0n,
      bytes: 20n,
      sha256: sha256Hex(),
      filePath: '/tmp/x.csv.gz',
      filters: { botInstanceId: 1 },
    });
    await exportRow({ status: 'failed', startedAt: new Date(), finishedAt: new Date(), error: 'disk full' });
    const counts = await db.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM exports`;
    expect(counts[0]!.n).toBeGreaterThanOrEqual(7n);
  });
});

// [index, a write that duplicates an existing row]
const uniqueCases: [string, () => Promise<unknown>][] = [
  [
    'admin_users_email_live_key',
    async () => {
      await admin({ email: 'dup@example.com' });
      await admin({ email: 'dup@example.com' });
    },
  ],
  [
    'admin_sessions_token_hash_key',
    async () => {
      const h = sha256Hex();
      await session({ tokenHash: h });
      await session({ tokenHash: h });
    },
  ],
  [
    'api_tokens_token_hash_key',
    async () => {
      const h = sha256Hex();
      await apiToken({ tokenHash: h });
      await apiToken({ tokenHash: h });
    },
  ],
  [
    'bot_instances_telegram_bot_id_key',
    async () => {
      await bot({ telegramBotId: 555n });
      await bot({ telegramBotId: 555n });
    },
  ],
  [
    'protected_groups_bot_instance_id_chat_id_key',
    async () => {
      await group({ chatId: -555n });
      await group({ chatId: -555n });
    },
  ],
  [
    'enforced_channels_bot_instance_id_channel_id_key',
    async () => {
      await channel({ channelId: -555n });
      await channel({ channelId: -555n });
    },
  ],
  [
    'group_channel_links_pkey',
    async () => {
      const c = await channel({});
      const link = { groupId: f.groupId, channelId: c.id, botInstanceId: f.botId };
      await f.db.groupChannelLink.create({ data: link });
      await f.db.groupChannelLink.create({ data: link });
    },
  ],
  [
    'group_whitelist_group_id_user_id_key',
    async () => {
      await whitelist({ userId: 555n });
      await whitelist({ userId: 555n });
    },
  ],
  [
    'restrictions_open_group_user_key',
    async () => {
      await restriction({ userId: 555n });
      await restriction({ userId: 555n });
    },
  ],
  [
    'verification_stats_hourly_pkey',
    async () => {
      const key = { chatId: -555n, hour: hourStart(1000) };
      await vstats(key);
      await vstats(key);
    },
  ],
  [
    'api_call_stats_hourly_pkey',
    async () => {
      const key = { hour: hourStart(1000), method: 'sendMessage' };
      await astats(key);
      await astats(key);
    },
  ],
  [
    'dashboard_snapshot_pkey',
    async () => {
      await f.db.dashboardSnapshot.deleteMany();
      await snapshot({});
      await snapshot({});
    },
  ],
  [
    'rollup_watermarks_pkey',
    async () => {
      await watermark({ name: 'dup' });
      await watermark({ name: 'dup' });
    },
  ],
];

// Unique indexes that need no test of their own: surrogate primary keys, and the (id, bot_instance_id)
// keys that only serve as targets of composite foreign keys (unique because id is).
const uniqueByConstruction = (name: string) => /_id_bot_instance_id_key$/.test(name) || /^[a-z_]+_pkey$/.test(name);

describe('unique keys', () => {
  test.each(uniqueCases)('%s rejects a duplicate', async (name, write) => {
    await expectUniqueViolation(write(), name);
  });

  test('the table above covers every unique index but surrogate keys', async () => {
    const rows = await f.db.$queryRaw<{ name: string; cols: string }[]>`
      SELECT ic.relname AS name, array_to_string(array_agg(a.attname ORDER BY k.ord), ',') AS cols
      FROM pg_index i
      JOIN pg_class ic ON ic.oid = i.indexrelid
      JOIN pg_class tc ON tc.oid = i.indrelid
      JOIN pg_namespace n ON n.oid = tc.relnamespace
      LEFT JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
      LEFT JOIN pg_attribute a ON a.attrelid = tc.oid AND a.attnum = k.attnum
      WHERE i.indisunique AND n.nspname = 'public' AND tc.relname <> '_prisma_migrations'
      GROUP BY ic.relname ORDER BY 1`;
    const untested = rows
      .filter((r) => !uniqueCases.some(([name]) => name === r.name))
      .filter((r) => !(uniqueByConstruction(r.name) && (r.cols === 'id' || r.cols.startsWith('id,'))));
    expect(untested).toEqual([]);
  });

  test('email uniqueness ignores case even for rows written around the lower-case CHECK', async () => {
    // The index is on lower(email): prove it by dropping the CHECK inside a rolled-back transaction.
    await expect(
      f.db.$transaction(async (tx) => {
        await tx.$executeRawUnsafe('ALTER TABLE admin_users DROP CONSTRAINT admin_users_email_normalized_check');
        await tx.$executeRaw`INSERT INTO admin_users (email, password_hash) VALUES ('case@example.com', 'h')`;
        await tx.$executeRaw`INSERT INTO admin_users (email, password_hash) VALUES ('CASE@example.com', 'h')`;
      }),
    ).rejects.toThrow(/admin_users_email_live_key/);
    const kept = await f.db.$queryRaw<{ n: bigint }[]>`
      SELECT count(*) AS n FROM pg_constraint WHERE conname = 'admin_users_email_normalized_check'`;
    expect(kept[0]!.n).toBe(1n);
  });
});
