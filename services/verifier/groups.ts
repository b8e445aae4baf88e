import type { Redis } from 'ioredis';
import { announceGroupChange } from '../../queues';
import type { PrismaClient } from '../core/db';
import type { Keyspace } from '../core/redis';

export interface ChannelPolicy {
  id: number;
  channelId: bigint;
  title: string;
  username: string | null;
  inviteLink: string | null;
  /** False while the bot cannot read the channel's members (not an admin there): checks are not made. */
  botIsAdmin: boolean;
}

export interface GroupPolicy {
  id: number;
  botInstanceId: number;
  chatId: bigint;
  title: string;
  enabled: boolean;
  /** Telegram lets bots mute only in supergroups: a basic group's protection waits for its upgrade (migration.ts). */
  supergroup: boolean;
  mode: 'mute' | 'join_request';
  promptLifetimeSeconds: number;
  muteDurationSeconds: number;
  language: string;
  customPromptText: string | null;
  /** Where prompts are shown: in the group, or only to the muted user (an ephemeral message, with a group fallback). */
  promptStyle: 'group' | 'ephemeral';
  /** Ban a foreign channel at its n-th deleted post (0 = never): sender-chats.ts. */
  senderChatBanAfter: number;
  linkedChatId: bigint | null;
  /** Guard-bot join requests not joined in time: declined, or left to the admins (guard-bot.ts). */
  guardTimeoutAction: 'decline' | 'queue';
  /** Whether Telegram names this bot the group's guard bot, as last seen; null = not known yet. */
  isGuardBot: boolean | null;
  channels: ChannelPolicy[];
  whitelist: Set<bigint>;
}

/** A safety net only: every change is announced over pub/sub and drops the cached copy in every process. */
const TTL_MS = 30_000;

/**
 * Group settings, channels and whitelist as the handlers read them on every update, cached in process.
 * Whoever changes a group (admin API, bot commands) announces it, so every process reloads it at once.
 */
export class GroupStore {
  private readonly cache = new Map<string, { at: number; value: Promise<GroupPolicy | null> }>();

  constructor(
    private readonly db: PrismaClient,
    private readonly bus: { redis: Redis; keys: Keyspace },
  ) {}

  get(botInstanceId: number, chatId: number | bigint): Promise<GroupPolicy | null> {
    const key = `${botInstanceId}:${chatId}`;
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.at < TTL_MS) return hit.value;
    const value = this.load(botInstanceId, BigInt(chatId)).catch((err) => {
      this.cache.delete(key);
      throw err;
    });
    this.cache.set(key, { at: Date.now(), value });
    if (this.cache.size > 10_000) this.cache.delete(this.cache.keys().next().value!);
    return value;
  }

  /**
   * Runs the group query once, for a group that cannot exist, before the first page needs it: Prisma plans a
   * query shape on its first use, and a cold backlog's first decisions otherwise wait for that (~150 ms earlier
   * in bench:pipeline). Reads and caches nothing.
   */
  async prepare(): Promise<void> {
    await this.load(0, 0n);
  }

  /** Drops this process' copy (on an announcement from elsewhere). */
  invalidate(botInstanceId: number, chatId: number | bigint): void {
    this.cache.delete(`${botInstanceId}:${chatId}`);
  }

  /** After changing a group here: drop the copy and tell every other process. */
  async changed(botInstanceId: number, chatId: number | bigint): Promise<void> {
    this.invalidate(botInstanceId, chatId);
    await announceGroupChange(this.bus, botInstanceId, chatId);
  }

  /** Enabled groups of this bot that require `channelChatId`. */
  async linkedToChannel(botInstanceId: number, channelChatId: number | bigint): Promise<GroupPolicy[]> {
    const groups = await this.db.protectedGroup.findMany({
      where: {
        botInstanceId,
        enabled: true,
        channelLinks: { some: { channel: { channelId: BigInt(channelChatId) } } },
      },
      select: { chatId: true },
    });
    const policies = await Promise.all(groups.map((g) => this.get(botInstanceId, g.chatId)));
    return policies.filter((p): p is GroupPolicy => p !== null);
  }

  private async load(botInstanceId: number, chatId: bigint): Promise<GroupPolicy | null> {
    const row = await this.db.protectedGroup.findUnique({
      where: { botInstanceId_chatId: { botInstanceId, chatId } },
      include: {
        channelLinks: {
          // The order the prompt names them in: as the admin listed them (schema.prisma, GroupChannelLink).
          orderBy: [{ position: 'asc' }, { channelId: 'asc' }],
          include: {
            channel: {
              select: { id: true, channelId: true, title: true, username: true, inviteLink: true, botIsAdmin: true },
            },
          },
        },
        whitelist: { select: { userId: true } },
      },
    });
    if (!row) return null;
    return {
      id: row.id,
      botInstanceId: row.botInstanceId,
      chatId: row.chatId,
      title: row.title,
      enabled: row.enabled,
      supergroup: row.chatType !== 'group',
      mode: row.mode === 'join_request' ? 'join_request' : 'mute',
      promptLifetimeSeconds: row.promptLifetimeSeconds,
      muteDurationSeconds: row.muteDurationSeconds,
      language: row.language,
      customPromptText: row.customPromptText,
      promptStyle: row.promptStyle === 'ephemeral' ? 'ephemeral' : 'group',
      senderChatBanAfter: row.senderChatBanAfter,
      linkedChatId: row.linkedChatId,
      guardTimeoutAction: row.guardTimeoutAction === 'queue' ? 'queue' : 'decline',
      isGuardBot: row.isGuardBot,
      channels: row.channelLinks.map((l) => l.channel),
      whitelist: new Set(row.whitelist.map((w) => w.userId)),
    };
  }
}
