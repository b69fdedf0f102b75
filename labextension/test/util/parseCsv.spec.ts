import { describe, expect, it } from 'vitest';

import { parseCsv } from '../../src/util/parseCsv';

describe('parseCsv', () => {
  it('splits plain rows and fields', () => {
    expect(parseCsv('a,b,c\n1,2,3\n')).toEqual({
      rows: [
        ['a', 'b', 'c'],
        ['1', '2', '3']
      ],
      truncated: false
    });
  });

  it('keeps the last row without a final newline', () => {
    expect(parseCsv('a,b\n1,2').rows).toEqual([
      ['a', 'b'],
      ['1', '2']
    ]);
  });

  it('keeps empty fields', () => {
    expect(parseCsv('a,,c\n,,\n').rows).toEqual([
      ['a', '', 'c'],
      ['', '', '']
    ]);
  });

  it('reads quoted fields containing the separator', () => {
    expect(parseCsv('name,city\n"Doe, John","Paris, FR"\n').rows).toEqual([
      ['name', 'city'],
      ['Doe, John', 'Paris, FR']
    ]);
  });

  it('turns doubled quotes inside quotes into one quote', () => {
    expect(parseCsv('a,b\n"say ""hi""",""""\n').rows).toEqual([
      ['a', 'b'],
      ['say "hi"', '"']
    ]);
  });

  it('keeps newlines inside quoted fields', () => {
    expect(parseCsv('id,text\n1,"line one\nline two"\n2,x\n').rows).toEqual([
      ['id', 'text'],
      ['1', 'line one\nline two'],
      ['2', 'x']
    ]);
  });

  it('reads CRLF line endings', () => {
    expect(parseCsv('a,b\r\n1,2\r\n3,4\r\n')).toEqual({
      rows: [
        ['a', 'b'],
        ['1', '2'],
        ['3', '4']
      ],
      truncated: false
    });
  });

  it('keeps a CRLF inside quotes as it is', () => {
    expect(parseCsv('a\r\n"x\r\ny"\r\n').rows).toEqual([['a'], ['x\r\ny']]);
  });

  it('guesses a semicolon separator from the first line', () => {
    expect(parseCsv('a;b;c\n1,5;2,5;3\n').rows).toEqual([
      ['a', 'b', 'c'],
      ['1,5', '2,5', '3']
    ]);
  });

  it('guesses a tab separator from the first line', () => {
    expect(parseCsv('a\tb\n1, 2\t3\n').rows).toEqual([
      ['a', 'b'],
      ['1, 2', '3']
    ]);
  });

  it('guesses a pipe separator, and falls back to a comma for a single column', () => {
    expect(parseCsv('a|b\n1|2').rows).toEqual([
      ['a', 'b'],
      ['1', '2']
    ]);
    expect(parseCsv('only\n1,2').rows).toEqual([['only'], ['1', '2']]);
  });

  it('stops at maxRows and says the table was truncated', () => {
    expect(parseCsv('h\n1\n2\n3\n4\n', 3)).toEqual({
      rows: [['h'], ['1'], ['2']],
      truncated: true
    });
  });

  it('is not truncated when the text has exactly maxRows rows', () => {
    expect(parseCsv('h\n1\n2\n', 3)).toEqual({ rows: [['h'], ['1'], ['2']], truncated: false });
    expect(parseCsv('h\n1\n2', 3)).toEqual({ rows: [['h'], ['1'], ['2']], truncated: false });
    expect(parseCsv('h\r\n1\r\n2\r\n', 3)).toEqual({
      rows: [['h'], ['1'], ['2']],
      truncated: false
    });
  });

  it('drops the possibly cut last row when the text was cut short', () => {
    expect(parseCsv('a,b\n1,2\n3,4\n5,', 200, true)).toEqual({
      rows: [
        ['a', 'b'],
        ['1', '2'],
        ['3', '4']
      ],
      truncated: true
    });
  });

  it('drops a row cut inside a quoted field when cut short', () => {
    expect(parseCsv('a,b\n1,"long\ntext', 200, true)).toEqual({
      rows: [['a', 'b']],
      truncated: true
    });
  });

  it('keeps the only row of a text cut short', () => {
    expect(parseCsv('a,b', 200, true)).toEqual({ rows: [['a', 'b']], truncated: true });
  });

  it('gives no rows for empty text', () => {
    expect(parseCsv('')).toEqual({ rows: [], truncated: false });
  });
});
