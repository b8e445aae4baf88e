// Foreign keys (cascade, SET NULL, same-bot links), soft delete, open restrictions, indexes and column types.
import { describe, expect, test } from 'vitest';
import type { PrismaClient } from '../../services/core/db';
import { useTestDatabase } from '../support/db';
import {
  expectForeignKeyViolation,
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

/** A bot with one row in every table that belongs to it. */
async function populatedBot(db: PrismaClient) {
  const bot = await makeBot(db);
  const group = await makeGroup(db, bot.id);
  const channel = await makeChannel(db, bot.id);
  const botInstanceId = bot.id;
  await db.groupChannelLink.create({ data: { groupId: group.id, channelId: channel.id, botInstanceId } });
  await db.groupWhitelist.create({ data: { botInstanceId, groupId: group.id, userId: 11n } });
  await db.restriction.create({ data: { botInstanceId, groupId: group.id, userId: 12n } });
  await db.verificationLog.create({ data: { botInstanceId, chatId: group.chatId, userId: 12n, status: 'restricted' } });
  await db.apiCallLog.create({ data: { botInstanceId, method: 'restrictChatMember', success: true } });
  await db.verificationStatsHourly.create({
    data: { botInstanceId, chatId: group.chatId, hour: hourStart(), total: 1, restricted: 1 },
  });
  await db.apiCallStatsHourly.create({
    data: { botInstanceId, hour: hourStart(), method: 'restrictChatMember', calls: 1, successCount: 1 },
  });
  return { bot, group, channel };
}

/** Rows per bot-owned table for one bot. */
async function rowsOf(db: PrismaClient, botInstanceId: number) {
  const where = { where: { botInstanceId } };
  return {
    protected_groups: await db.protectedGroup.count(where),
    enforced_channels: await db.enforcedChannel.count(where),
    group_channel_links: await db.groupChannelLink.count(where),
    group_whitelist: await db.groupWhitelist.count(where),
    restrictions: await db.restriction.count(where),
    verification_log: await db.verificationLog.count(where),
    api_call_log: await db.apiCallLog.count(where),
    verification_stats_hourly: await db.verificationStatsHourly.count(where),
    api_call_stats_hourly: await db.apiCallStatsHourly.count(where),
  };
}
const all = (n: number) => ({
  protected_groups: n,
  enforced_channels: n,
  group_channel_links: n,
  group_whitelist: n,
  restrictions: n,
  verification_log: n,
  api_call_log: n,
  verification_stats_hourly: n,
  api_call_stats_hourly: n,
});

describe('cascade deletes', () => {
  test('deleting a bot removes everything it owns and nothing of another bot', async () => {
    const db = tdb.prisma;
    const doomed = await populatedBot(db);
    const other = await populatedBot(db);
    expect(await rowsOf(db, doomed.bot.id)).toEqual(all(1));

    await db.botInstance.delete({ where: { id: doomed.bot.id } });

    expect(await rowsOf(db, doomed.bot.id)).toEqual(all(0));
    expect(await rowsOf(db, other.bot.id)).toEqual(all(1));
  });

  test('deleting a group removes its links, whitelist and restrictions but keeps the channel and logs', async () => {
    const db = tdb.prisma;
    const { bot, group, channel } = await populatedBot(db);
    await db.protectedGroup.delete({ where: { id: group.id } });
    expect(await rowsOf(db, bot.id)).toEqual({
      ...all(1),
      protected_groups: 0,
      group_channel_links: 0,
      group_whitelist: 0,
      restrictions: 0,
    });
    expect(await db.enforcedChannel.findUnique({ where: { id: channel.id } })).not.toBeNull();
  });

  test('deleting a channel removes only its links', async () => {
    const db = tdb.prisma;
    const { bot, channel } = await populatedBot(db);
    await db.enforcedChannel.delete({ where: { id: channel.id } });
    expect(await rowsOf(db, bot.id)).toEqual({ ...all(1), enforced_channels: 0, group_channel_links: 0 });
  });

  test('deleting an admin user removes their sessions', async () => {
    const db = tdb.prisma;
    const admin = await makeAdmin(db);
    await db.adminSession.create({
      data: { adminUserId: admin.id, tokenHash: sha256Hex(), expiresAt: new Date(Date.now() + 60_000) },
    });
    await db.adminUser.delete({ where: { id: admin.id } });
    expect(await db.adminSession.count({ where: { adminUserId: admin.id } })).toBe(0);
  });
});

describe('SET NULL keeps history when its actor goes', () => {
  test('deleting an admin user keeps their bots, tokens, exports and audit rows, unattributed', async () => {
    const db = tdb.prisma;
    const admin = await makeAdmin(db);
    const bot = await makeBot(db, { createdById: admin.id });
    const token = await db.apiToken.create({
      data: { name: 't', tokenHash: sha256Hex(), tokenPrefix: 'nzk_', createdById: admin.id },
    });
    const exp = await db.export.create({ data: { kind: 'audit', requestedById: admin.id } });
    const audit = await db.adminAuditLog.create({
      data: {
        actorId: admin.id,
        actorEmail: admin.email,
        action: 'bot.create',
        resourceType: 'bot',
        resourceId: String(bot.id),
      },
    });

    await db.adminUser.delete({ where: { id: admin.id } });

    expect((await db.botInstance.findUniqueOrThrow({ where: { id: bot.id } })).createdById).toBeNull();
    expect((await db.apiToken.findUniqueOrThrow({ where: { id: token.id } })).createdById).toBeNull();
    expect((await db.export.findUniqueOrThrow({ where: { id: exp.id } })).requestedById).toBeNull();
    const kept = await db.adminAuditLog.findUniqueOrThrow({ where: { id: audit.id } });
    expect(kept.actorId).toBeNull();
    expect(kept.actorEmail).toBe(admin.email);
  });

  test('deleting an API token keeps the audit rows it wrote', async () => {
    const db = tdb.prisma;
    const token = await db.apiToken.create({ data: { name: 't', tokenHash: sha256Hex(), tokenPrefix: 'nzk_' } });
    const audit = await db.adminAuditLog.create({
      data: { actorTokenId: token.id, action: 'group.update', resourceType: 'group' },
    });
    await db.apiToken.delete({ where: { id: token.id } });
    expect((await db.adminAuditLog.findUniqueOrThrow({ where: { id: audit.id } })).actorTokenId).toBeNull();
  });
});

describe('per-bot isolation in link rows', () => {
  // [what, a write that mixes two bots, the foreign key that must refuse it]
  const cases: [string, (db: PrismaClient, a: number, b: number) => Promise<unknown>, string][] = [
    [
      "a group linked to another bot's channel",
      async (db, a, b) => {
        const g = await makeGroup(db, a);
        const c = await makeChannel(db, b);
        return db.groupChannelLink.create({ data: { groupId: g.id, channelId: c.id, botInstanceId: a } });
      },
      'group_channel_links_channel_id_bot_instance_id_fkey',
    ],
    [
      'a link filed under the other bot',
      async (db, a, b) => {
        const g = await makeGroup(db, a);
        const c = await makeChannel(db, a);
        return db.groupChannelLink.create({ data: { groupId: g.id, channelId: c.id, botInstanceId: b } });
      },
      'group_channel_links_group_id_bot_instance_id_fkey',
    ],
    [
      'a whitelist entry under another bot',
      async (db, a, b) => {
        const g = await makeGroup(db, a);
        return db.groupWhitelist.create({ data: { botInstanceId: b, groupId: g.id, userId: 5n } });
      },
      'group_whitelist_group_id_bot_instance_id_fkey',
    ],
    [
      'a restriction under another bot',
      async (db, a, b) => {
        const g = await makeGroup(db, a);
        return db.restriction.create({ data: { botInstanceId: b, groupId: g.id, userId: 5n } });
      },
      'restrictions_group_id_bot_instance_id_fkey',
    ],
  ];
  test.each(cases)('refuses %s', async (_what, write, fkey) => {
    const db = tdb.prisma;
    const [a, b] = [await makeBot(db), await makeBot(db)];
    await expectForeignKeyViolation(write(db, a.id, b.id), fkey);
  });

  test('two bots may protect the same Telegram group and channel with separate rows', async () => {
    const db = tdb.prisma;
    const [a, b] = [await makeBot(db), await makeBot(db)];
    const chatId = BigInt(-1_003_000_000_000 - next());
    const channelId = BigInt(-1_004_000_000_000 - next());
    for (const bot of [a, b]) {
      const g = await makeGroup(db, bot.id, { chatId });
      const c = await makeChannel(db, bot.id, { channelId });
      await db.groupChannelLink.create({ data: { groupId: g.id, channelId: c.id, botInstanceId: bot.id } });
    }
    expect(await db.protectedGroup.count({ where: { chatId } })).toBe(2);
    expect(await db.groupChannelLink.count({ where: { botInstanceId: { in: [a.id, b.id] } } })).toBe(2);
  });
});

describe('soft delete', () => {
  test('a soft-deleted admin stays queryable and frees the email for a new account', async () => {
    const db = tdb.prisma;
    const email = `gone${next()}@example.com`;
    const old = await makeAdmin(db, { email });
    await expectUniqueViolation(makeAdmin(db, { email }), 'admin_users_email_live_key');

    await db.adminUser.update({ where: { id: old.id }, data: { deletedAt: new Date() } });
    const fresh = await makeAdmin(db, { email });

    expect((await db.adminUser.findUniqueOrThrow({ where: { id: old.id } })).deletedAt).toBeInstanceOf(Date);
    expect(await db.adminUser.count({ where: { email } })).toBe(2);
    expect(await db.adminUser.count({ where: { email, deletedAt: null } })).toBe(1);
    // Still only one live account per address, and deleted rows may pile up.
    await expectUniqueViolation(makeAdmin(db, { email }), 'admin_users_email_live_key');
    await db.adminUser.update({ where: { id: fresh.id }, data: { deletedAt: new Date() } });
    await makeAdmin(db, { email });
    expect(await db.adminUser.count({ where: { email } })).toBe(3);
  });

  test('a soft-deleted bot keeps its rows and its Telegram bot id (re-adding revives the row)', async () => {
    const db = tdb.prisma;
    const { bot } = await populatedBot(db);
    await db.botInstance.update({
      where: { id: bot.id },
      data: { deletedAt: new Date(), isActive: false, status: 'stopped' },
    });

    expect(await rowsOf(db, bot.id)).toEqual(all(1));
    await expectUniqueViolation(makeBot(db, { telegramBotId: bot.telegramBotId }), 'bot_instances_telegram_bot_id_key');
    const revived = await db.botInstance.upsert({
      where: { telegramBotId: bot.telegramBotId },
      create: { telegramBotId: bot.telegramBotId, username: bot.username, name: bot.name, tokenEncrypted: 'v1:new' },
      update: { deletedAt: null, isActive: true, tokenEncrypted: 'v1:new' },
    });
    expect(revived.id).toBe(bot.id);
    expect(revived.deletedAt).toBeNull();
  });
});

describe('open restrictions', () => {
  test('at most one open restriction per user and group, any number of lifted ones', async () => {
    const db = tdb.prisma;
    const bot = await makeBot(db);
    const [g1, g2] = [await makeGroup(db, bot.id), await makeGroup(db, bot.id)];
    const open = (groupId: number) => db.restriction.create({ data: { botInstanceId: bot.id, groupId, userId: 77n } });

    const first = await open(g1.id);
    await expectUniqueViolation(open(g1.id), 'restrictions_open_group_user_key');
    await open(g2.id); // the same user in another group

    await db.restriction.update({ where: { id: first.id }, data: { liftedAt: new Date(), liftReason: 'verified' } });
    const second = await open(g1.id);
    await db.restriction.update({
      where: { id: second.id },
      data: { liftedAt: new Date(), liftReason: 'unprotected' },
    });
    await open(g1.id);

    expect(await db.restriction.count({ where: { groupId: g1.id, userId: 77n } })).toBe(3);
    expect(await db.restriction.count({ where: { groupId: g1.id, userId: 77n, liftedAt: null } })).toBe(1);
  });
});

describe('schema shape', () => {
  const botOwned = [
    'protected_groups',
    'enforced_channels',
    'group_channel_links',
    'group_whitelist',
    'restrictions',
    'verification_log',
    'api_call_log',
    'verification_stats_hourly',
    'api_call_stats_hourly',
  ];

  test('every foreign key to bot_instances cascades, and every bot-owned table has one', async () => {
    const rows = await tdb.prisma.$queryRaw<{ table: string; action: string }[]>`
      SELECT c.conrelid::regclass::text AS table, c.confdeltype::text AS action
      FROM pg_constraint c
      WHERE c.contype = 'f' AND c.confrelid = 'bot_instances'::regclass
        AND c.conkey = ARRAY[(SELECT attnum FROM pg_attribute WHERE attrelid = c.conrelid AND attname = 'bot_instance_id')]
      ORDER BY 1`;
    expect(rows).toEqual([...botOwned].sort().map((table) => ({ table, action: 'c' })));
  });

  test('every timestamp is timestamptz', async () => {
    const rows = await tdb.prisma.$queryRaw<{ column: string }[]>`
      SELECT table_name || '.' || column_name AS column FROM information_schema.columns
      WHERE table_schema = 'public' AND data_type = 'timestamp without time zone'`;
    expect(rows).toEqual([]);
  });

  test('Telegram ids are bigint and log ids are bigint', async () => {
    const rows = await tdb.prisma.$queryRaw<{ column: string; type: string }[]>`
      SELECT table_name || '.' || column_name AS column, data_type AS type FROM information_schema.columns
      WHERE table_schema = 'public'
        AND (column_name IN ('chat_id', 'user_id', 'telegram_bot_id', 'telegram_user_id', 'linked_chat_id', 'added_by_user_id')
          OR (table_name = 'enforced_channels' AND column_name = 'channel_id')
          OR (table_name IN ('verification_log', 'api_call_log') AND column_name = 'id'))
        AND data_type <> 'bigint'`;
    expect(rows).toEqual([]);
  });

  // [table, index, a fragment its definition must contain]
  const indexes: [string, string, string][] = [
    ['verification_log', 'verification_log_bot_instance_id_created_at_idx', '(bot_instance_id, created_at DESC)'],
    ['verification_log', 'verification_log_chat_id_created_at_idx', '(chat_id, created_at DESC)'],
    ['verification_log', 'verification_log_user_id_created_at_idx', '(user_id, created_at DESC)'],
    ['verification_log', 'verification_log_created_at_status_idx', '(created_at DESC, status)'],
    ['api_call_log', 'api_call_log_bot_instance_id_created_at_idx', '(bot_instance_id, created_at DESC)'],
    ['api_call_log', 'api_call_log_created_at_idx', '(created_at DESC)'],
    ['admin_audit_log', 'admin_audit_log_created_at_actor_id_action_idx', '(created_at DESC, actor_id, action)'],
    ['exports', 'exports_created_at_idx', '(created_at DESC)'],
    ['protected_groups', 'protected_groups_title_fts_idx', "USING gin (to_tsvector('simple'::regconfig, title))"],
    ['enforced_channels', 'enforced_channels_search_fts_idx', 'USING gin (to_tsvector('],
    ['restrictions', 'restrictions_open_group_user_key', 'WHERE (lifted_at IS NULL)'],
    ['admin_users', 'admin_users_email_live_key', 'lower(email)) WHERE (deleted_at IS NULL)'],
  ];
  test.each(indexes)('%s has %s', async (table, name, fragment) => {
    const rows = await tdb.prisma.$queryRaw<{ def: string }[]>`
      SELECT indexdef AS def FROM pg_indexes WHERE schemaname = 'public' AND tablename = ${table} AND indexname = ${name}`;
    expect(rows).toHaveLength(1);
    expect(rows[0]!.def).toContain(fragment);
  });
});

describe('full-text search', () => {
  // The API must write these exact expressions for the GIN indexes to serve them.
  const groupSearch = (db: PrismaClient, q: string) => db.$queryRaw<{ id: number; title: string }[]>`
    SELECT id, title FROM protected_groups WHERE to_tsvector('simple', title) @@ plainto_tsquery('simple', ${q})`;
  const channelSearch = (db: PrismaClient, q: string) => db.$queryRaw<{ id: number; title: string }[]>`
    SELECT id, title FROM enforced_channels
    WHERE to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(username, '')) @@ plainto_tsquery('simple', ${q})`;

  test('finds group titles in any language and channels by title or username', async () => {
    const db = tdb.prisma;
    const bot = await makeBot(db);
    const g = await makeGroup(db, bot.id, { title: 'Клуб любителей кошек' });
    await makeGroup(db, bot.id, { title: 'Dog lovers' });
    const c = await makeChannel(db, bot.id, { title: 'Daily News', username: 'kotiki_daily' });

    expect((await groupSearch(db, 'кошек')).map((r) => r.id)).toEqual([g.id]);
    expect((await channelSearch(db, 'kotiki_daily')).map((r) => r.id)).toEqual([c.id]);
    expect((await channelSearch(db, 'news')).map((r) => r.id)).toEqual([c.id]);
  });

  test.each([
    [
      'protected_groups_title_fts_idx',
      `SELECT id FROM protected_groups WHERE to_tsvector('simple', title) @@ plainto_tsquery('simple', 'cats')`,
    ],
    [
      'enforced_channels_search_fts_idx',
      `SELECT id FROM enforced_channels WHERE to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(username, '')) @@ plainto_tsquery('simple', 'cats')`,
    ],
  ])('the planner can answer the search with %s', async (index, sql) => {
    const plan = await tdb.prisma.$transaction(async (tx) => {
      await tx.$executeRawUnsafe('SET LOCAL enable_seqscan = off');
      return tx.$queryRawUnsafe<{ 'QUERY PLAN': string }[]>(`EXPLAIN ${sql}`);
    });
    expect(plan.map((r) => r['QUERY PLAN']).join('\n')).toContain(index);
  });
});
