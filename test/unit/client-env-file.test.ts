import { describe, expect, it } from 'vitest';
import { EnvFileError, parseEnvFile } from '../../src/client/index.js';

describe('parseEnvFile', () => {
  it('reads NAME=VALUE lines in order, skipping blank lines and # comments', () => {
    const text = ['# the greeting', 'GREETING=hello', '', '   ', 'PORT=80', '  # indented comment', 'EMPTY='].join('\n');
    expect(parseEnvFile(text)).toEqual([
      { name: 'GREETING', value: 'hello' },
      { name: 'PORT', value: '80' },
      { name: 'EMPTY', value: '' },
    ]);
  });

  it('keeps everything after the first = and strips one pair of matching quotes', () => {
    const text = 'URL=http://x/?a=b\nQ1="two words"\nQ2=\'single\'\nMIXED="half\'\nHASH=a#b\nQUOTE_INSIDE=say "hi"\n';
    expect(parseEnvFile(text)).toEqual([
      { name: 'URL', value: 'http://x/?a=b' },
      { name: 'Q1', value: 'two words' },
      { name: 'Q2', value: 'single' },
      { name: 'MIXED', value: '"half\'' },
      { name: 'HASH', value: 'a#b' },
      { name: 'QUOTE_INSIDE', value: 'say "hi"' },
    ]);
  });

  it('accepts CRLF line ends, an export prefix and spaces around the name', () => {
    expect(parseEnvFile('export A=1\r\n B = 2 \r\n')).toEqual([
      { name: 'A', value: '1' },
      { name: 'B', value: '2' },
    ]);
  });

  it('names the line of a malformed entry', () => {
    const cases: [string, number, RegExp][] = [
      ['A=1\nnot an assignment\n', 2, /line 2: expected NAME=VALUE/],
      ['\n\n=value', 3, /line 3: '' is not a variable name/],
      ['1A=x', 1, /line 1: '1A' is not a variable name/],
      ['A-B=x', 1, /not a variable name/],
      ['A=1\nB=2\nA=3', 3, /line 3: 'A' is already set on line 1/],
    ];
    for (const [text, line, message] of cases) {
      let thrown: unknown;
      try {
        parseEnvFile(text);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, text).toBeInstanceOf(EnvFileError);
      expect((thrown as EnvFileError).line).toBe(line);
      expect((thrown as EnvFileError).code).toBe('BERTH_ENV_FILE_INVALID');
      expect((thrown as EnvFileError).message).toMatch(message);
    }
  });

  it('answers nothing for an empty file', () => {
    expect(parseEnvFile('')).toEqual([]);
  });
});
