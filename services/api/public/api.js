// A thin client for the public admin API (/api/v1): session cookie + X-CSRF-Token on changes.

const BASE = '/api/v1';
let csrfToken = null;

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

const cookie = (name) => {
  const hit = document.cookie.split('; ').find((c) => c.startsWith(`${name}=`));
  return hit ? decodeURIComponent(hit.slice(name.length + 1)) : null;
};

export function setCsrf(token) {
  csrfToken = token;
}

/** Listeners called when a request answers 401 (session expired or logged out elsewhere). */
const unauthorized = new Set();
export const onUnauthorized = (fn) => unauthorized.add(fn);

export async function api(path, { method = 'GET', body, query, quiet401 = false } = {}) {
  let url = `${BASE}${path}`;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    if (q.size) url += `?${q}`;
  }
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-csrf-token'] = csrfToken ?? cookie('nezuko_csrf') ?? '';
  const res = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    if (res.status === 401 && !quiet401) for (const fn of unauthorized) fn();
    const err = data?.error ?? {};
    throw new ApiError(res.status, err.code ?? 'error', err.message ?? `HTTP ${res.status}`, err.details);
  }
  return data;
}

export const describeError = (err) => {
  if (!(err instanceof ApiError)) return 'Network error — is the server running?';
  const details = Array.isArray(err.details) ? err.details.map((d) => `${d.path}: ${d.message}`).join('; ') : '';
  return details ? `${err.message} (${details})` : err.message;
};
