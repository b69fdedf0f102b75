/**
 * The live log as lines for display: ANSI styles, `\r` rewriting the current line in place,
 * stderr marked, and a bound on how many lines are kept.
 */

import { AnsiState, AnsiTokenizer, IStyle } from '../util/ansi';

/** `system` lines are the runner's own (environment built, run stopped...). */
export type StreamName = 'stdout' | 'stderr' | 'system';

/** A run of text with one style. */
export interface ISegment {
  text: string;
  style: IStyle;
  stderr: boolean;
}

/** One line of the log. `id`s increase from 0 in the order lines were begun. */
export interface ILogLine {
  readonly id: number;
  segments: ISegment[];
  /** Characters in the line (what is kept of it). */
  length: number;
  /** True if any of the line came from stderr. */
  stderr: boolean;
  /** True if the line is the runner's own message. */
  system: boolean;
  /** True when the line was longer than the limit and its end was not kept. */
  truncated: boolean;
}

export interface ILogModelOptions {
  /** Lines kept; older lines are dropped (and counted). Default 5,000. */
  maxLines?: number;
  /** Characters kept of one line. Default 10,000. */
  maxLineLength?: number;
}

interface IStreamState {
  tokenizer: AnsiTokenizer;
  ansi: AnsiState;
  /** The line this stream is writing to, until its newline. */
  open: ILogLine | null;
  /** A `\r` was seen: the next text replaces the open line. */
  returned: boolean;
}

export class LogModel {
  readonly maxLines: number;
  readonly maxLineLength: number;

  constructor(options: ILogModelOptions = {}) {
    this.maxLines = Math.max(1, options.maxLines ?? 5000);
    this.maxLineLength = Math.max(1, options.maxLineLength ?? 10000);
  }

  /** The lines kept, oldest first. */
  get lines(): readonly ILogLine[] {
    this._compact();
    return this._lines;
  }

  /** Bytes at the start of the log that were never received (a stream begun at its tail). */
  get skippedBytes(): number {
    return this._skipped;
  }

  /** Note that the log is shown from byte `offset` on. */
  startAt(offset: number): void {
    this._skipped = Math.max(0, offset);
    this._reset = true;
  }

  /** How many lines were dropped from the front to respect `maxLines`. */
  get dropped(): number {
    return this._dropped;
  }

  /** Add a piece of one stream's output. */
  append(text: string, stream: StreamName): void {
    const state = this._stream(stream);
    for (const token of state.tokenizer.feed(text)) {
      switch (token.kind) {
        case 'text':
          this._write(state, token.text, stream);
          break;
        case 'sgr':
          state.ansi.apply(token.params);
          break;
        case 'cr':
          state.returned = true;
          break;
        case 'lf':
          if (state.open === null) {
            this._begin(state, stream); // an empty line
          }
          state.open = null;
          state.returned = false;
          break;
        case 'erase-line':
          if (state.open !== null) {
            this._clear(state.open);
          }
          break;
      }
    }
  }

  /** Forget everything (for showing another run). */
  clear(): void {
    this._lines = [];
    this._head = 0;
    this._dropped = 0;
    this._skipped = 0;
    this._nextId = 0;
    this._streams.clear();
    this._changed.clear();
    this._reset = true;
  }

  /**
   * What changed since the last call: `reset` when the view must start over, else the ids
   * of lines added or rewritten (lines below `lines[0].id` are gone).
   */
  takeChanges(): { reset: boolean; changed: number[] } {
    const result = { reset: this._reset, changed: [...this._changed].sort((a, b) => a - b) };
    this._reset = false;
    this._changed.clear();
    return result;
  }

  /** The kept text, one `\n` per line (for tests and copying). */
  text(): string {
    return this.lines.map(line => line.segments.map(s => s.text).join('')).join('\n');
  }

  private _stream(name: StreamName): IStreamState {
    let state = this._streams.get(name);
    if (!state) {
      state = {
        tokenizer: new AnsiTokenizer(),
        ansi: new AnsiState(),
        open: null,
        returned: false
      };
      this._streams.set(name, state);
    }
    return state;
  }

  private _begin(state: IStreamState, stream: StreamName): ILogLine {
    const line: ILogLine = {
      id: this._nextId++,
      segments: [],
      length: 0,
      stderr: stream === 'stderr',
      system: stream === 'system',
      truncated: false
    };
    this._lines.push(line);
    this._changed.add(line.id);
    // dropping from the front of a big array one line at a time would be quadratic: lines
    // only move past a head index here, and leave the array in one splice (see _compact)
    while (this._lines.length - this._head > this.maxLines) {
      const old = this._lines[this._head++];
      this._dropped += 1;
      this._changed.delete(old.id);
      for (const other of this._streams.values()) {
        if (other.open === old) {
          other.open = null;
        }
      }
    }
    if (this._head > this.maxLines) {
      this._compact();
    }
    state.open = line;
    return line;
  }

  private _compact(): void {
    if (this._head > 0) {
      this._lines.splice(0, this._head);
      this._head = 0;
    }
  }

  private _clear(line: ILogLine): void {
    line.segments = [];
    line.length = 0;
    line.truncated = false;
    this._changed.add(line.id);
  }

  private _write(state: IStreamState, text: string, stream: StreamName): void {
    const stderr = stream === 'stderr';
    let line = state.open;
    if (line === null) {
      line = this._begin(state, stream);
    } else if (state.returned) {
      this._clear(line);
    }
    state.returned = false;
    line.stderr = line.stderr || stderr;
    this._changed.add(line.id);
    const room = this.maxLineLength - line.length;
    if (room <= 0) {
      line.truncated = true;
      return;
    }
    const kept = text.length > room ? text.slice(0, room) : text;
    line.truncated = line.truncated || kept.length < text.length;
    line.length += kept.length;
    const style = state.ansi.style;
    const last = line.segments[line.segments.length - 1];
    if (last && last.style === style && last.stderr === stderr) {
      last.text += kept;
    } else {
      line.segments.push({ text: kept, style, stderr });
    }
  }

  private _lines: ILogLine[] = [];
  /** Lines before this index are dropped (not yet spliced out). */
  private _head = 0;
  private _dropped = 0;
  private _skipped = 0;
  private _nextId = 0;
  private _streams = new Map<StreamName, IStreamState>();
  private _changed = new Set<number>();
  private _reset = false;
}
