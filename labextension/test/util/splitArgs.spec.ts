import { describe, expect, it } from 'vitest';

import { splitArgs } from '../../src/util/splitArgs';

describe('splitArgs', () => {
  it('splits words on any whitespace', () => {
    expect(splitArgs('--epochs 3  -v\tdata.csv\n--fast')).toEqual([
      '--epochs',
      '3',
      '-v',
      'data.csv',
      '--fast'
    ]);
    expect(splitArgs('  lead and trail  ')).toEqual(['lead', 'and', 'trail']);
  });

  it('gives [] for an empty or blank string', () => {
    expect(splitArgs('')).toEqual([]);
    expect(splitArgs('   ')).toEqual([]);
  });

  it('keeps spaces inside double and single quotes', () => {
    expect(splitArgs('a "b c" \'d e\'')).toEqual(['a', 'b c', 'd e']);
  });

  it('joins quoted and unquoted parts of one word', () => {
    expect(splitArgs('--name="John Doe" x\'y z\'w')).toEqual(['--name=John Doe', 'xy zw']);
  });

  it('keeps empty quoted arguments', () => {
    expect(splitArgs('a "" \'\' b')).toEqual(['a', '', '', 'b']);
  });

  it('reads an escaped quote and an escaped backslash inside double quotes', () => {
    expect(splitArgs('"say \\"hi\\"" "back\\\\slash"')).toEqual(['say "hi"', 'back\\slash']);
  });

  it('keeps other backslashes inside double quotes', () => {
    expect(splitArgs('"C:\\data\\n"')).toEqual(['C:\\data\\n']);
  });

  it('keeps everything literally inside single quotes', () => {
    expect(splitArgs("'a \\\" $b'")).toEqual(['a \\" $b']);
    expect(splitArgs('\'say "hi"\'')).toEqual(['say "hi"']);
  });

  it('reads backslash escapes outside quotes', () => {
    expect(splitArgs('a\\ b c\\"d \\\'e')).toEqual(['a b', 'c"d', "'e"]);
  });

  it('keeps a trailing backslash', () => {
    expect(splitArgs('dir\\')).toEqual(['dir\\']);
  });

  it('gives null when a quote is not closed', () => {
    expect(splitArgs('a "b c')).toBeNull();
    expect(splitArgs("it's")).toBeNull();
    expect(splitArgs('"escaped at end\\"')).toBeNull();
  });
});
