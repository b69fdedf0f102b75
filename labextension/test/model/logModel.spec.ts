import { describe, expect, it } from 'vitest';

import { PLAIN } from '../../src/util/ansi';
import { ILogLine, LogModel } from '../../src/model/logModel';

const P = 'jp-PyRunner-ansi-';

function lineText(line: ILogLine): string {
  return line.segments.map(s => s.text).join('');
}

function texts(model: LogModel): string[] {
  return model.lines.map(lineText);
}

describe('LogModel: lines', () => {
  it('splits lines on \\n, joining a line cut across chunks', () => {
    const model = new LogModel();
    model.append('first li', 'stdout');
    model.append('ne\nsecond\nthi', 'stdout');
    model.append('rd', 'stdout');
    expect(texts(model)).toEqual(['first line', 'second', 'third']);
    expect(model.lines.map(l => l.id)).toEqual([0, 1, 2]);
    expect(model.text()).toBe('first line\nsecond\nthird');
  });

  it('keeps empty lines', () => {
    const model = new LogModel();
    model.append('a\n\n\nb\n', 'stdout');
    model.append('\n', 'stdout');
    expect(texts(model)).toEqual(['a', '', '', 'b', '']);
  });

  it('does not start a line for a trailing newline', () => {
    const model = new LogModel();
    model.append('only\n', 'stdout');
    expect(texts(model)).toEqual(['only']);
  });

  it('rewrites the open line in place on \\r (tqdm-style progress)', () => {
    const model = new LogModel();
    model.append('start\n', 'stdout');
    model.append('\rprogress 10%', 'stdout');
    model.append('\rprogress 50%', 'stdout');
    model.append('\rprogress 100%\n', 'stdout');
    model.append('done\n', 'stdout');
    expect(texts(model)).toEqual(['start', 'progress 100%', 'done']);
  });

  it('rewrites the line when \\r and the new text are in separate chunks', () => {
    const model = new LogModel();
    model.append('10%\r', 'stdout');
    model.append('20%', 'stdout');
    expect(texts(model)).toEqual(['20%']);
  });

  it('treats \\r\\n as a plain newline', () => {
    const model = new LogModel();
    model.append('one\r\ntwo\r\n', 'stdout');
    expect(texts(model)).toEqual(['one', 'two']);
  });

  it('treats \\r\\n split across chunks as a plain newline', () => {
    const model = new LogModel();
    model.append('one\r', 'stdout');
    model.append('\ntwo\r', 'stdout');
    model.append('\n\r', 'stdout');
    model.append('\nthree', 'stdout');
    expect(texts(model)).toEqual(['one', 'two', '', 'three']);
  });

  it('clears the open line on erase-line and keeps writing on it', () => {
    const model = new LogModel();
    model.append('old text\x1b[2Knew', 'stdout');
    model.append('\r\x1b[2Kfinal\n', 'stdout');
    expect(texts(model)).toEqual(['final']);
  });

  it('drops escape sequences that are not styles from the text', () => {
    const model = new LogModel();
    model.append('\x1b]0;title\x07a\x1b[1A\x1b[?25lb\x07c\n', 'stdout');
    expect(model.text()).toBe('abc');
  });
});

