-- verifications?status=error is a keyset page over id filtered by status. Errors are rare, so walking the primary
-- key backwards for one page read nearly the whole table (about 200 ms on a million rows). With this index a page
-- reads its limit + 1 entries. (No semicolons in comments here: the offline migration engine splits on them.)

-- CreateIndex
CREATE INDEX "verification_log_status_id_idx" ON "verification_log"("status", "id" DESC);
