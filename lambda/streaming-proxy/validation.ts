/**
 * Turns zod issues into one readable message that names the field at fault (`messages.0.content.1.type: ...`).
 * Messages describe what was expected, never the value that was sent, so nothing a client sent (a key pasted in the
 * wrong field, for instance) is echoed back.
 */
import type * as z from 'zod/mini';

type Issue = z.core.$ZodIssue;
type Path = ReadonlyArray<PropertyKey>;

export interface FieldError {
  readonly path: string;
  readonly message: string;
}

/** The most useful issue, as `path: problem`; `input` (the value validated) tells a missing field from a wrong one. */
export function describeIssues(issues: readonly Issue[], input: unknown): FieldError {
  const best = deepest(issues.map((issue) => resolve(issue, [], input)));
  return { path: best.path, message: best.message };
}

function resolve(issue: Issue, prefix: Path, input: unknown): FieldError & { depth: number } {
  const path = [...prefix, ...issue.path];
  if (issue.code === 'invalid_type' && valueAt(input, path) === undefined) return at(path, 'is required', 0);
  if (issue.code === 'invalid_union') {
    const detail = issue as unknown as { note?: string; discriminator?: string; options?: unknown[] };
    if (detail.note === 'No matching discriminator' && detail.discriminator) {
      const options = detail.options ?? [];
      return at(path, `${detail.discriminator} must be one of ${options.map((o) => JSON.stringify(o)).join(', ')}`, 1);
    }
    // Report the branch that got furthest into the value.
    const branches = issue.errors.filter((branch) => branch.length > 0).map((branch) => deepest(branch.map((i) => resolve(i, path, input))));
    if (branches.length > 0) return deepest(branches);
    return at(path, 'does not match any of the accepted forms', 0);
  }
  return at(path, problem(issue), 0);
}

function valueAt(input: unknown, path: Path): unknown {
  let value = input;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function at(path: Path, message: string, extraDepth: number): FieldError & { depth: number } {
  return { path: path.map(String).join('.'), message, depth: path.length + extraDepth };
}

function deepest<T extends FieldError & { depth?: number }>(errors: readonly T[]): T {
  let best = errors[0];
  for (const e of errors) if ((e.depth ?? 0) > (best.depth ?? 0)) best = e;
  return best;
}

function problem(issue: Issue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.expected === 'never' ? 'is not allowed here' : `expected ${article(issue.expected)}`;
    case 'invalid_value':
      return issue.values.length === 1
        ? `must be ${JSON.stringify(issue.values[0])}`
        : `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
      return issue.origin === 'string' ? (Number(issue.minimum) === 1 ? 'must not be empty' : `must be at least ${issue.minimum} characters`)
        : issue.origin === 'array' ? `must have at least ${issue.minimum} item${Number(issue.minimum) === 1 ? '' : 's'}`
          : `must be ${issue.inclusive ? '≥' : '>'} ${issue.minimum}`;
    case 'too_big':
      return issue.origin === 'string' ? `must be at most ${issue.maximum} characters`
        : issue.origin === 'array' ? `must have at most ${issue.maximum} items`
          : `must be ${issue.inclusive ? '≤' : '<'} ${issue.maximum}`;
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
    case 'invalid_format':
      return `must be a valid ${issue.format}`;
    case 'not_multiple_of':
      return `must be a multiple of ${issue.divisor}`;
    default:
      return issue.message && issue.message !== 'Invalid input' ? issue.message : 'is invalid';
  }
}

function article(expected: string): string {
  const names: Record<string, string> = { int: 'an integer', object: 'an object', record: 'an object', array: 'an array', string: 'a string', number: 'a number', boolean: 'a boolean' };
  return names[expected] ?? expected;
}

/**
 * How deeply a request body may nest (objects and arrays, the body itself at depth 1). Real tool schemas and inputs
 * stay far below it; much deeper values would only exhaust the stack of the code that walks them (translation, token
 * estimates, the upstream's encoder), so they are refused up front with a 400 that names the field.
 */
export const MAX_JSON_DEPTH = 256;

/** Parses a JSON request body; the error never quotes the body. */
export function parseJsonBody(body: Buffer): { ok: true; value: unknown } | { ok: false; message: string } {
  if (body.length === 0) return { ok: false, message: 'The request body is empty; expected a JSON object.' };
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    return { ok: false, message: 'The request body is not valid JSON.' };
  }
  const deep = tooDeep(value, MAX_JSON_DEPTH);
  if (deep !== undefined) {
    return { ok: false, message: `${deep}: nested more than ${MAX_JSON_DEPTH} levels deep; this proxy accepts at most ${MAX_JSON_DEPTH} levels of objects and arrays in a request.` };
  }
  return { ok: true, value };
}

/**
 * The field (its first few path segments) under which `value` nests deeper than `max`, or undefined. Iterative, so
 * any depth JSON.parse accepts is measured without recursion.
 */
export function tooDeep(value: unknown, max: number): string | undefined {
  const values: unknown[] = [value];
  const depths: number[] = [1];
  const push = (child: unknown, depth: number): void => {
    if (typeof child === 'object' && child !== null) {
      values.push(child);
      depths.push(depth);
    }
  };
  while (values.length > 0) {
    const v = values.pop();
    const d = depths.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (d > max) return pathTo(value, v);
    // No per-node allocation (this runs on every request body): index arrays, for-in over JSON objects' own keys.
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) push(v[i], d + 1);
    } else {
      const record = v as Record<string, unknown>;
      for (const key in record) push(record[key], d + 1);
    }
  }
  return undefined;
}

/** The path from `root` to `target`, as `tools.0.input_schema.properties…`; found iteratively, shown shortened. */
function pathTo(root: unknown, target: unknown): string {
  const shown = 5;
  const stack: Array<{ v: unknown; path: string[] }> = [{ v: root, path: [] }];
  while (stack.length > 0) {
    const { v, path } = stack.pop()!;
    if (v === target) return path.length > shown ? `${path.slice(0, shown).join('.')}…` : path.join('.') || 'body';
    if (typeof v !== 'object' || v === null) continue;
    for (const [key, child] of Object.entries(v)) {
      if (typeof child === 'object' && child !== null) stack.push({ v: child, path: path.length > shown ? path : [...path, key] });
    }
  }
  return 'body';
}
