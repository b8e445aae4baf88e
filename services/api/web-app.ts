import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import express, { type Request, type Response, type Router } from 'express';
import helmet from 'helmet';
import { z } from 'zod';
import { addJob, GUARD_WEB_APP_PATH, readGuardRequest, updatesQueue, type GuardRequest } from '../../queues';
import { decryptSecret } from '../core/crypto';
import type { ApiDeps } from './deps';
import { ApiError } from './errors';
import { checkInitData } from './init-data';

/**
 * The verification Web App of guard-bot join requests (services/verifier/guard-bot.ts): a page Telegram opens
 * for a user whose join request waits for channels, at WEB_APP_BASE_URL + GUARD_WEB_APP_PATH?bot=…&chat=….
 *
 * It trusts nothing it is sent. Who the user is comes only from Telegram's signed initData (init-data.ts),
 * checked with the token of the bot named in the URL; each answer is about that user's own request in that
 * chat, and holds the group's title and the channels still to join, never a token or anyone else's state.
 */

/** How long a "check" waits for the verifier's answer before the page is told to look again. */
const CHECK_WAIT_MS = 8_000;
/** One check per user per this long reaches Telegram; presses in between wait for the same answer. */
const CHECK_SPACING_MS = 2_000;
/** Bot tokens are decrypted at most this often per bot (a deleted or rotated bot takes effect after it). */
const TOKEN_TTL_MS = 60_000;

const body = z.object({
  initData: z.string().min(1).max(4096),
  bot: z.coerce.number().int().positive().max(2_147_483_647),
  chat: z.coerce.number().int().min(-999_999_999_999_999).max(-1),
});

const REFUSED = {
  malformed: new ApiError(401, 'invalid_init_data', 'Open this page from Telegram'),
  bad_signature: new ApiError(401, 'invalid_init_data', 'Open this page from Telegram'),
  stale: new ApiError(401, 'stale_init_data', 'This page is too old: open it again from Telegram'),
} as const;

export function webAppRouter(deps: ApiDeps): Router {
  const { ctx } = deps;
  const tokens = new Map<number, { at: number; token: string | null }>();

  async function botToken(botId: number): Promise<string | null> {
    const hit = tokens.get(botId);
    if (hit && Date.now() - hit.at < TOKEN_TTL_MS) return hit.token;
    const row = await ctx.db.botInstance.findFirst({
      where: { id: botId, deletedAt: null, isActive: true },
      select: { tokenEncrypted: true },
    });
    const key = ctx.config.TOKEN_ENCRYPTION_KEY;
    const token = row && key ? decryptSecret(row.tokenEncrypted, key) : null;
    tokens.set(botId, { at: Date.now(), token });
    if (tokens.size > 10_000) tokens.delete(tokens.keys().next().value!);
    return token;
  }

  /** The caller, as Telegram signed it, and the request they ask about; 4xx for anything else. */
  async function authenticate(req: Request) {
    const parsed = body.safeParse(req.body);
    if (!parsed.success) throw new ApiError(400, 'bad_request', 'Expected initData, bot and chat');
    const { initData, bot, chat } = parsed.data;
    const token = await botToken(bot);
    // An unknown bot looks like a forged signature: the page says nothing about which bots exist.
    if (!token) throw REFUSED.bad_signature;
    const checked = checkInitData(initData, token, ctx.config.WEB_APP_AUTH_MAX_AGE_SECONDS);
    if (!checked.ok) {
      ctx.log.info('web app refused initData', { botId: bot, reason: checked.reason });
      throw REFUSED[checked.reason];
    }
    return { botId: bot, chatId: chat, userId: checked.user.id };
  }

  async function view(botId: number, chatId: number, request: GuardRequest) {
    const group = await ctx.db.protectedGroup.findUnique({
      where: { botInstanceId_chatId: { botInstanceId: botId, chatId: BigInt(chatId) } },
      select: { title: true, language: true },
    });
    const channels = request.missing.length
      ? await ctx.db.enforcedChannel.findMany({
          where: { id: { in: request.missing }, botInstanceId: botId },
          select: { id: true, title: true, username: true, inviteLink: true },
          orderBy: { id: 'asc' },
        })
      : [];
    return {
      state: request.state,
      group: { title: group?.title ?? '', language: group?.language ?? 'en' },
      missing: channels.map((c) => ({
        title: c.title,
        username: c.username,
        link: c.inviteLink?.startsWith('https://') ? c.inviteLink : c.username ? `https://t.me/${c.username}` : null,
      })),
      expiresAt: new Date(request.expiresAt).toISOString(),
    };
  }

  async function ownRequest(botId: number, chatId: number, userId: number): Promise<GuardRequest> {
    const request = await readGuardRequest(ctx.redis, ctx.keys, botId, chatId, userId);
    if (!request) throw new ApiError(404, 'no_request', 'No join request of yours is waiting in this group');
    return request;
  }

  const router = express.Router();
  router.use(
    helmet({
      // Telegram Web opens Web Apps in a frame of its own pages.
      frameguard: false,
      contentSecurityPolicy: {
        useDefaults: true,
        directives: {
          'script-src': ["'self'"],
          'style-src': ["'self'"],
          'connect-src': ["'self'"],
          'img-src': ["'self'", 'data:'],
          'frame-ancestors': ["'self'", 'https://web.telegram.org'],
          'upgrade-insecure-requests': null,
        },
      },
    }),
  );
  router.use((_req, res, next) => {
    res.set('cache-control', 'no-store');
    res.removeHeader('x-frame-options');
    next();
  });
  router.use(express.json({ limit: '8kb' }));

  router.post('/state', async (req: Request, res: Response) => {
    const { botId, chatId, userId } = await authenticate(req);
    res.json(await view(botId, chatId, await ownRequest(botId, chatId, userId)));
  });

  router.post('/check', async (req: Request, res: Response) => {
    const { botId, chatId, userId } = await authenticate(req);
    const before = await ownRequest(botId, chatId, userId);
    if (before.state !== 'web_app') return void res.json(await view(botId, chatId, before));
    // Presses closer together than CHECK_SPACING_MS share one check, made when the spacing is over.
    const spacing = ctx.keys.bot(botId, 'guard-check', chatId, userId);
    const queue = deps.queues.get(updatesQueue(botId));
    const data = { botInstanceId: botId, chatId, userId };
    if ((await ctx.redis.set(spacing, '1', 'PX', CHECK_SPACING_MS, 'NX')) === 'OK')
      await addJob(queue, 'guard-check', data);
    else {
      const delay = Math.max(0, await ctx.redis.pttl(spacing));
      const at = Date.now() + delay;
      await addJob(queue, 'guard-check', data, {
        delay,
        jobId: `gc-${botId}-${-chatId}-${userId}-${at - (at % 1000)}`,
      });
    }
    const until = Date.now() + CHECK_WAIT_MS;
    let now = before;
    while (Date.now() < until) {
      await sleep(100);
      now = await ownRequest(botId, chatId, userId);
      if (now.checkedAt !== before.checkedAt || now.state !== before.state) break;
    }
    res.json({ ...(await view(botId, chatId, now)), checked: now.checkedAt !== before.checkedAt });
  });

  router.get('/', (_req, res) => {
    res.sendFile(fileURLToPath(new URL('./webapp/join.html', import.meta.url)));
  });
  router.use(express.static(fileURLToPath(new URL('./webapp', import.meta.url)), { index: false, maxAge: 0 }));
  return router;
}

export { GUARD_WEB_APP_PATH };
