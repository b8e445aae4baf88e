import { z } from 'zod';
import { errorResponse } from './errors';
import type { AnyRoute } from './routing';

type JsonSchema = Record<string, unknown>;

/**
 * OpenAPI 3.0 honours `nullable` only beside `type`; zod puts it beside `anyOf` for a nullable union. Moving it
 * into each alternative says the same thing in a form validators (and code generators) understand.
 */
function nullableUnions(node: unknown): void {
  if (!node || typeof node !== 'object') return;
  const schema = node as JsonSchema;
  if (schema.nullable === true && schema.type === undefined && Array.isArray(schema.anyOf)) {
    delete schema.nullable;
    for (const alternative of schema.anyOf as JsonSchema[]) alternative.nullable = true;
  }
  for (const value of Object.values(schema)) nullableUnions(value);
}

/** Requests are described as zod takes them in (input), answers as they go out (output: closed objects). */
const toSchema = (schema: z.ZodType, io: 'input' | 'output' = 'input'): JsonSchema => {
  const { $schema: _s, ...rest } = z.toJSONSchema(schema, {
    io,
    unrepresentable: 'any',
    target: 'openapi-3.0',
  }) as JsonSchema;
  nullableUnions(rest);
  return rest;
};

const parameters = (schema: z.ZodType | undefined, where: 'path' | 'query') => {
  if (!schema) return [];
  const json = toSchema(schema);
  const props = (json.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json.required as string[] | undefined) ?? []);
  return Object.entries(props).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' || (required.has(name) && s.default === undefined),
    schema: s,
    ...(s.description ? { description: s.description } : {}),
  }));
};

/** The OpenAPI 3 document, generated from the very zod schemas that validate each route. */
export function openApiDocument(routes: AnyRoute[]) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = route.path.replace(/:(\w+)/g, '{$1}');
    const error = (description: string) => ({
      description,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    });
    const status = String(route.status ?? (route.response === null ? 204 : 200));
    const success =
      route.response === null
        ? {}
        : {
            content: {
              [route.produces ?? 'application/json']: {
                schema: route.produces ? { type: 'string', format: 'binary' } : toSchema(route.response, 'output'),
              },
            },
          };
    paths[path] ??= {};
    paths[path][route.method] = {
      summary: route.summary,
      tags: [route.tag],
      operationId: `${route.method}${path.replace(/[{}]/g, '').replace(/[/-](\w)/g, (_m, c: string) => c.toUpperCase())}`,
      'x-required-role': route.access,
      security: route.access === 'public' ? [] : [{ sessionCookie: [] }, { bearerToken: [] }],
      parameters: [...parameters(route.params, 'path'), ...parameters(route.query, 'query')],
      ...(route.body
        ? { requestBody: { required: true, content: { 'application/json': { schema: toSchema(route.body) } } } }
        : {}),
      responses: {
        [status]: { description: 'Success', ...success },
        '400': error('Invalid parameters or body'),
        ...(route.access === 'public'
          ? {}
          : { '401': error('No valid session or token'), '403': error('Role too low, or CSRF check failed') }),
        ...(route.path.includes(':') ? { '404': error('Not found') } : {}),
        // Every route is under the general request limit (rate-limit.ts); its 429 carries Retry-After.
        '429': error('Too many requests from this credential or address; retry after the Retry-After seconds'),
        ...Object.fromEntries(
          Object.entries(route.errors ?? {}).map(([code, description]) => [code, error(description!)]),
        ),
      },
    };
  }
  return {
    openapi: '3.0.3',
    info: {
      title: 'Nezuko admin API',
      version: '1',
      description:
        'Manage bots, groups, channels and verifications. Authenticate with the session cookie from POST /auth/login ' +
        '(changes then need the X-CSRF-Token header) or with an API token (Authorization: Bearer nzk_…). ' +
        "Roles: viewer reads bots, groups, channels, verifications, statistics and the export list; admin also manages bots, groups, channels and exports and reads the audit log (without addresses, user agents and names typed at failed logins) and Bull Board; owner also manages users and tokens, reads the whole audit log and changes jobs in Bull Board. An API token acts with at most its user's current role.",
    },
    servers: [{ url: '/api/v1' }],
    components: {
      securitySchemes: {
        sessionCookie: { type: 'apiKey', in: 'cookie', name: 'nezuko_session' },
        bearerToken: { type: 'http', scheme: 'bearer' },
      },
      schemas: { Error: toSchema(errorResponse, 'output') },
    },
    paths,
  };
}
