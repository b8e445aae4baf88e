// Row factories and error matchers shared by the data-model tests.
import { createHash, randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { Prisma, type PrismaClient } from '../../services/core/db';

let seq = 0;
/** A number unique within this test process (fresh database per file, so no clashes). */
export const next = () => ++seq;

export const sha256Hex = () => createHash('sha256').update(randomBytes(16)).digest('hex');

export function makeAdmin(db: PrismaClient, data: Partial<Prisma.AdminUserUncheckedCreateInput> = {}) {
  return db.adminUser.create({
    data: {
      email: `admin${next()}@example.com`,
      passwordHash: '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA',
      ...data,
    },
  });
}

export function makeBot(db: PrismaClient, data: Partial<Prisma.BotInstanceUncheckedCreateInput> = {}) {
  const n = next();
  return db.botInstance.create({
    data: {
      telegramBotId: BigInt(7_000_000 + n),
      username: `test${n}_bot`,
      name: `Test bot ${n}`,
      tokenEncrypted: 'v1:aXY=:dGFn:Y3Q=',
      ...data,
    },
  });
}

export function makeGroup(
  db: PrismaClient,
  botInstanceId: number,
  data: Partial<Prisma.ProtectedGroupUncheckedCreateInput> = {},
) {
  const n = next();
  return db.protectedGroup.create({
    data: { botInstanceId, chatId: BigInt(-1_001_000_000_000 - n), title: `Group ${n}`, ...data },
  });
}

export function makeChannel(
  db: PrismaClient,
  botInstanceId: number,
  data: Partial<Prisma.EnforcedChannelUncheckedCreateInput> = {},
) {
  const n = next();
  return db.enforcedChannel.create({
    data: {
      botInstanceId,
      channelId: BigInt(-1_002_000_000_000 - n),
      title: `Channel ${n}`,
      username: `channel${n}`,
      ...data,
    },
  });
}

/** A UTC hour boundary, `hoursAgo` hours back. */
export function hourStart(hoursAgo = 0): Date {
  const d = new Date(Date.now() - hoursAgo * 3_600_000);
  d.setUTCMinutes(0, 0, 0);
  return d;
}

type Cause = { originalCode?: string; originalMessage?: string; constraint?: { index?: string } };
const causeOf = (err: unknown): Cause =>
  ((err as { meta?: { driverAdapterError?: { cause?: Cause } } }).meta?.driverAdapterError?.cause ?? {}) as Cause;

async function rejection(promise: Promise<unknown>): Promise<Prisma.PrismaClientKnownRequestError> {
  let err: unknown;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  expect(err, 'the write should have been rejected').toBeInstanceOf(Prisma.PrismaClientKnownRequestError);
  return err as Prisma.PrismaClientKnownRequestError;
}

/** Asserts that `promise` fails on the CHECK constraint `name` (Prisma P2039, SQLSTATE 23514). */
export async function expectCheckViolation(promise: Promise<unknown>, name: string) {
  const err = await rejection(promise);
  expect(err.code).toBe('P2039');
  const cause = causeOf(err);
  expect(cause.originalCode).toBe('23514');
  expect(cause.originalMessage).toContain(`"${name}"`);
}

/** Asserts that `promise` fails on the unique index or key `name` (Prisma P2002, SQLSTATE 23505). */
export async function expectUniqueViolation(promise: Promise<unknown>, name: string) {
  const err = await rejection(promise);
  expect(err.code).toBe('P2002');
  const cause = causeOf(err);
  expect(cause.originalCode).toBe('23505');
  expect(cause.constraint?.index).toBe(name);
}

/** Asserts that `promise` fails on the foreign key `name` (Prisma P2003, SQLSTATE 23503). */
export async function expectForeignKeyViolation(promise: Promise<unknown>, name: string) {
  const err = await rejection(promise);
  expect(err.code).toBe('P2003');
  const cause = causeOf(err);
  expect(cause.originalCode).toBe('23503');
  expect(cause.constraint?.index).toBe(name);
}
