import type { AppContext } from '../core/context';
import { hashToken } from '../core/crypto';

/**
 * Read-through cache for entity reads in Redis. Each kind (groups, channels) has a generation number in
 * its keys; a change bumps the generation, so every cached list, search and item of that kind is stale at
 * once (old entries expire by TTL). Values are JSON with bigints as strings.
 */
export type CacheKind = 'groups' | 'channels';

export function entityCache(ctx: AppContext) {
  const genKey = (kind: CacheKind) => ctx.keys.key('api', 'cache', kind, 'gen');
  const ttl = ctx.config.API_CACHE_TTL_SECONDS;
  const replacer = (_k: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);

  return {
    async read<T>(kind: CacheKind, rawKey: string, load: () => Promise<T>): Promise<T> {
      const key = hashToken(rawKey).slice(0, 40);
      let gen: string | null = null;
      try {
        gen = (await ctx.redis.get(genKey(kind))) ?? '0';
        const hit = await ctx.redis.get(ctx.keys.key('api', 'cache', kind, gen, key));
        if (hit !== null) return JSON.parse(hit) as T;
      } catch (err) {
        ctx.log.warn('api cache read failed', { err });
      }
      const value = await load();
      if (gen !== null && value !== null && value !== undefined) {
        await ctx.redis.set(ctx.keys.key('api', 'cache', kind, gen, key), JSON.stringify(value, replacer), 'EX', ttl).catch(() => {});
      }
      return JSON.parse(JSON.stringify(value, replacer)) as T;
    },
    async invalidate(...kinds: CacheKind[]): Promise<void> {
      await Promise.all(kinds.map((kind) => ctx.redis.incr(genKey(kind))));
    },
  };
}
export type EntityCache = ReturnType<typeof entityCache>;
