// The token-chains migration's one-off part: tokens made by tokens before it get their root user from the audit
// log; tokens with no root user, or a deleted one, are revoked; none keeps a role above its user's.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db';

const database = useTestDatabase();
const MIGRATION = 'prisma/migrations/20261202000000_api_token_chains/migration.sql';

describe('api_token_chains migration', () => {
  it('backfills root users through the audit log, revokes orphans and clamps roles', async () => {
    const db = database.prisma;
    const hash = (n: number) => n.toString(16).padStart(64, '0');
    const owner = await db.adminUser.create({ data: { email: 'root@example.com', passwordHash: 'x', role: 'admin' } });
    const gone = await db.adminUser.create({
      data: { email: 'gone@example.com', passwordHash: 'x', role: 'owner', deletedAt: new Date() },
    });
    const token = (n: number, data: { createdById?: number | null; role?: string }) =>
      db.apiToken.create({
        data: {
          name: `t${n}`,
          tokenHash: hash(n),
          tokenPrefix: `nzk_${n}`,
          role: data.role ?? 'owner',
          createdById: data.createdById ?? null,
        },
      });
    // As the old code left them: A made by the user (an owner then), B by A, C by B, D by nobody known, E by a deleted user.
    const a = await token(1, { createdById: owner.id });
    const b = await token(2, {});
    const c = await token(3, { role: 'viewer' });
    const d = await token(4, {});
    const e = await token(5, { createdById: gone.id });
    for (const [made, by] of [
      [b, a],
      [c, b],
    ] as const) {
      await db.adminAuditLog.create({
        data: { action: 'token.create', resourceType: 'api_token', resourceId: String(made.id), actorTokenId: by.id },
      });
    }
    const oneOff = readFileSync(MIGRATION, 'utf8')
      .split(';')
      .map((s) => s.replace(/--.*$/gm, '').trim())
      .filter((s) => /^(UPDATE|WITH)/.test(s));
    expect(oneOff).toHaveLength(4);
    for (const statement of oneOff) await db.$executeRawUnsafe(statement);

    const rows = new Map((await db.apiToken.findMany()).map((t) => [t.id, t]));
    expect(rows.get(b.id)).toMatchObject({
      createdById: owner.id,
      createdByTokenId: a.id,
      revokedAt: null,
      role: 'admin',
    });
    expect(rows.get(c.id)).toMatchObject({
      createdById: owner.id,
      createdByTokenId: b.id,
      revokedAt: null,
      role: 'viewer',
    });
    expect(rows.get(a.id)).toMatchObject({ role: 'admin', revokedAt: null }); // the user is an admin now
    expect(rows.get(d.id)!.revokedAt).not.toBeNull();
    expect(rows.get(e.id)!.revokedAt).not.toBeNull();
  });
});
