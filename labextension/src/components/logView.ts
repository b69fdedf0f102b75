/**
 * Draws a `LogModel` into an element, at most once per animation frame, touching only the
 * lines that changed. Follows the end of the log until the user scrolls up; scrolling back
 * to the bottom (or `follow()`) resumes.
 */

import { formatBytes } from '../util/format';
import { ILogLine, LogModel } from '../model/logModel';

export class LogView {
  constructor(readonly node: HTMLElement) {
    node.classList.add('jp-PyRunner-log');
    node.setAttribute('role', 'log');
    node.setAttribute('aria-live', 'off');
    node.tabIndex = 0;
    this._notice = document.createElement('div');
    this._notice.className = 'jp-PyRunner-logNotice';
    this._notice.hidden = true;
    this._body = document.createElement('div');
    node.append(this._notice, this._body);
    node.addEventListener('scroll', this._onScroll);
  }

  /** Called with `true` when following the end stops (the user scrolled up) or resumes. */
  onFollowChange: ((following: boolean) => void) | null = null;

  /** The log shown. */
  get model(): LogModel | null {
    return this._model;
  }

  get following(): boolean {
    return this._following;
  }

  /** Show this model (from the start). */
  setModel(model: LogModel): void {
    this._model = model;
    this._body.textContent = '';
    this._elements.clear();
    this.schedule();
  }

  /**
   * Redraw on the next animation frame. A redraw that took long (thousands of new lines while
   * a log is replayed) pushes the next one back by a few times its cost, so that a fast stream
   * is drawn a few times rather than once per message.
   */
  schedule(): void {
    if (this._frame !== 0 || this._timer !== 0 || !this._model) {
      return;
    }
    const wait = this._notBefore - performance.now();
    if (wait > 0) {
      this._timer = window.setTimeout(() => {
        this._timer = 0;
        this.schedule();
      }, wait);
      return;
    }
    this._frame = requestAnimationFrame(() => {
      this._frame = 0;
      const start = performance.now();
      this.render();
      const cost = performance.now() - start;
      this._notBefore = cost > 16 ? performance.now() + 3 * cost : 0;
    });
  }

  /** Scroll to the end and keep following it. */
  follow(): void {
    this._setFollowing(true);
    this.node.scrollTop = this.node.scrollHeight;
  }

  dispose(): void {
    if (this._frame) {
      cancelAnimationFrame(this._frame);
    }
    window.clearTimeout(this._timer);
    this.node.removeEventListener('scroll', this._onScroll);
    this._model = null;
  }

  render(): void {
    const model = this._model;
    if (!model) {
      return;
    }
    const { reset, changed } = model.takeChanges();
    if (reset) {
      this._body.textContent = '';
      this._elements.clear();
      this._setFollowing(true); // another run, or the same one again: start at its end
    }
    const lines = model.lines;
    this._removeBefore(lines.length ? lines[0].id : Infinity);
    if (reset) {
      for (const line of lines) {
        this._append(line);
      }
    } else if (changed.length) {
      this._update(lines, changed);
    }
    this._showNotice(model);
    if (this._following) {
      this.node.scrollTop = this.node.scrollHeight;
    }
  }

  /** Remove the lines dropped from the front (the body's children are in id order). */
  private _removeBefore(firstId: number): void {
    for (let first = this._body.firstElementChild as HTMLElement | null; first !== null;) {
      const id = Number(first.dataset.line);
      if (id >= firstId) {
        break;
      }
      const next = first.nextElementSibling as HTMLElement | null;
      first.remove();
      this._elements.delete(id);
      first = next;
    }
  }

  /** Redraw the lines that changed (ids in increasing order), adding the new ones. */
  private _update(lines: readonly ILogLine[], changed: readonly number[]): void {
    const byId = new Map<number, ILogLine>();
    const start = lines.length ? changed[0] - lines[0].id : 0;
    for (let i = Math.max(0, start); i < lines.length; i++) {
      byId.set(lines[i].id, lines[i]);
    }
    for (const id of changed) {
      const line = byId.get(id);
      if (!line) {
        continue;
      }
      const element = this._elements.get(id);
      if (element) {
        fillLine(element, line);
      } else {
        this._append(line);
      }
    }
  }

  /** Say what of the log is not shown: bytes before the tail, lines beyond the limit. */
  private _showNotice(model: LogModel): void {
    const hidden = model.dropped > 0 || model.skippedBytes > 0;
    this._notice.hidden = !hidden;
    if (hidden) {
      const lines = (n: number): string => `${n.toLocaleString()} ${n === 1 ? 'line' : 'lines'}`;
      const what =
        model.skippedBytes > 0
          ? `The first ${formatBytes(model.skippedBytes)}${model.dropped ? ` and ${lines(model.dropped)} more` : ''} of the log are`
          : `${lines(model.dropped)} before these ${model.dropped === 1 ? 'is' : 'are'}`;
      this._notice.textContent = `${what} not shown here: download the full log to see everything.`;
    }
  }

  private _append(line: ILogLine): void {
    const element = document.createElement('div');
    element.className = 'jp-PyRunner-logLine';
    element.dataset.line = String(line.id);
    fillLine(element, line);
    this._body.appendChild(element);
    this._elements.set(line.id, element);
  }

  private _onScroll = (): void => {
    // scrolling to the end (ours or the user's) keeps following; anything above pauses
    const node = this.node;
    const atEnd = node.scrollTop + node.clientHeight >= node.scrollHeight - 8;
    this._setFollowing(atEnd);
  };

  private _setFollowing(following: boolean): void {
    if (following !== this._following) {
      this._following = following;
      this.onFollowChange?.(following);
    }
  }

  private _model: LogModel | null = null;
  private _elements = new Map<number, HTMLElement>();
  private _body: HTMLElement;
  private _notice: HTMLElement;
  private _frame = 0;
  private _timer = 0;
  private _notBefore = 0;
  private _following = true;
}

function fillLine(element: HTMLElement, line: ILogLine): void {
  element.classList.toggle('jp-mod-stderr', line.stderr);
  element.classList.toggle('jp-mod-system', line.system);
  element.textContent = '';
  for (const segment of line.segments) {
    if (!segment.style.classes && !segment.style.css && !segment.stderr) {
      element.appendChild(document.createTextNode(segment.text));
      continue;
    }
    const span = document.createElement('span');
    span.textContent = segment.text;
    if (segment.style.classes) {
      span.className = segment.style.classes;
    }
    if (segment.style.css) {
      span.style.cssText = segment.style.css;
    }
    if (segment.stderr) {
      span.classList.add('jp-PyRunner-stderr');
    }
    element.appendChild(span);
  }
  if (line.truncated) {
    const more = document.createElement('span');
    more.className = 'jp-PyRunner-logTruncated';
    more.textContent = ' … (line cut; the full log has all of it)';
    element.appendChild(more);
  }
}
