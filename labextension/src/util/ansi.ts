/**
 * ANSI escape sequences in program output: SGR colours and styles become a style per text
 * segment; erase-line sequences are reported; everything else is dropped.
 */

/** The look of a piece of text. Empty fields mean the default. */
export interface IStyle {
  /** CSS classes for the 16 standard colours and the text attributes. */
  classes: string;
  /** Inline CSS for 256-colour and true-colour codes. */
  css: string;
}

export const PLAIN: IStyle = { classes: '', css: '' };

const NAMES = ['black', 'red', 'green', 'yellow', 'blue', 'magenta', 'cyan', 'white'];

/** SGR state of one stream. */
export class AnsiState {
  private _bold = false;
  private _dim = false;
  private _italic = false;
  private _underline = false;
  private _inverse = false;
  private _fg: string | null = null; // a class name or a CSS colour
  private _bg: string | null = null;
  private _style: IStyle = PLAIN;

  get style(): IStyle {
    return this._style;
  }

  /** Apply the parameters of one `ESC [ ... m` sequence. */
  apply(params: string): void {
    const codes = params === '' ? [0] : params.split(/[;:]/).map(p => (p === '' ? 0 : Number(p)));
    for (let i = 0; i < codes.length; i++) {
      const code = codes[i];
      if (code === 0) {
        this._bold = this._dim = this._italic = this._underline = this._inverse = false;
        this._fg = this._bg = null;
      } else if (code === 1) {
        this._bold = true;
      } else if (code === 2) {
        this._dim = true;
      } else if (code === 3) {
        this._italic = true;
      } else if (code === 4) {
        this._underline = true;
      } else if (code === 7) {
        this._inverse = true;
      } else if (code === 22) {
        this._bold = this._dim = false;
      } else if (code === 23) {
        this._italic = false;
      } else if (code === 24) {
        this._underline = false;
      } else if (code === 27) {
        this._inverse = false;
      } else if (code >= 30 && code <= 37) {
        this._fg = `jp-PyRunner-ansi-${NAMES[code - 30]}-fg`;
      } else if (code >= 90 && code <= 97) {
        this._fg = `jp-PyRunner-ansi-bright-${NAMES[code - 90]}-fg`;
      } else if (code >= 40 && code <= 47) {
        this._bg = `jp-PyRunner-ansi-${NAMES[code - 40]}-bg`;
      } else if (code >= 100 && code <= 107) {
        this._bg = `jp-PyRunner-ansi-bright-${NAMES[code - 100]}-bg`;
      } else if (code === 39) {
        this._fg = null;
      } else if (code === 49) {
        this._bg = null;
      } else if (code === 38 || code === 48) {
        const [color, used] = extendedColor(codes, i + 1);
        if (color !== null) {
          if (code === 38) {
            this._fg = color;
          } else {
            this._bg = swapKind(color, 'fg', 'bg'); // indexes below 16 come back as -fg classes
          }
        }
        i += used;
      }
    }
    this._style = this._compute();
  }

  private _compute(): IStyle {
    let fg = this._fg;
    let bg = this._bg;
    if (this._inverse) {
      [fg, bg] = [
        bg === null ? 'jp-PyRunner-ansi-inverse-fg' : swapKind(bg, 'bg', 'fg'),
        fg === null ? 'jp-PyRunner-ansi-inverse-bg' : swapKind(fg, 'fg', 'bg')
      ];
    }
    const classes: string[] = [];
    const css: string[] = [];
    for (const [value, property] of [
      [fg, 'color'],
      [bg, 'background-color']
    ] as const) {
      if (value === null) {
        continue;
      }
      if (value.startsWith('jp-')) {
        classes.push(value);
      } else {
        css.push(`${property}: ${value}`);
      }
    }
    if (this._bold) {
      classes.push('jp-PyRunner-ansi-bold');
    }
    if (this._dim) {
      classes.push('jp-PyRunner-ansi-dim');
    }
    if (this._italic) {
      classes.push('jp-PyRunner-ansi-italic');
    }
    if (this._underline) {
      classes.push('jp-PyRunner-ansi-underline');
    }
    if (classes.length === 0 && css.length === 0) {
      return PLAIN;
    }
    return { classes: classes.join(' '), css: css.join('; ') };
  }
}

