// Row factories for the maintenance tests: bots, groups and log rows written the way the platform writes them
// (unnest() bulk inserts), with known statuses, latencies and times.
import { randomBytes } from 'node:crypto';
import type { PrismaClient } from '../../services/core/db';

let seq = 0;
const next = () => ++seq;

export function makeBot(db: PrismaClient, data: { status?: string; username?: string } = {}) {
  const n = next();
  return db.botInstance.create({
    data: {
      telegramBotId: BigInt(8_000_000 + n),
      username: data.username ?? `mt${n}_${randomBytes(2).toString('hex')}_bot`,
      name: `Bot ${n}`,
      tokenEncrypted: 'v1:aXY=:dGFn:Y3Q=',
      status: data.status ?? 'running',
    },
  });
}

export function makeGroup(
  db: PrismaClient,
  botInstanceId: number,
  data: { title?: string; enabled?: boolean; chatId?: bigint; botRemovedAt?: Date } = {},
) {
  const n = next();
  return db.protectedGroup.create({
    data: {
      botInstanceId,
      chatId: data.chatId ?? BigInt(-1_001_000_000_000 - n),
      title: data.title ?? `Group ${n}`,
      enabled: data.enabled ?? true,
      botRemovedAt: data.botRemovedAt,
    },
  });
}

export const STATUSES = ['verified', 'restricted', 'approved', 'declined', 'skipped', 'error'] as const;

export interface VerificationRow {
  botInstanceId: number;
  chatId: bigint;
  userId?: bigint;
  status: (typeof STATUSES)[number];
  latencyMs: number;
  cached: boolean;
  createdAt: Date;
}

export async function insertVerifications(db: PrismaClient, rows: VerificationRow[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 20_000) {
    const b = rows.slice(i, i + 20_000);
    await db.$executeRaw`
      INSERT INTO verification_log (bot_instance_id, chat_id, user_id, status, latency_ms, cached, error_type, created_at)
      SELECT * FROM unnest(
        ${b.map((r) => r.botInstanceId)}::int[],
        ${b.map((r) => String(r.chatId))}::bigint[],
        ${b.map((r) => String(r.userId ?? 1000n))}::bigint[],
        ${b.map((r) => r.status)}::text[],
        ${b.map((r) => r.latencyMs)}::int[],
        ${b.map((r) => r.cached)}::boolean[],
        ${b.map((r) => (r.status === 'error' ? 'timeout' : null))}::text[],
        ${b.map((r) => r.createdAt.toISOString())}::timestamptz[])`;
  }
}

export interface ApiCallRow {
  botInstanceId: number;
  method: string;
  chatId?: bigint | null;
  success: boolean;
  errorCode?: number | null;
  latencyMs: number;
  createdAt: Date;
}

export async function insertApiCalls(db: PrismaClient, rows: ApiCallRow[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 20_000) {
    const b = rows.slice(i, i + 20_000);
    await db.$executeRaw`
      INSERT INTO api_call_log (bot_instance_id, method, chat_id, success, error_code, latency_ms, created_at)
      SELECT * FROM unnest(
        ${b.map((r) => r.botInstanceId)}::int[],
        ${b.map((r) => r.method)}::text[],
        ${b.map((r) => (r.chatId == null ? null : String(r.chatId)))}::bigint[],
        ${b.map((r) => r.success)}::boolean[],
        ${b.map((r) => (r.success ? null : (r.errorCode ?? null)))}::int[],
        ${b.map((r) => r.latencyMs)}::int[],
        ${b.map((r) => r.createdAt.toISOString())}::timestamptz[])`;
  }
}

/** A deterministic pseudo-random generator (mulberry32), so failures reproduce. */
export function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LATENCIES = [0, 10, 11, 25, 26, 50, 51, 100, 250, 251, 500, 1000, 1001, 2500, 5000, 5001, 60000];

/** n random verification rows over the given bots/chats, spread over `hours` hours before now (crossing hour boundaries). */
export function randomVerifications(
  random: () => number,
  n: number,
  bots: number[],
  chats: bigint[],
  hours: number,
  base = Date.now(),
): VerificationRow[] {
  return Array.from({ length: n }, () => ({
    botInstanceId: bots[Math.floor(random() * bots.length)]!,
    chatId: chats[Math.floor(random() * chats.length)]!,
    userId: BigInt(1 + Math.floor(random() * 1e6)),
    status: STATUSES[Math.floor(random() * STATUSES.length)]!,
    latencyMs: random() < 0.5 ? LATENCIES[Math.floor(random() * LATENCIES.length)]! : Math.floor(random() * 7000),
    cached: random() < 0.4,
    createdAt: new Date(base - Math.floor(random() * hours * 3_600_000)),
  }));
}

export function randomApiCalls(
  random: () => number,
  n: number,
  bots: number[],
  hours: number,
  base = Date.now(),
): ApiCallRow[] {
  const methods = ['getChatMember', 'restrictChatMember', 'sendMessage', 'getUpdates'];
  return Array.from({ length: n }, () => {
    const success = random() < 0.8;
    return {
      botInstanceId: bots[Math.floor(random() * bots.length)]!,
      method: methods[Math.floor(random() * methods.length)]!,
      chatId: random() < 0.5 ? null : -100123n,
      success,
      errorCode: success ? null : random() < 0.5 ? 429 : random() < 0.5 ? 400 : null,
      latencyMs: Math.floor(random() * 3000),
      createdAt: new Date(base - Math.floor(random() * hours * 3_600_000)),
    };
  });
}
