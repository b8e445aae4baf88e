-- Token chains. created_by_id becomes the admin user at the root of every token: a token made by another token
-- takes its maker's root user, and created_by_token_id records the maker. A token is honoured only while its
-- root user is live, with at most that user's current role. (No semicolons in comments here: the offline
-- migration engine splits on them.)

-- AlterTable
ALTER TABLE "api_tokens" ADD COLUMN "created_by_token_id" INTEGER;

-- CreateIndex
CREATE INDEX "api_tokens_created_by_token_id_idx" ON "api_tokens"("created_by_token_id");

-- AddForeignKey
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_created_by_token_id_fkey" FOREIGN KEY ("created_by_token_id") REFERENCES "api_tokens"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- Tokens that tokens made before now had no creator. The audit log's token.create row names the maker.
UPDATE "api_tokens" t SET "created_by_token_id" = a."actor_token_id"
FROM "admin_audit_log" a
WHERE a."action" = 'token.create' AND a."resource_type" = 'api_token' AND a."resource_id" = t."id"::text
  AND a."actor_token_id" IS NOT NULL AND a."actor_token_id" <> t."id" AND t."created_by_id" IS NULL;

-- Walk each chain up to its first token with a user.
WITH RECURSIVE chain AS (
  SELECT "id", "created_by_id" AS root, "created_by_token_id" AS parent, 0 AS depth FROM "api_tokens" WHERE "created_by_id" IS NULL
  UNION ALL
  SELECT c."id", p."created_by_id", p."created_by_token_id", c.depth + 1
  FROM chain c JOIN "api_tokens" p ON p."id" = c.parent
  WHERE c.root IS NULL AND c.depth < 100
)
UPDATE "api_tokens" t SET "created_by_id" = c.root FROM chain c WHERE c."id" = t."id" AND c.root IS NOT NULL AND t."created_by_id" IS NULL;

-- A live token with no root user, or whose root user is deleted, answers to nobody: revoked.
UPDATE "api_tokens" t SET "revoked_at" = now()
WHERE t."revoked_at" IS NULL
  AND (t."created_by_id" IS NULL OR EXISTS (SELECT 1 FROM "admin_users" u WHERE u."id" = t."created_by_id" AND u."deleted_at" IS NOT NULL));

-- A token never exceeds its user's current role.
UPDATE "api_tokens" t SET "role" = u."role"
FROM "admin_users" u
WHERE u."id" = t."created_by_id" AND t."revoked_at" IS NULL
  AND (CASE t."role" WHEN 'owner' THEN 3 WHEN 'admin' THEN 2 ELSE 1 END) > (CASE u."role" WHEN 'owner' THEN 3 WHEN 'admin' THEN 2 ELSE 1 END);
