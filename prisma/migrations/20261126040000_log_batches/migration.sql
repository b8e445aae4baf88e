-- Keys of written log batches: a batch retried after its connection dropped (it may have committed) inserts
-- nothing the second time. (No semicolons in comments here: the offline migration engine splits on them.)

-- CreateTable
CREATE TABLE "log_batches" (
    "id" UUID NOT NULL,
    "written_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "log_batches_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "log_batches_written_at_idx" ON "log_batches"("written_at");
