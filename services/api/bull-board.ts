import type { RequestHandler } from 'express';
import { exportsQueue, maintenanceQueue, updatesQueue } from '../../queues';
import type { AppContext } from '../core/context';
import { originAllowed } from './auth';
import { ApiError } from './errors';
import type { ApiQueues } from './queues';
import { UNSAFE_METHODS, type Principal } from './routing';

export const BULL_BOARD_PATH = '/admin/queues';
/** Queues shared by every bot: maintenance jobs and CSV exports. */
const SHARED_QUEUES = [maintenanceQueue, exportsQueue];
const REFRESH_MS = 5_000;

/**
 * Bull Board behind the API's login, for admins and owners only: it shows every update's payload (names, message
 * texts of Telegram users) and Redis' own statistics, which a viewer does not need. Two boards over the same
 * queues: a read-only one for admins, a full one (retry, clean, promote…) for owners. The queue list follows the bots: it is re-read
 * from the database at most every few seconds, when a request comes. Bull Board itself (~13 MB of heap) is loaded
 * on the first visit, not in every API process from the start, where it made every garbage collection longer.
 */
export function bullBoard(ctx: AppContext, queues: ApiQueues, allowList: string[]): RequestHandler {
  const loadBoards = async () => {
    const [{ createBullBoard }, { BullMQAdapter }, { ExpressAdapter }] = await Promise.all([
      import('@bull-board/api'),
      import('@bull-board/api/bullMQAdapter'),
      import('@bull-board/express'),
    ]);
    const makeBoard = (readOnlyMode: boolean) => {
      const serverAdapter = new ExpressAdapter();
      serverAdapter.setBasePath(BULL_BOARD_PATH);
      const board = createBullBoard({
        queues: [],
        serverAdapter,
        options: { uiConfig: { boardTitle: readOnlyMode ? 'Nezuko (read-only)' : 'Nezuko' } },
      });
      return { router: serverAdapter.getRouter() as RequestHandler, board, readOnlyMode };
    };
    return { readOnly: makeBoard(true), full: makeBoard(false), BullMQAdapter };
  };
  let boards: ReturnType<typeof loadBoards> | undefined;
  let names: string[] = [];
  let refreshedAt = 0;
  let refreshing: Promise<void> | undefined;

  const refresh = async () => {
    // A failed load is tried again on the next visit.
    boards ??= loadBoards().catch((err: unknown) => {
      boards = undefined;
      throw err;
    });
    const { readOnly, full, BullMQAdapter } = await boards;
    const bots = await ctx.db.botInstance.findMany({
      where: { deletedAt: null },
      select: { id: true },
      orderBy: { id: 'asc' },
    });
    const next = [...SHARED_QUEUES, ...bots.map((b) => updatesQueue(b.id))];
    const nextNames = next.map((ref) => ref.name);
    if (nextNames.join() !== names.join()) {
      for (const b of [readOnly, full]) {
        b.board.replaceQueues(
          next.map(
            (ref) =>
              new BullMQAdapter(queues.get(ref), { readOnlyMode: b.readOnlyMode, allowRetries: !b.readOnlyMode }),
          ),
        );
      }
      names = nextNames;
    }
    refreshedAt = Date.now();
  };

  return async (req, res, next) => {
    const auth = res.locals.auth as Principal | undefined;
    if (!auth) return next(new ApiError(401, 'unauthenticated', 'Log in to the admin API first'));
    if (auth.role === 'viewer') return next(new ApiError(403, 'forbidden', 'Bull Board needs the admin role'));
    const owner = auth.role === 'owner';
    if (UNSAFE_METHODS.has(req.method)) {
      if (!owner) return next(new ApiError(403, 'forbidden', 'Changing jobs needs the owner role'));
      // Bull Board's own UI cannot send our CSRF header: changes from a browser must come from our origin.
      const site = req.get('sec-fetch-site');
      if (
        auth.kind === 'session' &&
        (!originAllowed(req, allowList) || (site && site !== 'same-origin') || (!req.get('origin') && !site))
      ) {
        return next(new ApiError(403, 'csrf_failed', 'Cross-origin request refused'));
      }
    }
    if (Date.now() - refreshedAt > REFRESH_MS) {
      refreshing ??= refresh().finally(() => (refreshing = undefined));
      try {
        await refreshing;
      } catch (err) {
        return next(err);
      }
    }
    const { readOnly, full } = await boards!;
    return (owner ? full : readOnly).router(req, res, next);
  };
}
