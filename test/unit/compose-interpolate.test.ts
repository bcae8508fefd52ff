import { describe, expect, it } from 'vitest';
import { interpolate } from '../../src/domain/compose/interpolate.js';
import type { ComposeProblem } from '../../src/domain/compose/problems.js';

const env = { HOST: 'db', EMPTY: '', PORT: '5432' };

function run(text: string) {
  const problems: ComposeProblem[] = [];
  return { value: interpolate(text, env, 'services.web.image', problems), problems };
}

describe('compose interpolation', () => {
  it.each([
    ['$HOST:$PORT', 'db:5432'],
    ['${HOST}x', 'dbx'],
    ['${MISSING}', ''],
    ['${MISSING:-fallback}', 'fallback'],
    ['${EMPTY:-fallback}', 'fallback'],
    ['${EMPTY-fallback}', ''],
    ['${MISSING-fallback}', 'fallback'],
    ['${HOST:+set}', 'set'],
    ['${EMPTY:+set}', ''],
    ['${EMPTY+set}', 'set'],
    ['${MISSING:-${HOST}:${PORT}}', 'db:5432'],
    ['cost $$5 and $${HOST}', 'cost $5 and ${HOST}'],
    ['no variables', 'no variables'],
  ])('%s → %s', (text, expected) => {
    expect(run(text)).toEqual({ value: expected, problems: [] });
  });

  it('refuses a required variable that is unset or empty, with its message and path', () => {
    expect(run('${MISSING:?set MISSING to the database host}').problems).toEqual([
      { path: 'services.web.image', message: 'required variable MISSING is not set: set MISSING to the database host' },
    ]);
    expect(run('${EMPTY:?}').problems[0]?.message).toBe('required variable EMPTY is empty');
    expect(run('${EMPTY?}').problems).toEqual([]);
  });

  it('refuses what is not a variable reference', () => {
    expect(run('${HOST').problems[0]?.message).toMatch(/without its closing/);
    expect(run('${1BAD}').problems[0]?.message).toMatch(/not a variable reference/);
    expect(run('a $ b').problems[0]?.message).toMatch(/write '\$\$' for a literal/);
  });
});