describe('LogModel: streams', () => {
  it('keeps each stream\u2019s partial line separate when stdout and stderr interleave', () => {
    const model = new LogModel();
    model.append('out: part', 'stdout');
    model.append('err: one', 'stderr');
    model.append(' two\n', 'stdout');
    model.append(' more\nerr again\n', 'stderr');
    model.append('out again\n', 'stdout');
    expect(texts(model)).toEqual(['out: part two', 'err: one more', 'err again', 'out again']);
    expect(model.lines.map(l => l.stderr)).toEqual([false, true, true, false]);
  });

  it('marks stderr lines and segments', () => {
    const model = new LogModel();
    model.append('Traceback\n', 'stderr');
    model.append('ok\n', 'stdout');
    const [err, out] = model.lines;
    expect(err.stderr).toBe(true);
    expect(err.segments).toEqual([{ text: 'Traceback', style: PLAIN, stderr: true }]);
    expect(out.stderr).toBe(false);
    expect(out.segments[0].stderr).toBe(false);
  });

  it('a \\r on one stream does not rewrite the other stream\u2019s line', () => {
    const model = new LogModel();
    model.append('progress 1', 'stderr');
    model.append('log line\n', 'stdout');
    model.append('\rprogress 2', 'stderr');
    expect(texts(model)).toEqual(['progress 2', 'log line']);
    expect(model.lines[0].stderr).toBe(true);
  });

  it('keeps an SGR state per stream', () => {
    const model = new LogModel();
    model.append('\x1b[31m', 'stderr');
    model.append('plain\n', 'stdout');
    model.append('red\n', 'stderr');
    expect(model.lines[0].segments[0].style).toBe(PLAIN);
    expect(model.lines[1].segments[0].style.classes).toBe(`${P}red-fg`);
  });
});

describe('LogModel: styles', () => {
  it('gives each differently styled run of text its own segment', () => {
    const model = new LogModel();
    model.append('plain \x1b[1;32mgreen bold\x1b[0m tail \x1b[38;2;1;2;3mrgb\n', 'stdout');
    const segments = model.lines[0].segments;
    expect(segments.map(s => s.text)).toEqual(['plain ', 'green bold', ' tail ', 'rgb']);
    expect(segments.map(s => s.style)).toEqual([
      PLAIN,
      { classes: `${P}green-fg ${P}bold`, css: '' },
      PLAIN,
      { classes: '', css: 'color: rgb(1, 2, 3)' }
    ]);
    expect(model.lines[0].length).toBe('plain green bold tail rgb'.length);
  });

  it('carries a style over to the next line and across chunks', () => {
    const model = new LogModel();
    model.append('\x1b[3', 'stdout');
    model.append('4mblue\nstill blue\x1b[0m\n', 'stdout');
    expect(model.lines[0].segments).toEqual([
      { text: 'blue', style: { classes: `${P}blue-fg`, css: '' }, stderr: false }
    ]);
    expect(model.lines[1].segments[0].style.classes).toBe(`${P}blue-fg`);
  });

  it('merges text of the same style written in several chunks into one segment', () => {
    const model = new LogModel();
    model.append('a', 'stdout');
    model.append('b', 'stdout');
    model.append('c\n', 'stdout');
    expect(model.lines[0].segments).toEqual([{ text: 'abc', style: PLAIN, stderr: false }]);
  });
});

describe('LogModel: limits', () => {
  it('drops the oldest lines beyond maxLines and counts them', () => {
    const model = new LogModel({ maxLines: 3 });
    for (let i = 0; i < 10; i++) {
      model.append(`line ${i}\n`, 'stdout');
    }
    expect(texts(model)).toEqual(['line 7', 'line 8', 'line 9']);
    expect(model.lines.map(l => l.id)).toEqual([7, 8, 9]);
    expect(model.dropped).toBe(7);
  });

  it('keeps writing a new line after the line a stream had open was dropped', () => {
    const model = new LogModel({ maxLines: 2 });
    model.append('progress', 'stderr');
    model.append('a\nb\n', 'stdout');
    model.append(' more\n', 'stderr');
    expect(texts(model)).toEqual(['b', ' more']);
    expect(model.dropped).toBe(2);
  });

  it('truncates lines longer than maxLineLength and flags them', () => {
    const model = new LogModel({ maxLineLength: 5 });
    model.append('abc', 'stdout');
    model.append('defgh\nxy\n', 'stdout');
    model.append('123456', 'stdout');
    model.append('789\n', 'stdout');
    expect(texts(model)).toEqual(['abcde', 'xy', '12345']);
    expect(model.lines.map(l => l.truncated)).toEqual([true, false, true]);
    expect(model.lines.map(l => l.length)).toEqual([5, 2, 5]);
  });

  it('unflags truncation when a \\r rewrites the line shorter', () => {
    const model = new LogModel({ maxLineLength: 4 });
    model.append('abcdef\rxy', 'stdout');
    expect(texts(model)).toEqual(['xy']);
    expect(model.lines[0].truncated).toBe(false);
  });

  it('uses defaults of 5000 lines and 10000 characters', () => {
    const model = new LogModel();
    expect(model.maxLines).toBe(5000);
    expect(model.maxLineLength).toBe(10000);
    expect(new LogModel({ maxLines: 0, maxLineLength: -3 }).maxLines).toBe(1);
  });
});

