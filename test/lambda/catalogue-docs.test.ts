/**
 * docs/models.md carries the default catalogue as a table; this keeps it equal to the data in catalogue.ts.
 * After changing the catalogue, regenerate the table with `UPDATE_DOCS=1 npx jest test/lambda/catalogue-docs.test.ts`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { DEFAULT_MODELS } from '../../lambda/streaming-proxy/catalogue';
import type { ModelEntry } from '../../lambda/streaming-proxy/upstream/types';

const DOC = path.join(__dirname, '..', '..', 'docs', 'models.md');
const START = '<!-- default-catalogue:start -->';
const END = '<!-- default-catalogue:end -->';

function price(m: ModelEntry): string {
  const p = m.pricing;
  if (!p) return '';
  const cache = p.cacheWritePerMTok || p.cacheReadPerMTok ? ` (cache write ${p.cacheWritePerMTok ?? 0}, read ${p.cacheReadPerMTok ?? 0})` : '';
  return `${p.inputPerMTok} / ${p.outputPerMTok}${cache}`;
}

function table(): string {
  const rows = DEFAULT_MODELS.map((m) => {
    const embedding = m.kind === 'embedding';
    const count = embedding ? 'n/a' : m.countTokens ? 'yes' : 'estimate';
    return `| \`${m.id}\` | ${(m.aliases ?? []).map((a) => `\`${a}\``).join(', ')} | ${m.kind ?? 'chat'} | \`${m.upstream}\` | \`${m.target}\` | ${price(m)} | ${count} |`;
  });
  return [
    '| model name | aliases | kind | upstream | Bedrock id | USD per million input / output tokens | count_tokens |',
    '|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

test('docs/models.md lists the default catalogue exactly', () => {
  const doc = fs.readFileSync(DOC, 'utf8');
  const start = doc.indexOf(START);
  const end = doc.indexOf(END);
  expect(start).toBeGreaterThan(0);
  expect(end).toBeGreaterThan(start);
  const expected = `${START}\n${table()}\n${END}`;
  if (process.env.UPDATE_DOCS) fs.writeFileSync(DOC, doc.slice(0, start) + expected + doc.slice(end + END.length));
  expect(doc.slice(start, end + END.length)).toBe(expected);
});
