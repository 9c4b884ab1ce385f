/**
 * A deterministic value that satisfies a JSON Schema (the subset tool `input_schema`s and structured-output schemas
 * use: types, `properties` / `required`, `items`, `enum`, `const`, `anyOf` / `oneOf` / `allOf`, local `$ref`s, string
 * formats and lengths, numeric bounds, array lengths). The mock model uses it for tool inputs and structured outputs,
 * with values a directive gives for top-level properties.
 */

type Schema = Record<string, unknown>;

const MAX_DEPTH = 12;

export interface ExampleOptions {
  /** Values for top-level properties (from a mock directive), converted to the property's type where they can be. */
  readonly given?: Readonly<Record<string, unknown>>;
}

/** A value for `schema`; `{}` for a schema that is not an object schema at the top and gives no type. */
export function exampleFor(schema: unknown, options: ExampleOptions = {}): unknown {
  const root = isSchema(schema) ? schema : {};
  return generate(root, root, 0, options.given);
}

function generate(schema: Schema, root: Schema, depth: number, given?: Readonly<Record<string, unknown>>): unknown {
  if (depth > MAX_DEPTH) return null;
  const s = resolveRef(schema, root);
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  if (s.default !== undefined && given === undefined) return s.default;
  if (Array.isArray(s.allOf) && s.allOf.length > 0) {
    return generate(mergeAll(s.allOf.filter(isSchema).map((p) => resolveRef(p, root)), s), root, depth + 1, given);
  }
  for (const key of ['anyOf', 'oneOf'] as const) {
    const options = Array.isArray(s[key]) ? (s[key] as unknown[]).filter(isSchema) : [];
    if (options.length > 0) {
      const chosen = options.find((o) => resolveRef(o, root).type !== 'null') ?? options[0];
      return generate({ ...withoutKey(s, key), ...resolveRef(chosen, root) }, root, depth + 1, given);
    }
  }
  switch (typeOf(s)) {
    case 'string': return stringFor(s);
    case 'integer': return numberFor(s, true);
    case 'number': return numberFor(s, false);
    case 'boolean': return true;
    case 'null': return null;
    case 'array': {
      const min = typeof s.minItems === 'number' ? s.minItems : 1;
      const max = typeof s.maxItems === 'number' ? s.maxItems : Math.max(1, min);
      const count = Math.min(Math.max(min, 1), max);
      const items = isSchema(s.items) ? s.items : {};
      return Array.from({ length: count }, () => generate(items, root, depth + 1));
    }
    default: {
      const properties = isSchema(s.properties) ? s.properties : {};
      const required = Array.isArray(s.required) ? s.required.filter((r): r is string => typeof r === 'string') : [];
      const out: Record<string, unknown> = {};
      for (const name of required) {
        const property = isSchema(properties[name]) ? (properties[name] as Schema) : {};
        out[name] = generate(property, root, depth + 1);
      }
      // Values the caller gave win, for required and optional properties alike (and for unknown ones: the caller asked).
      for (const [name, value] of Object.entries(given ?? {})) {
        const property = isSchema(properties[name]) ? resolveRef(properties[name] as Schema, root) : {};
        out[name] = coerce(value, property);
      }
      return out;
    }
  }
}

function typeOf(s: Schema): string | undefined {
  if (typeof s.type === 'string') return s.type;
  if (Array.isArray(s.type)) return (s.type.find((t) => t !== 'null') ?? s.type[0]) as string | undefined;
  if (isSchema(s.properties)) return 'object';
  if (s.items !== undefined) return 'array';
  return undefined;
}

function stringFor(s: Schema): string {
  let value: string;
  switch (s.format) {
    case 'date-time': value = '2026-01-01T00:00:00Z'; break;
    case 'date': value = '2026-01-01'; break;
    case 'time': value = '00:00:00'; break;
    case 'email': value = 'mock@example.com'; break;
    case 'uri':
    case 'url': value = 'https://example.com/mock'; break;
    case 'uuid': value = '00000000-0000-4000-8000-000000000000'; break;
    default: value = 'mock';
  }
  const min = typeof s.minLength === 'number' ? s.minLength : 0;
  while (value.length < min) value += 'x';
  if (typeof s.maxLength === 'number' && value.length > s.maxLength) value = value.slice(0, s.maxLength);
  return value;
}

function numberFor(s: Schema, integer: boolean): number {
  let value = 1;
  if (typeof s.minimum === 'number') value = Math.max(value, s.minimum);
  if (typeof s.exclusiveMinimum === 'number') value = Math.max(value, s.exclusiveMinimum + (integer ? 1 : 0.5));
  if (typeof s.maximum === 'number') value = Math.min(value, s.maximum);
  if (typeof s.exclusiveMaximum === 'number' && value >= s.exclusiveMaximum) value = s.exclusiveMaximum - (integer ? 1 : 0.5);
  if (typeof s.multipleOf === 'number' && s.multipleOf > 0) value = Math.ceil(value / s.multipleOf) * s.multipleOf;
  return integer ? Math.round(value) : value;
}

/** A directive's value as the property's type: `"5"` for a number property is 5, 5 for a string property is "5". */
function coerce(value: unknown, property: Schema): unknown {
  const type = typeOf(property);
  if (type === 'string') return typeof value === 'string' ? value : JSON.stringify(value);
  if ((type === 'number' || type === 'integer') && typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  if (type === 'boolean' && (value === 'true' || value === 'false')) return value === 'true';
  if (type === 'array' && !Array.isArray(value)) return [value];
  return value;
}

function resolveRef(schema: Schema, root: Schema): Schema {
  let s = schema;
  for (let hops = 0; typeof s.$ref === 'string' && hops < 16; hops++) {
    const ref = s.$ref as string;
    if (!ref.startsWith('#')) break;
    let target: unknown = root;
    for (const part of ref.slice(1).split('/').filter((p) => p.length > 0)) {
      target = isSchema(target) ? target[part.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
    }
    if (!isSchema(target)) break;
    s = { ...withoutKey(s, '$ref'), ...target };
  }
  return s;
}

function mergeAll(parts: Schema[], base: Schema): Schema {
  const out: Schema = { ...withoutKey(base, 'allOf') };
  const properties: Schema = { ...(isSchema(out.properties) ? out.properties : {}) };
  const required = new Set<string>(Array.isArray(out.required) ? (out.required as string[]) : []);
  for (const p of parts) {
    Object.assign(out, withoutKey(withoutKey(p, 'properties'), 'required'));
    if (isSchema(p.properties)) Object.assign(properties, p.properties);
    if (Array.isArray(p.required)) for (const r of p.required) if (typeof r === 'string') required.add(r);
  }
  if (Object.keys(properties).length > 0) out.properties = properties;
  if (required.size > 0) out.required = [...required];
  return out;
}

function withoutKey(s: Schema, key: string): Schema {
  const { [key]: _drop, ...rest } = s;
  return rest;
}

function isSchema(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
