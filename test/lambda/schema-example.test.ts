import fc from 'fast-check';
import * as z from 'zod';
import { exampleFor } from '../../lambda/streaming-proxy/upstream/schema-example';

/** Random zod schemas of the kinds structured outputs and tool inputs use, built from combinators. */
const zodSchema: fc.Arbitrary<z.ZodType> = fc.letrec<{ schema: z.ZodType }>((tie) => ({
  schema: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(z.string()),
    fc.constant(z.string().min(12)),
    fc.constant(z.email()),
    fc.constant(z.iso.datetime()),
    fc.constant(z.uuid()),
    fc.constant(z.number().min(5).max(9)),
    fc.constant(z.int().gt(3)),
    fc.constant(z.boolean()),
    fc.constant(z.null()),
    fc.constant(z.enum(['red', 'green'])),
    fc.constant(z.literal('fixed')),
    tie('schema').map((s) => z.array(s).min(2)),
    tie('schema').map((s) => z.nullable(s)),
    fc.tuple(tie('schema'), tie('schema')).map(([a, b]) => z.union([a, b])),
    fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), tie('schema'), { minKeys: 1, maxKeys: 3 })
      .chain((shape) => fc.boolean().map((optionalB) => {
        const entries = Object.entries(shape).map(([k, v]) => [k, optionalB && k === 'b' ? v.optional() : v] as const);
        return z.object(Object.fromEntries(entries));
      })),
  ),
})).schema;

describe('exampleFor', () => {
  test('gives a value that satisfies any schema zod turns into JSON Schema (as the SDKs\' parse() helpers do)', () => {
    fc.assert(fc.property(zodSchema, (schema) => {
      const json = z.toJSONSchema(schema, { target: 'draft-2020-12' });
      const value = exampleFor(json);
      const parsed = schema.safeParse(value);
      if (!parsed.success) throw new Error(`${JSON.stringify(json)} -> ${JSON.stringify(value)}: ${parsed.error.message}`);
    }), { numRuns: 300, seed: 20261202 });
  });

  test('follows local $refs, allOf and anyOf, and gives only the required properties', () => {
    const schema = {
      $defs: { point: { type: 'object', properties: { x: { type: 'integer' }, y: { type: 'integer' } }, required: ['x', 'y'] } },
      type: 'object',
      properties: {
        at: { $ref: '#/$defs/point' },
        label: { anyOf: [{ type: 'null' }, { type: 'string', maxLength: 2 }] },
        both: { allOf: [{ type: 'object', properties: { a: { type: 'string' } }, required: ['a'] }, { properties: { b: { const: 7 } }, required: ['b'] }] },
        optional: { type: 'string' },
      },
      required: ['at', 'label', 'both'],
    };
    expect(exampleFor(schema)).toEqual({ at: { x: 1, y: 1 }, label: 'mo', both: { a: 'mock', b: 7 } });
  });

  test('puts the values a directive gives into top-level properties, as the property\'s type', () => {
    const schema = {
      type: 'object',
      properties: { file_path: { type: 'string' }, content: { type: 'string' }, timeout: { type: 'number' }, replace_all: { type: 'boolean' } },
      required: ['file_path', 'content'],
    };
    expect(exampleFor(schema, { given: { file_path: '/tmp/a.txt', content: 42, timeout: '30', replace_all: 'true' } }))
      .toEqual({ file_path: '/tmp/a.txt', content: '42', timeout: 30, replace_all: true });
  });

  test('terminates on a recursive schema', () => {
    const tree = { $defs: { node: { type: 'object', properties: { child: { $ref: '#/$defs/node' } }, required: ['child'] } }, $ref: '#/$defs/node' };
    expect(JSON.stringify(exampleFor(tree)).length).toBeLessThan(1000);
  });
});
