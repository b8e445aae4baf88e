import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Telegram Web App `initData`, checked as core.telegram.org/bots/webapps ("Validating data received via the Mini
 * App") documents: the data-check-string is every received field but `hash`, as `key=value`, sorted by key and
 * joined by "\n"; secret_key = HMAC_SHA256(key = "WebAppData", message = bot_token); the data is genuine when
 * hex(HMAC_SHA256(key = secret_key, message = data_check_string)) equals `hash`. `auth_date` (Unix seconds) says
 * when Telegram signed it: older than `maxAgeSeconds` is refused, so a leaked initData stops working.
 *
 * Written here with node:crypto rather than taken from a package: it is these few documented lines, and the
 * packages that do it bring a schema library and a tree of their own.
 */
export type InitDataCheck =
  | { ok: true; user: { id: number; firstName: string; languageCode?: string }; authDate: number }
  | { ok: false; reason: 'malformed' | 'bad_signature' | 'stale' };

/** Telegram's clock and ours may differ a little: an auth_date up to this far ahead is accepted. */
const CLOCK_SKEW_S = 60;

export function signInitData(fields: Record<string, string>, botToken: string): string {
  const dataCheckString = Object.keys(fields)
    .sort()
    .map((k) => `${k}=${fields[k]}`)
    .join('\n');
  const secretKey = createHmac('sha256', 'WebAppData').update(botToken).digest();
  return createHmac('sha256', secretKey).update(dataCheckString).digest('hex');
}

export function checkInitData(
  initData: string,
  botToken: string,
  maxAgeSeconds: number,
  nowMs = Date.now(),
): InitDataCheck {
  if (initData.length > 4096) return { ok: false, reason: 'malformed' };
  const fields: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(initData)) {
    if (key in fields) return { ok: false, reason: 'malformed' };
    fields[key] = value;
  }
  const { hash, ...signed } = fields;
  if (!hash || !/^[0-9a-f]{64}$/.test(hash)) return { ok: false, reason: 'malformed' };
  const expected = Buffer.from(signInitData(signed, botToken), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(hash, 'hex'))) return { ok: false, reason: 'bad_signature' };

  // Only signed data is read from here on.
  const authDate = Number(signed.auth_date);
  if (!Number.isInteger(authDate) || authDate <= 0) return { ok: false, reason: 'malformed' };
  const ageS = nowMs / 1000 - authDate;
  if (ageS > maxAgeSeconds || ageS < -CLOCK_SKEW_S) return { ok: false, reason: 'stale' };
  let user: unknown;
  try {
    user = JSON.parse(signed.user ?? '');
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  const u = user as { id?: unknown; first_name?: unknown; language_code?: unknown } | null;
  if (!u || !Number.isSafeInteger(u.id) || (u.id as number) <= 0) return { ok: false, reason: 'malformed' };
  return {
    ok: true,
    user: {
      id: u.id as number,
      firstName: typeof u.first_name === 'string' ? u.first_name : '',
      ...(typeof u.language_code === 'string' ? { languageCode: u.language_code } : {}),
    },
    authDate,
  };
}
