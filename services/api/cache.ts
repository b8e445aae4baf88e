import type { AppContext } from '../core/context';
import { hashToken } from '../core/crypto';
import { JsonBody } from './routing';

/**
 * Read-through cache for entity reads, in two layers, holding serialized JSON (served as it is):
 * - Redis, shared by every API process: each kind (groups, channels) has a generation number in its keys; a
 *   change bumps the generation, so every cached list, search and item of that kind is stale at once (old
 *   entries expire by TTL). Values are JSON with bigints as strings.
 * - this process, for LOCAL_TTL_MS: a hot search or list costs a Map lookup instead of two Redis round trips.
 *   invalidate() empties it at once; changes made in other processes reach it through the control channel
 *   (group-changed / bots-changed call invalidate() in every API process), and LOCAL_TTL_MS bounds what a
 *   missed message could leave behind.
 */
export type CacheKind = 'groups' | 'channels';

/** How long this process serves an entry without asking Redis. */
export const LOCAL_TTL_MS = 1_000;
const LOCAL_MAX_ENTRIES = 2_000;

export function entityCache(ctx: AppContext) {
  const genKey = (kind: CacheKind) => ctx.keys.key('api', 'cache', kind, 'gen');
  const ttl = ctx.config.API_CACHE_TTL_SECONDS;
  const replacer = (_k: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);
  const local = new Map<string, { body: JsonBody; until: number }>();
  const loading = new Map<string, Promise<JsonBody>>();
  // Bumped by invalidate(): a read that started before a change neither joins nor fills the newer state.
  const epochs: Record<CacheKind, number> = { groups: 0, channels: 0 };

  const readShared = async (kind: CacheKind, rawKey: string, load: () => Promise<unknown>): Promise<JsonBody> => {
    const key = hashToken(rawKey).slice(0, 40);
    let gen: string | null = null;
    try {
      gen = (await ctx.redis.get(genKey(kind))) ?? '0';
      const hit = await ctx.redis.get(ctx.keys.key('api', 'cache', kind, gen, key));
      if (hit !== null) return new JsonBody(hit);
    } catch (err) {
      ctx.log.warn('api cache read failed', { err });
    }
    const value = await load();
    const json = JSON.stringify(value ?? null, replacer);
    if (gen !== null && value !== null && value !== undefined) {
      await ctx.redis.set(ctx.keys.key('api', 'cache', kind, gen, key), json, 'EX', ttl).catch(() => {});
    }
    return new JsonBody(json);
  };

  return {
    /** The cached JSON for rawKey, or load()'s value serialized (bigints as strings) and cached. */
    async read(kind: CacheKind, rawKey: string, load: () => Promise<unknown>): Promise<JsonBody> {
      const localKey = `${kind}\n${epochs[kind]}\n${rawKey}`;
      const hit = local.get(localKey);
      if (hit && hit.until > Date.now()) return hit.body;
      let pending = loading.get(localKey);
      if (!pending) {
        const epoch = epochs[kind];
        pending = readShared(kind, rawKey, load)
          .then((body) => {
            if (epochs[kind] === epoch) {
              if (local.size >= LOCAL_MAX_ENTRIES) local.clear();
              local.set(localKey, { body, until: Date.now() + LOCAL_TTL_MS });
            }
            return body;
          })
          .finally(() => loading.delete(localKey));
        loading.set(localKey, pending);
      }
      return pending;
    },
    async invalidate(...kinds: CacheKind[]): Promise<void> {
      const forget = () => {
        for (const kind of kinds) epochs[kind]++;
        local.clear();
      };
      forget();
      await Promise.all(kinds.map((kind) => ctx.redis.incr(genKey(kind))));
      // Reads that started while the generation was still the old one must not be kept either.
      forget();
    },
  };
}
export type EntityCache = ReturnType<typeof entityCache>;