function swapKind(value: string, from: string, to: string): string {
  return value.startsWith('jp-') ? value.replace(new RegExp(`-${from}$`), `-${to}`) : value;
}

/** `38;5;n` or `38;2;r;g;b`: the colour and how many codes it used after the 38/48. */
function extendedColor(codes: number[], at: number): [string | null, number] {
  if (codes[at] === 5 && at + 1 < codes.length) {
    return [xterm256(codes[at + 1]), 2];
  }
  if (codes[at] === 2 && at + 3 < codes.length) {
    const [r, g, b] = codes.slice(at + 1, at + 4).map(clampByte);
    return [`rgb(${r}, ${g}, ${b})`, 4];
  }
  return [null, codes.length - at];
}

function clampByte(value: number): number {
  return Math.min(255, Math.max(0, Math.round(value) || 0));
}

/** The colour of an xterm 256-colour index. */
export function xterm256(index: number): string | null {
  if (!Number.isInteger(index) || index < 0 || index > 255) {
    return null;
  }
  if (index < 16) {
    const bright = index >= 8 ? 'bright-' : '';
    return `jp-PyRunner-ansi-${bright}${NAMES[index % 8]}-fg`;
  }
  if (index < 232) {
    const n = index - 16;
    const level = (v: number): number => (v === 0 ? 0 : 55 + v * 40);
    return `rgb(${level(Math.floor(n / 36))}, ${level(Math.floor(n / 6) % 6)}, ${level(n % 6)})`;
  }
  const grey = 8 + (index - 232) * 10;
  return `rgb(${grey}, ${grey}, ${grey})`;
}

/** A piece of text after parsing: plain text, a style change, or a control. */
export type AnsiToken =
  | { kind: 'text'; text: string }
  | { kind: 'sgr'; params: string }
  | { kind: 'erase-line' }
  | { kind: 'cr' }
  | { kind: 'lf' };

// CSI (ESC [ params final), OSC (ESC ] ... BEL or ESC \), other escapes (ESC, intermediates
// such as `(`, a final byte: `ESC ( B`, `ESC 7`, `ESC M`), lone controls (a stray ESC too)
// eslint-disable-next-line no-control-regex
const TOKEN =
  /\x1b\[([0-9;:?<=>]*)([ -/]*)([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[ -/]*[0-~]|\r|\n|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g;
// an escape sequence cut at the end of a chunk (an OSC possibly cut inside its ESC \ end)
// eslint-disable-next-line no-control-regex
const UNFINISHED = /\x1b(?:\[[0-9;:?<=>]*[ -/]*|\][^\x07\x1b]*\x1b?|[ -/]+)?$/;

/**
 * Splits chunks of output into tokens. An escape sequence split across two chunks is held
 * back until the rest arrives.
 */
export class AnsiTokenizer {
  private _pending = '';

  feed(chunk: string): AnsiToken[] {
    let text = this._pending + chunk;
    this._pending = '';
    const cut = UNFINISHED.exec(text);
    if (cut && cut[0].length <= 256) {
      this._pending = cut[0];
      text = text.slice(0, cut.index);
    }
    const tokens: AnsiToken[] = [];
    let last = 0;
    TOKEN.lastIndex = 0;
    for (let match = TOKEN.exec(text); match !== null; match = TOKEN.exec(text)) {
      if (match.index > last) {
        tokens.push({ kind: 'text', text: text.slice(last, match.index) });
      }
      last = match.index + match[0].length;
      const token = match[0];
      if (token === '\n') {
        tokens.push({ kind: 'lf' });
      } else if (token === '\r') {
        tokens.push({ kind: 'cr' });
      } else if (match[3] === 'm' && match[2] === '' && !/[?<=>]/.test(match[1])) {
        tokens.push({ kind: 'sgr', params: match[1] });
      } else if (match[3] === 'K' && (match[1] === '2' || match[1] === '1')) {
        tokens.push({ kind: 'erase-line' });
      }
      // anything else (cursor moves, titles, bells) is dropped
    }
    if (last < text.length) {
      tokens.push({ kind: 'text', text: text.slice(last) });
    }
    return tokens;
  }
}
