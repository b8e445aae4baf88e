-- Lifting a mute the way Telegram needs it (issue 15).
-- (No semicolons in comments here: the offline migration engine splits on them.)
--
-- restrictions.prior_permissions / prior_until: an admin's restriction found when we muted a user, restored
-- when our mute ends. restrictions.relift_pending: rows lifted by earlier versions "to the group's defaults",
-- which Telegram keeps as a restriction, so the relift pass lifts those users properly once.
-- protected_groups.sender_chat_ban_after: ban a foreign channel after its n-th deleted post (0 = never).

-- AlterTable
ALTER TABLE "protected_groups" ADD COLUMN     "sender_chat_ban_after" INTEGER NOT NULL DEFAULT 3;

-- AlterTable
ALTER TABLE "restrictions" ADD COLUMN     "prior_permissions" JSONB,
ADD COLUMN     "prior_until" TIMESTAMPTZ(3),
ADD COLUMN     "relift_pending" BOOLEAN NOT NULL DEFAULT false;

-- CreateIndex
CREATE INDEX "restrictions_muted_until_idx" ON "restrictions"("muted_until");

-- Hand-written: CHECK constraints.
ALTER TABLE "protected_groups"
  ADD CONSTRAINT "protected_groups_sender_chat_ban_after_check" CHECK ("sender_chat_ban_after" BETWEEN 0 AND 100);

ALTER TABLE "restrictions"
  ADD CONSTRAINT "restrictions_prior_permissions_check"
    CHECK ("prior_permissions" IS NULL OR jsonb_typeof("prior_permissions") = 'object'),
  ADD CONSTRAINT "restrictions_prior_until_check" CHECK ("prior_until" IS NULL OR "prior_permissions" IS NOT NULL),
  ADD CONSTRAINT "restrictions_relift_pending_check" CHECK (NOT "relift_pending" OR "lifted_at" IS NOT NULL);

-- Every user whose latest restriction of ours was lifted the old way may still be `restricted` at Telegram.
-- (A user removed with the bot cannot be reached: bot_removed rows are left alone.)
UPDATE "restrictions" r SET "relift_pending" = true
WHERE r."lifted_at" IS NOT NULL
  AND r."lift_reason" IN ('verified', 'unprotected', 'manual')
  AND NOT EXISTS (
    SELECT 1 FROM "restrictions" newer
    WHERE newer."group_id" = r."group_id" AND newer."user_id" = r."user_id" AND newer."id" > r."id"
  );
