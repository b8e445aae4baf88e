import type { AppContext } from '../core/context';
import { hashToken } from '../core/crypto';
import { JsonBody } from './routing';

/**
 * Read-through cache for entity reads, in two layers, holding serialized JSON (served as it is):
 * - Redis, shared by every API process: each kind (groups, channels) has a generation number in its keys; a
 *   change bumps the generation, so every cached list, search and item of that kind is stale at once (old
 *   entries expire by TTL). Values are JSON with bigints as strings. Only reads that repeat are stored there.
 * - this process, for LOCAL_TTL_MS: a hot search or list costs a Map lookup instead of two Redis round trips.
 *   invalidate() empties it at once; changes made in other processes reach it through the control channel
 *   (group-changed / bots-changed call invalidate() in every API process), and LOCAL_TTL_MS bounds what a
 *   missed message could leave behind.
 */
export type CacheKind = 'groups' | 'channels';

/** How long this process serves an entry without asking Redis. */
export const LOCAL_TTL_MS = 1_000;
const LOCAL_MAX_ENTRIES = 2_000;
/**
 * Redis never evicts (it holds the queues), so only what repeats is cached there: a key is written on its second
 * read within the TTL (in this process). One-off searches (each distinct text a page of its own) cost Redis
 * nothing; this process remembers at most SEEN_MAX keys to tell, the oldest forgotten first.
 */
const SEEN_MAX = 10_000;

export function entityCache(ctx: AppContext) {
  const genKey = (kind: CacheKind) => ctx.keys.key('api', 'cache', kind, 'gen');
  const ttl = ctx.config.API_CACHE_TTL_SECONDS;
  const replacer = (_k: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);
  /** `store` is set while the body is not in Redis yet: it is written there once the key is read again. */
  const local = new Map<string, { body: JsonBody; until: number; store?: () => Promise<void> }>();
  const loading = new Map<string, Promise<{ body: JsonBody; store?: () => Promise<void> }>>();
  // Bumped by invalidate(): a read that started before a change neither joins nor fills the newer state.
  const epochs: Record<CacheKind, number> = { groups: 0, channels: 0 };
  const seen = new Map<string, number>();
  /** True when `key` was read before within the TTL; notes this read either way. */
  const repeated = (key: string) => {
    const now = Date.now();
    const until = seen.get(key);
    seen.delete(key);
    seen.set(key, now + ttl * 1000);
    if (seen.size > SEEN_MAX) seen.delete(seen.keys().next().value!);
    return until !== undefined && until > now;
  };

  const readShared = async (
    kind: CacheKind,
    rawKey: string,
    load: () => Promise<unknown>,
  ): Promise<{ body: JsonBody; store?: () => Promise<void> }> => {
    const key = hashToken(rawKey).slice(0, 40);
    let gen: string | null = null;
    try {
      gen = (await ctx.redis.get(genKey(kind))) ?? '0';
      const hit = await ctx.redis.get(ctx.keys.key('api', 'cache', kind, gen, key));
      if (hit !== null) return { body: new JsonBody(hit, { shared: true }) };
    } catch (err) {
      ctx.log.warn('api cache read failed', { err });
    }
    const value = await load();
    const json = JSON.stringify(value ?? null, replacer);
    const redisKey =
      gen === null || value === null || value === undefined ? null : ctx.keys.key('api', 'cache', kind, gen, key);
    const store = redisKey
      ? () =>
          ctx.redis.set(redisKey, json, 'EX', ttl).then(
            () => undefined,
            () => undefined,
          )
      : undefined;
    return { body: new JsonBody(json, { shared: true }), store };
  };

  return {
    /** The cached JSON for rawKey, or load()'s value serialized (bigints as strings) and cached. */
    async read(kind: CacheKind, rawKey: string, load: () => Promise<unknown>): Promise<JsonBody> {
      const localKey = `${kind}\n${epochs[kind]}\n${rawKey}`;
      const seenKey = `${kind}\n${rawKey}`;
      const hit = local.get(localKey);
      if (hit && hit.until > Date.now()) {
        if (hit.store && repeated(seenKey)) {
          void hit.store();
          hit.store = undefined;
        }
        return hit.body;
      }
      let pending = loading.get(localKey);
      if (!pending) {
        const epoch = epochs[kind];
        pending = readShared(kind, rawKey, load)
          .then(async (result) => {
            let store = result.store;
            if (store && repeated(seenKey)) {
              await store();
              store = undefined;
            }
            if (epochs[kind] === epoch) {
              if (local.size >= LOCAL_MAX_ENTRIES) local.clear();
              local.set(localKey, { body: result.body, until: Date.now() + LOCAL_TTL_MS, store });
            }
            return { body: result.body };
          })
          .finally(() => loading.delete(localKey));
        loading.set(localKey, pending);
      }
      return (await pending).body;
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
