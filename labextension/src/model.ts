/**
 * The state behind the Python Runner panel: the run on show (its record, live log and outputs),
 * with what is about to run (`RunForm`) and the list of runs (`RunHistory`). The view renders
 * it; nothing here touches the DOM.
 */

import { ISignal, Signal } from '@lumino/signaling';

import { ApiError, ICopyResult, IRunRecord, RunnerApi } from './api';
import { isLive } from './format';
import { LogModel } from './logmodel';
import { RunForm, Source } from './runform';
import { RunHistory } from './runhistory';
import { ConnectionState, IEndMessage, IStatusMessage, LogStream } from './stream';
import { IOutputFile } from './tree';

/** What the panel needs from JupyterLab around it. */
export interface IRunnerHost {
  /** The folder of the file browser (for "Copy to workspace"), relative to the server root. */
  workspaceFolder(): string;
  /** Show a folder of the server's contents in the file browser. */
  reveal(path: string): Promise<void>;
}

/** A run is shown from about this many bytes before the end of its log (the rest: download). */
export const TAIL_BYTES = 2 * 1024 * 1024;

export class RunnerModel {
  constructor(
    readonly api: RunnerApi,
    readonly host: IRunnerHost,
    options: { maxLogLines?: number } = {}
  ) {
    this.log = new LogModel({ maxLines: options.maxLogLines });
    this.history = new RunHistory(api);
    this.history.changed.connect(() => this._emit());
    this.form = new RunForm(api);
    this.form.changed.connect(() => this._emit());
  }

  /** The log of the run on show, fed by the stream. */
  log: LogModel;

  /** What is about to run. */
  readonly form: RunForm;
  /** The last failure, for the panel's alert. */
  error: string | null = null;

  run: IRunRecord | null = null;
  connection: ConnectionState = 'stopped';
  connectionReason = '';
  outputs: IOutputFile[] | null = null;
  outputsError: string | null = null;
  copied: ICopyResult | null = null;

  /** The runs listed below the run on show. */
  readonly history: RunHistory;

  /** Any change of what the panel shows, except log text. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** New log text (the view redraws at most once a frame). */
  get logChanged(): ISignal<this, void> {
    return this._logChanged;
  }

  /** The run on show changed (its id is worth remembering across reloads). */
  get runChanged(): ISignal<this, string | null> {
    return this._runChanged;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._stream?.stop();
    this.form.dispose();
    this.history.dispose();
    Signal.clearData(this);
  }

  setMaxLogLines(maxLines: number): void {
    if (maxLines !== this.log.maxLines) {
      this.log = new LogModel({ maxLines });
      if (this.run) {
        this._show(this.run); // follow it again into the new log, from its tail
      }
    }
  }

  // -- choosing what to run -------------------------------------------------------------------

  /** Choose the project (and clear an earlier error). */
  setSource(source: Source | null): void {
    this.form.setSource(source);
    this.showError(null);
  }

  showError(message: string | null): void {
    this.error = message;
    this._emit();
  }

  /** Run a zip or folder of the server's contents at once, with the options as they are. */
  async runPath(path: string): Promise<void> {
    if (this.form.starting) {
      this.showError('Another run is being started: wait for its upload to finish.');
      return;
    }
    const name = path.split('/').pop() || path;
    this.setSource({ kind: 'path', name, path });
    await this.start();
  }

  /** Upload what needs uploading, start the run and follow it. */
  async start(): Promise<void> {
    if (!this.form.source || this.form.starting) {
      return;
    }
    this.showError(null);
    try {
      const record = await this.form.submit();
      this._show(record);
      void this.refreshHistory();
    } catch (error) {
      this.showError(messageOf(error));
    }
  }

  // -- the run on show -------------------------------------------------------------------------

  /**
   * Show a run (from the history, or after a reload) and follow its log. `quietIfGone`: a
   * run that no longer exists is forgotten without a word (the one remembered from last time).
   */
  async open(runId: string, options: { quietIfGone?: boolean } = {}): Promise<void> {
    const request = ++this._openRequest; // a later open (another click) wins
    try {
      const record = await this.api.getRun(runId);
      if (request === this._openRequest) {
        this._show(record);
      }
    } catch (error) {
      if (request !== this._openRequest) {
        return;
      }
      if (error instanceof ApiError && error.status === 404) {
        if (this.run?.id === runId) {
          this._clearShown();
        }
        if (options.quietIfGone) {
          if (this.run === null) {
            this._runChanged.emit(null); // forget it
          }
        } else {
          this.showError(`The run ${runId} no longer exists.`);
        }
      } else {
        this.showError(messageOf(error));
      }
    }
  }

  /** Reconnect the log stream now rather than after its back-off (the network is back). */
  reconnectNow(): void {
    this._stream?.retryNow();
  }

  /** Stop showing the run. */
  close(): void {
    this._openRequest += 1; // a run still loading is not shown either
    this._clearShown();
  }

  /** Stop showing the run on show (without cancelling an `open()` under way). */
  private _clearShown(): void {
    this._stream?.stop();
    this._stream = null;
    this.run = null;
    this.outputs = null;
    this.outputsError = null;
    this.copied = null;
    this.connection = 'stopped';
    this.log.clear();
    this._logChanged.emit();
    this._runChanged.emit(null);
    this._emit();
  }

