import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/** Checks answers against an OpenAPI document (the one the API serves) with Ajv, compiling each schema once. */
export function openApiChecker(doc: any) {
  const ajv = addFormats(new Ajv({ strict: false, allErrors: true }));
  const compiled = new Map<string, ValidateFunction>();

  /** The documented schema of one answer; undefined when the status is not documented for the route. */
  const documented = (
    method: string,
    route: string,
    status: number,
  ): { schema?: ValidateFunction; type?: string } | undefined => {
    const response = doc.paths[route]?.[method.toLowerCase()]?.responses?.[String(status)];
    if (!response) return undefined;
    const [type, media] = Object.entries((response.content ?? {}) as Record<string, { schema: any }>)[0] ?? [];
    if (!media) return {};
    const key = `${method} ${route} ${status}`;
    if (!compiled.has(key)) {
      const ref = media.schema.$ref as string | undefined;
      const schema = ref ? doc.components.schemas[ref.replace('#/components/schemas/', '')] : media.schema;
      compiled.set(key, ajv.compile(schema));
    }
    return { schema: compiled.get(key), type };
  };

  /** What is wrong with one real answer (null: it is documented and matches). */
  const problem = (
    method: string,
    route: string,
    res: { status: number; text: string; body: unknown; headers: Headers },
  ): string | null => {
    const spec = documented(method, route, res.status);
    if (!spec) return 'status not documented';
    if (!spec.schema) return res.text === '' ? null : `documented without a body, got ${res.text.slice(0, 100)}`;
    if (!res.headers.get('content-type')?.includes(spec.type!))
      return `content-type ${res.headers.get('content-type')}, documented ${spec.type}`;
    if (spec.type !== 'application/json') return null; // a binary download: its type is what there is to check
    return spec.schema(res.body) ? null : ajv.errorsText(spec.schema.errors, { dataVar: 'body' });
  };

  return { documented, problem };
}