describe('LogModel: takeChanges', () => {
  it('reports the ids of new lines, then nothing', () => {
    const model = new LogModel();
    model.append('a\nb\nc', 'stdout');
    expect(model.takeChanges()).toEqual({ reset: false, changed: [0, 1, 2] });
    expect(model.takeChanges()).toEqual({ reset: false, changed: [] });
  });

  it('reports a rewritten line and a line continued by a later chunk', () => {
    const model = new LogModel();
    model.append('one\ntwo\nprogress 1%', 'stdout');
    model.takeChanges();
    model.append('\rprogress 2%', 'stdout');
    expect(model.takeChanges()).toEqual({ reset: false, changed: [2] });
    model.append(' more\nfour\n', 'stdout');
    expect(model.takeChanges()).toEqual({ reset: false, changed: [2, 3] });
  });

  it('reports a line cleared by erase-line', () => {
    const model = new LogModel();
    model.append('abc', 'stdout');
    model.takeChanges();
    model.append('\x1b[2K', 'stdout');
    expect(model.takeChanges()).toEqual({ reset: false, changed: [0] });
    expect(texts(model)).toEqual(['']);
  });

  it('leaves out lines already dropped', () => {
    const model = new LogModel({ maxLines: 2 });
    model.append('a\nb\nc\nd\n', 'stdout');
    expect(model.takeChanges()).toEqual({ reset: false, changed: [2, 3] });
  });

  it('reports reset after clear() and numbers lines from 0 again', () => {
    const model = new LogModel({ maxLines: 2 });
    model.append('a\nb\nc\nd\x1b[31m', 'stdout');
    model.clear();
    expect(model.lines).toEqual([]);
    expect(model.dropped).toBe(0);
    expect(model.takeChanges()).toEqual({ reset: true, changed: [] });
    model.append('new\n', 'stdout');
    expect(model.takeChanges()).toEqual({ reset: false, changed: [0] });
    expect(model.lines[0].id).toBe(0);
    // the stream state (open line, colour) was forgotten too
    expect(model.lines[0].segments[0].style).toBe(PLAIN);
  });

  it('reports reset together with lines written after clear()', () => {
    const model = new LogModel();
    model.append('x\n', 'stdout');
    model.clear();
    model.append('y\nz', 'stderr');
    expect(model.takeChanges()).toEqual({ reset: true, changed: [0, 1] });
  });
});

describe('LogModel: the runner’s lines and logs shown from their tail', () => {
  it('marks the runner’s own lines as system lines, not stderr', () => {
    const log = new LogModel();
    log.append('pyrunner: environment ready\n', 'system');
    log.append('hello\n', 'stdout');
    expect(log.lines.map(l => [l.system, l.stderr])).toEqual([
      [true, false],
      [false, false]
    ]);
  });

  it('remembers where a tail began, and forgets it when cleared', () => {
    const log = new LogModel();
    log.append('old\n', 'stdout');
    log.takeChanges();
    log.startAt(4096);
    expect(log.skippedBytes).toBe(4096);
    expect(log.takeChanges().reset).toBe(true); // the view starts over with the notice
    log.clear();
    expect(log.skippedBytes).toBe(0);
  });
});