  async cancel(): Promise<void> {
    const runId = this.run?.id;
    if (!runId) {
      return;
    }
    try {
      this._merge(await this.api.cancelRun(runId));
    } catch (error) {
      this.showError(messageOf(error));
    }
  }

  async copyOutputs(): Promise<void> {
    const run = this.run;
    if (!run) {
      return;
    }
    const folder = this.host.workspaceFolder();
    const name = `${run.name || 'run'}-outputs`;
    const target = folder ? `${folder}/${name}` : name;
    try {
      const copied = await this.api.copyOutputs(run.id, target);
      if (this.run?.id === run.id) {
        this.copied = copied;
        this._emit();
      }
      await this.host.reveal(copied.path);
    } catch (error) {
      this.showError(messageOf(error));
    }
  }

  private _show(record: IRunRecord): void {
    this._openRequest += 1; // an older open() still loading must not replace this one
    this._stream?.stop();
    this.run = record;
    this.outputs = null;
    this.outputsError = null;
    this.copied = null;
    this.log.clear();
    this._logChanged.emit();
    this._runChanged.emit(record.id);
    const runId = record.id;
    let first = true;
    const stream = new LogStream({
      url: (offset, tail) => this.api.streamUrl(runId, offset, tail),
      onLog: message => {
        if (first) {
          first = false;
          if (message.offset > 0) {
            this.log.startAt(message.offset); // a long log, shown from its tail
          }
        }
        this.log.append(message.text, message.stream);
        this._logChanged.emit();
      },
      onStatus: message => this._mergeStatus(message),
      onEnd: message => void this._ended(message),
      onConnection: (state, detail) => {
        if (this._stream !== stream) {
          return;
        }
        this.connection = state;
        this.connectionReason = detail.reason;
        this._emit();
        if (
          (state === 'reconnecting' && detail.attempt >= 2) ||
          (state === 'stopped' && detail.reason)
        ) {
          void this._checkStillThere(runId); // deleted meanwhile, or ended while away?
        }
      }
    });
    this._stream = stream;
    stream.start(0, TAIL_BYTES);
    this._emit();
  }

  /** The stream is in trouble: is the run gone (deleted elsewhere), or has it ended? */
  private async _checkStillThere(runId: string): Promise<void> {
    try {
      const record = await this.api.getRun(runId);
      if (this.connection === 'ended' || (this.run && !isLive(this.run.status))) {
        return; // the stream brought the end meanwhile: an older answer must not undo it
      }
      this._merge(record);
      if (!isLive(record.status) && this.run?.id === runId && this.outputs === null) {
        await this.loadOutputs(runId);
      }
    } catch (error) {
      if (error instanceof ApiError && error.status === 404 && this.run?.id === runId) {
        this._clearShown();
        this.showError(`The run ${runId} was deleted.`);
      }
    }
  }

  /** Apply fields of the run on show (anything about another run is ignored). */
  private _merge(update: Partial<IRunRecord>): void {
    if (!this.run || (update.id !== undefined && update.id !== this.run.id)) {
      return;
    }
    this.run = { ...this.run, ...update };
    this._emit();
  }

  private _mergeStatus(message: IStatusMessage | IEndMessage): void {
    const { run_id: id, status, progress, message: text, exit_code } = message;
    this._merge({ id, status, progress, message: text, exit_code });
  }

  private async _ended(message: IEndMessage): Promise<void> {
    const runId = message.run_id;
    this._mergeStatus(message);
    try {
      this._merge(await this.api.getRun(runId)); // duration, details
    } catch {
      // the end message already told the outcome
    }
    await this.loadOutputs(runId);
    void this.refreshHistory();
  }

  /** List the outputs of a run, if it is still the one on show. */
  async loadOutputs(runId: string | undefined = this.run?.id): Promise<void> {
    if (!runId) {
      return;
    }
    try {
      const listing = await this.api.listOutputs(runId);
      if (this.run?.id === runId) {
        this.outputs = listing.files;
        this.outputsError = null;
      }
    } catch (error) {
      if (this.run?.id === runId) {
        this.outputsError = messageOf(error);
      }
    }
    this._emit();
  }

  // -- history ----------------------------------------------------------------------------------

  /** Reload the newest runs; a run on show that ended while its stream was away is updated. */
  async refreshHistory(): Promise<void> {
    const runs = await this.history.refresh();
    const shown = runs && this.run && runs.find(run => run.id === this.run?.id);
    if (
      shown &&
      this.run &&
      !isLive(shown.status) &&
      isLive(this.run.status) &&
      this.connection !== 'open'
    ) {
      this._merge(shown);
      void this.loadOutputs(shown.id);
    }
  }

  async deleteRun(runId: string): Promise<void> {
    try {
      await this.history.remove(runId);
      if (this.run?.id === runId) {
        this._clearShown();
      }
    } catch (error) {
      this.showError(messageOf(error));
    }
  }

  private _emit(): void {
    if (!this._disposed) {
      this._changed.emit();
    }
  }

  private _stream: LogStream | null = null;
  private _openRequest = 0;
  private _disposed = false;
  private _changed = new Signal<this, void>(this);
  private _logChanged = new Signal<this, void>(this);
  private _runChanged = new Signal<this, string | null>(this);
}

/** A readable sentence for any failure. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}
