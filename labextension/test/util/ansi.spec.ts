import { describe, expect, it } from 'vitest';

import { AnsiState, AnsiToken, AnsiTokenizer, IStyle, PLAIN, xterm256 } from '../../src/util/ansi';

const NAMES = ['black', 'red', 'green', 'yellow', 'blue', 'magenta', 'cyan', 'white'];
const P = 'jp-PyRunner-ansi-';

/** The style after applying each parameter string in turn to a fresh state. */
function styleOf(...params: string[]): IStyle {
  const state = new AnsiState();
  for (const p of params) {
    state.apply(p);
  }
  return state.style;
}

/** The text tokens of one or more chunks, joined. */
function textOf(tokens: AnsiToken[]): string {
  return tokens.map(t => (t.kind === 'text' ? t.text : '')).join('');
}

describe('AnsiState: SGR colours and attributes', () => {
  it('maps the standard foreground colours 30–37 to named classes', () => {
    NAMES.forEach((name, i) => {
      expect(styleOf(String(30 + i))).toEqual({ classes: `${P}${name}-fg`, css: '' });
    });
  });

  it('maps the bright foreground colours 90–97 to bright classes', () => {
    NAMES.forEach((name, i) => {
      expect(styleOf(String(90 + i))).toEqual({ classes: `${P}bright-${name}-fg`, css: '' });
    });
  });

  it('maps the background colours 40–47 and 100–107 to background classes', () => {
    NAMES.forEach((name, i) => {
      expect(styleOf(String(40 + i))).toEqual({ classes: `${P}${name}-bg`, css: '' });
      expect(styleOf(String(100 + i))).toEqual({ classes: `${P}bright-${name}-bg`, css: '' });
    });
  });

  it('adds classes for bold, dim, italic and underline, in a fixed order after colours', () => {
    expect(styleOf('1').classes).toBe(`${P}bold`);
    expect(styleOf('2').classes).toBe(`${P}dim`);
    expect(styleOf('3').classes).toBe(`${P}italic`);
    expect(styleOf('4').classes).toBe(`${P}underline`);
    expect(styleOf('4;3;2;1;42;31')).toEqual({
      classes: `${P}red-fg ${P}green-bg ${P}bold ${P}dim ${P}italic ${P}underline`,
      css: ''
    });
  });

  it('keeps the state across sequences until changed', () => {
    expect(styleOf('1', '32').classes).toBe(`${P}green-fg ${P}bold`);
    expect(styleOf('31', '34').classes).toBe(`${P}blue-fg`);
  });

  it('resets everything on 0 and on an empty parameter list', () => {
    expect(styleOf('1;3;4;7;31;42', '0')).toBe(PLAIN);
    expect(styleOf('1;3;4;7;31;42', '')).toBe(PLAIN);
    expect(styleOf('38;2;1;2;3', '0')).toBe(PLAIN);
    // an empty parameter inside a list is a 0 too
    expect(styleOf('1;;32')).toEqual({ classes: `${P}green-fg`, css: '' });
  });

  it('applies the partial resets 22, 23, 24, 27, 39 and 49', () => {
    const all = '1;2;3;4;31;44';
    expect(styleOf(all, '22').classes).toBe(`${P}red-fg ${P}blue-bg ${P}italic ${P}underline`);
    expect(styleOf(all, '23').classes).toBe(
      `${P}red-fg ${P}blue-bg ${P}bold ${P}dim ${P}underline`
    );
    expect(styleOf(all, '24').classes).toBe(`${P}red-fg ${P}blue-bg ${P}bold ${P}dim ${P}italic`);
    expect(styleOf(all, '39').classes).toBe(
      `${P}blue-bg ${P}bold ${P}dim ${P}italic ${P}underline`
    );
    expect(styleOf(all, '49').classes).toBe(`${P}red-fg ${P}bold ${P}dim ${P}italic ${P}underline`);
    expect(styleOf('31;7', '27').classes).toBe(`${P}red-fg`);
    expect(styleOf('38;5;200;48;2;1;2;3', '39')).toEqual({
      classes: '',
      css: 'background-color: rgb(1, 2, 3)'
    });
    expect(styleOf('38;5;200;48;2;1;2;3', '49')).toEqual({
      classes: '',
      css: 'color: rgb(255, 0, 215)'
    });
  });

  it('ignores unknown codes', () => {
    expect(styleOf('5;8;53')).toBe(PLAIN);
    expect(styleOf('31;5')).toEqual({ classes: `${P}red-fg`, css: '' });
  });
});

