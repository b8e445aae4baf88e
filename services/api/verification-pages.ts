import { createHash } from 'node:crypto';
import DataLoader from 'dataloader';
import type { Sql } from '../core/db/sql';

/** One filter of a page: `v.<column> <op> <value>`, the value sent as a parameter of `type`. */
export interface Condition {
  column: 'id' | 'bot_instance_id' | 'chat_id' | 'user_id' | 'status' | 'created_at';
  op: '=' | '<' | '>=';
  type: 'int8' | 'int4' | 'text' | 'timestamptz';
  value: string | number | Date;
}

export interface PageRequest {
  conditions: Condition[];
  limit: number;
}

/** A page as PostgreSQL wrote it: `items` is the JSON array's text, `last` the id a next page starts below. */
export interface Page {
  items: string;
  last: string | null;
  more: boolean;
}

/**
 * Verification log pages, newest first, read in batches: the requests that arrive while the event loop is busy
 * are sent as one statement (one row of parameters each, unnest … CROSS JOIN LATERAL), so a busy API pays one
 * PostgreSQL round trip for many pages instead of one each. The round trip, not PostgreSQL's work, was what a page
 * cost the API process (a `SELECT 1` in its place cost ~2.2× a no-op Express route, the page ~3×). A request
 * alone waits for nothing: the batch goes out at the end of the event loop turn that received it (setImmediate).
 * Each page is still PostgreSQL's own index-range scan; requests with different filters or page sizes go out as
 * one statement per combination, at once.
 */
export function verificationPages(sql: Sql): (request: PageRequest) => Promise<Page> {
  const loader = new DataLoader<PageRequest, Page>(
    async (requests) => {
      const byStatement = new Map<string, number[]>();
      requests.forEach((r, i) => {
        const key = `${shapeOf(r.conditions)}/${sizeOf(r.limit)}`;
        const indexes = byStatement.get(key);
        if (indexes) indexes.push(i);
        else byStatement.set(key, [i]);
      });
      const pages: Page[] = new Array(requests.length);
      await Promise.all(
        [...byStatement].map(async ([key, indexes]) => {
          const { conditions, limit } = requests[indexes[0]!]!;
          const { text, name } = statement(key, conditions, sizeOf(limit));
          // Parameter c is the array of every request's value of condition c; the last is the limits.
          const values = conditions.map((_, c) => indexes.map((i) => requests[i]!.conditions[c]!.value));
          values.push(indexes.map((i) => requests[i]!.limit));
          const rows = await sql.rows<Page & { ord: string }>(text, values, name);
          for (const row of rows) pages[indexes[Number(row.ord) - 1]!] = row;
        }),
      );
      return pages;
    },
    { cache: false, maxBatchSize: 100, batchScheduleFn: (run) => setImmediate(run) },
  );
  return (request) => loader.load(request);
}

const shapeOf = (conditions: Condition[]) => conditions.map((c) => `${c.column}${c.op}${c.type}`).join(',');

/**
 * The page size a statement is planned for, written into it as a constant: a LIMIT that comes from the joined
 * parameters is planned as 10 % of the matching rows, and with 10,000,000 rows that plan read a bot's whole log
 * below the cursor (p50 40 ms against 9.5 at 1,000,000). A few sizes keep the statements few (filters × sizes);
 * a page reads at most its size's rows.
 */
const PAGE_SIZES = [10, 25, 50, 100];
const sizeOf = (limit: number) => PAGE_SIZES.find((size) => limit <= size) ?? PAGE_SIZES.at(-1)!;

const statements = new Map<string, { text: string; name: string }>();

/**
 * The statement for one combination of filters and page size. PostgreSQL writes each page as JSON and the API sends
 * that text as it is: 51 rows of ten fields parsed into objects and serialized again cost the API process ~2.5× the
 * CPU of one string. Each item is concatenated, the text fields through to_json (its escaping): the same bytes as
 * row_to_json of a sub-select, for ~20 % less of PostgreSQL's time per page, which shares this machine's two cores
 * with the API; only the rows of the page are written (FILTER). int8 columns go out as strings and created_at as
 * the ISO text Date#toJSON would give (timestamptz(3) has milliseconds); one row more than the page says whether
 * there is a next one. Prepared, named after its text (so a name never stands for two texts): planned once per
 * connection.
 */
function statement(key: string, conditions: Condition[], size: number): { text: string; name: string } {
  const known = statements.get(key);
  if (known) return known;
  const params = [...conditions.map((c, i) => `$${i + 1}::${c.type}[]`), `$${conditions.length + 1}::int4[]`];
  const columns = [...conditions.map((_, i) => `c${i}`), 'lim', 'ord'];
  const where = conditions.map((c, i) => `v.${c.column} ${c.op} k.c${i}`);
  const item = `'{"id":"' || v.id || '","botInstanceId":' || v.bot_instance_id || ',"chatId":"' || v.chat_id
    || '","userId":"' || v.user_id || '","status":' || to_json(v.status) || ',"latencyMs":' || v.latency_ms
    || ',"cached":' || v.cached || ',"errorType":' || coalesce(to_json(v.error_type)::text, 'null')
    || ',"reason":' || coalesce(to_json(v.reason)::text, 'null') || ',"createdAt":"'
    || to_char(v.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') || '"}'`;
  const text = `SELECT k.ord, p.items, p.last, p.more
    FROM unnest(${params.join(', ')}) WITH ORDINALITY AS k(${columns.join(', ')})
    CROSS JOIN LATERAL (
      SELECT '[' || coalesce(string_agg(${item}, ',' ORDER BY v.id DESC) FILTER (WHERE v.n <= k.lim), '') || ']' AS items,
             (max(v.id) FILTER (WHERE v.n = k.lim))::text AS last,
             count(*) FILTER (WHERE v.n <= k.lim + 1) > k.lim AS more
      FROM (
        SELECT v.*, row_number() OVER (ORDER BY v.id DESC) AS n
        FROM verification_log v ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY v.id DESC LIMIT ${size + 1}
      ) v
    ) p`;
  const made = { text, name: `vpages:${createHash('sha1').update(text).digest('base64url').slice(0, 16)}` };
  statements.set(key, made);
  return made;
}