describe('AnsiState: 256-colour and true colour', () => {
  it('maps 256-colour indexes below 16 to the standard and bright classes', () => {
    expect(styleOf('38;5;1')).toEqual({ classes: `${P}red-fg`, css: '' });
    expect(styleOf('38;5;0')).toEqual({ classes: `${P}black-fg`, css: '' });
    expect(styleOf('38;5;9')).toEqual({ classes: `${P}bright-red-fg`, css: '' });
    expect(styleOf('38;5;15')).toEqual({ classes: `${P}bright-white-fg`, css: '' });
  });

  it('maps 256-colour backgrounds below 16 to background classes', () => {
    expect(styleOf('48;5;1')).toEqual({ classes: `${P}red-bg`, css: '' });
    expect(styleOf('48;5;12')).toEqual({ classes: `${P}bright-blue-bg`, css: '' });
    expect(styleOf('38;5;2;48;5;3')).toEqual({ classes: `${P}green-fg ${P}yellow-bg`, css: '' });
  });

  it('maps the 6×6×6 colour cube to rgb() CSS', () => {
    expect(styleOf('38;5;16')).toEqual({ classes: '', css: 'color: rgb(0, 0, 0)' });
    expect(styleOf('38;5;21')).toEqual({ classes: '', css: 'color: rgb(0, 0, 255)' });
    expect(styleOf('38;5;196')).toEqual({ classes: '', css: 'color: rgb(255, 0, 0)' });
    expect(styleOf('38;5;110')).toEqual({ classes: '', css: 'color: rgb(135, 175, 215)' });
    expect(styleOf('38;5;231')).toEqual({ classes: '', css: 'color: rgb(255, 255, 255)' });
    expect(styleOf('48;5;208')).toEqual({ classes: '', css: 'background-color: rgb(255, 135, 0)' });
  });

  it('maps the grey ramp 232–255 to rgb() greys', () => {
    expect(styleOf('38;5;232')).toEqual({ classes: '', css: 'color: rgb(8, 8, 8)' });
    expect(styleOf('38;5;244')).toEqual({ classes: '', css: 'color: rgb(128, 128, 128)' });
    expect(styleOf('38;5;255')).toEqual({ classes: '', css: 'color: rgb(238, 238, 238)' });
  });

  it('rejects 256-colour indexes out of range', () => {
    expect(xterm256(256)).toBeNull();
    expect(xterm256(-1)).toBeNull();
    expect(xterm256(1.5)).toBeNull();
    expect(styleOf('38;5;300')).toBe(PLAIN);
    // the index is consumed even when invalid: the 1 after it is bold, not a leftover
    expect(styleOf('38;5;300;1').classes).toBe(`${P}bold`);
  });

  it('maps true colour 38;2 and 48;2 to rgb() CSS', () => {
    expect(styleOf('38;2;255;128;0')).toEqual({ classes: '', css: 'color: rgb(255, 128, 0)' });
    expect(styleOf('48;2;10;20;30')).toEqual({
      classes: '',
      css: 'background-color: rgb(10, 20, 30)'
    });
    expect(styleOf('38;2;1;2;3;48;2;4;5;6')).toEqual({
      classes: '',
      css: 'color: rgb(1, 2, 3); background-color: rgb(4, 5, 6)'
    });
  });

  it('clamps true-colour components and keeps reading codes after them', () => {
    expect(styleOf('38;2;300;0;12').css).toBe('color: rgb(255, 0, 12)');
    expect(styleOf('38;2;1;2;3;1;44')).toEqual({
      classes: `${P}blue-bg ${P}bold`,
      css: 'color: rgb(1, 2, 3)'
    });
  });

  it('accepts colon-separated extended colours', () => {
    expect(styleOf('38:5:196').css).toBe('color: rgb(255, 0, 0)');
  });

  it('ignores an incomplete extended colour', () => {
    expect(styleOf('38;5')).toBe(PLAIN);
    expect(styleOf('38;2;1;2')).toBe(PLAIN);
    expect(styleOf('31', '38;9')).toEqual({ classes: `${P}red-fg`, css: '' });
  });
});

describe('AnsiState: inverse', () => {
  it('uses the inverse classes when no colour is set', () => {
    expect(styleOf('7')).toEqual({ classes: `${P}inverse-fg ${P}inverse-bg`, css: '' });
  });

  it('swaps a class foreground into the background', () => {
    expect(styleOf('31;7')).toEqual({ classes: `${P}inverse-fg ${P}red-bg`, css: '' });
    expect(styleOf('31;44;7')).toEqual({ classes: `${P}blue-fg ${P}red-bg`, css: '' });
    expect(styleOf('93;7').classes).toBe(`${P}inverse-fg ${P}bright-yellow-bg`);
  });

  it('swaps CSS colours between color and background-color', () => {
    expect(styleOf('38;2;1;2;3;7')).toEqual({
      classes: `${P}inverse-fg`,
      css: 'background-color: rgb(1, 2, 3)'
    });
    expect(styleOf('48;5;1;7')).toEqual({ classes: `${P}red-fg ${P}inverse-bg`, css: '' });
  });

  it('is undone by 27', () => {
    expect(styleOf('7;32', '27')).toEqual({ classes: `${P}green-fg`, css: '' });
  });
});

describe('AnsiTokenizer', () => {
  it('splits text, SGR sequences, carriage returns and newlines', () => {
    const tokens = new AnsiTokenizer().feed('a\x1b[1;31mb\x1b[0m\r\nc\x1b[m');
    expect(tokens).toEqual([
      { kind: 'text', text: 'a' },
      { kind: 'sgr', params: '1;31' },
      { kind: 'text', text: 'b' },
      { kind: 'sgr', params: '0' },
      { kind: 'cr' },
      { kind: 'lf' },
      { kind: 'text', text: 'c' },
      { kind: 'sgr', params: '' }
    ]);
  });

  it('holds back an escape sequence split across two feeds and applies it', () => {
    const tokenizer = new AnsiTokenizer();
    expect(tokenizer.feed('red: \x1b[3')).toEqual([{ kind: 'text', text: 'red: ' }]);
    expect(tokenizer.feed('1mX')).toEqual([
      { kind: 'sgr', params: '31' },
      { kind: 'text', text: 'X' }
    ]);
  });

  it('holds back a lone ESC at the end of a feed', () => {
    const tokenizer = new AnsiTokenizer();
    expect(tokenizer.feed('a\x1b')).toEqual([{ kind: 'text', text: 'a' }]);
    expect(tokenizer.feed('[32mb')).toEqual([
      { kind: 'sgr', params: '32' },
      { kind: 'text', text: 'b' }
    ]);
  });

  it('holds back a sequence split over three feeds', () => {
    const tokenizer = new AnsiTokenizer();
    expect(tokenizer.feed('\x1b')).toEqual([]);
    expect(tokenizer.feed('[38;5;')).toEqual([]);
    expect(tokenizer.feed('196mz')).toEqual([
      { kind: 'sgr', params: '38;5;196' },
      { kind: 'text', text: 'z' }
    ]);
  });

  it('drops cursor movement and other non-SGR CSI sequences', () => {
    const tokens = new AnsiTokenizer().feed(
      'a\x1b[2Ab\x1b[10;5Hc\x1b[?25ld\x1b[?25he\x1b[3Cf\x1b[>4;1mg\x1b[Jh'
    );
    expect(tokens.every(t => t.kind === 'text')).toBe(true);
    expect(textOf(tokens)).toBe('abcdefgh');
  });

  it('drops OSC title sequences ended by BEL or by ESC \\', () => {
    const tokens = new AnsiTokenizer().feed('\x1b]0;my title\x07one \x1b]2;other title\x1b\\two');
    expect(tokens).toEqual([
      { kind: 'text', text: 'one ' },
      { kind: 'text', text: 'two' }
    ]);
  });

  it('drops an OSC title split across feeds', () => {
    const tokenizer = new AnsiTokenizer();
    expect(textOf(tokenizer.feed('x\x1b]0;ti'))).toBe('x');
    expect(textOf(tokenizer.feed('tle\x07y'))).toBe('y');
  });

  it('drops an OSC title whose ESC \\ terminator is split across feeds', () => {
    const tokenizer = new AnsiTokenizer();
    expect(textOf(tokenizer.feed('x\x1b]0;title\x1b'))).toBe('x');
    expect(textOf(tokenizer.feed('\\y'))).toBe('y');
  });

  it('drops two-character escapes such as charset selection and cursor save/restore', () => {
    // `tput sgr0` writes ESC ( B before ESC [ m; tqdm-like tools use ESC 7 / ESC 8
    const tokens = new AnsiTokenizer().feed('a\x1b(B\x1b[mb\x1b7c\x1b8d\x1bMe');
    expect(textOf(tokens)).toBe('abcde');
    expect(tokens.filter(t => t.kind === 'sgr')).toEqual([{ kind: 'sgr', params: '' }]);
  });

  it('reports erase-line for 2K and 1K', () => {
    expect(new AnsiTokenizer().feed('a\x1b[2Kb')).toEqual([
      { kind: 'text', text: 'a' },
      { kind: 'erase-line' },
      { kind: 'text', text: 'b' }
    ]);
    expect(new AnsiTokenizer().feed('\x1b[1K')).toEqual([{ kind: 'erase-line' }]);
  });

  it('drops lone control characters but keeps tabs', () => {
    const tokens = new AnsiTokenizer().feed('a\x07b\x00c\x08d\x7fe\x0cf\tg');
    expect(textOf(tokens)).toBe('abcdef\tg');
    expect(tokens.every(t => t.kind === 'text')).toBe(true);
  });

  it('drops an ESC not followed by a valid sequence', () => {
    expect(textOf(new AnsiTokenizer().feed('a\x1b\x01b'))).toBe('ab');
  });

  it('keeps non-ASCII text intact', () => {
    expect(new AnsiTokenizer().feed('héllo ✓ 日本')).toEqual([
      { kind: 'text', text: 'héllo ✓ 日本' }
    ]);
  });
});
