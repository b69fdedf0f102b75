/**
 * The state behind the Python Runner panel: what is about to run (`RunForm`), the run on show
 * (`ShownRun`), the list of runs (`RunHistory`) and the last failure. The panel reads this one
 * object; it ties the three together (a run started is shown, a run deleted is closed, the
 * list of runs may tell that the run on show has ended). Nothing here touches the DOM.
 */

import { ISignal, Signal } from '@lumino/signaling';

import { messageOf } from '../util/messageOf';
import { IOutputFile } from '../util/outputTree';
import { ICopyResult, IRunRecord, RunnerApi } from '../util/runnerApi';
import { LogModel } from './logModel';
import { ConnectionState } from './logStream';
import { RunForm, Source } from './runForm';
import { RunHistory } from './runHistory';
import { IRunnerHost, ShownRun, StreamSettings } from './shownRun';

export interface IRunnerModelOptions {
  maxLogLines?: number;
  /** By default, the browser's `WebSocket` and `LogStream`'s back-off. */
  stream?: StreamSettings;
}

export class RunnerModel {
  constructor(
    readonly api: RunnerApi,
    readonly host: IRunnerHost,
    options: IRunnerModelOptions = {}
  ) {
    this.shown = new ShownRun(api, host, {
      ...options,
      onError: message => this.showError(message),
      onEnded: () => void this.refreshHistory()
    });
    this.shown.changed.connect(() => this._emit());
    this.history = new RunHistory(api);
    this.history.changed.connect(() => this._emit());
    this.form = new RunForm(api);
    this.form.changed.connect(() => this._emit());
  }

  /** What is about to run. */
  readonly form: RunForm;
  /** The run on show; its state is also read through the getters below. */
  readonly shown: ShownRun;
  /** The runs listed below the run on show. */
  readonly history: RunHistory;
  /** The last failure, for the panel's alert. */
  error: string | null = null;

  get log(): LogModel {
    return this.shown.log;
  }
  get run(): IRunRecord | null {
    return this.shown.run;
  }
  get connection(): ConnectionState {
    return this.shown.connection;
  }
  get connectionReason(): string {
    return this.shown.connectionReason;
  }
  get outputs(): IOutputFile[] | null {
    return this.shown.outputs;
  }
  get outputsError(): string | null {
    return this.shown.outputsError;
  }
  get copied(): ICopyResult | null {
    return this.shown.copied;
  }

  /** Any change of what the panel shows, except log text. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** New log text (the view redraws at most once a frame). */
  get logChanged(): ISignal<ShownRun, void> {
    return this.shown.logChanged;
  }

  /** The run on show changed (its id is worth remembering across reloads). */
  get runChanged(): ISignal<ShownRun, string | null> {
    return this.shown.runChanged;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this.shown.dispose();
    this.form.dispose();
    this.history.dispose();
    Signal.clearData(this);
  }

  setMaxLogLines(maxLines: number): void {
    this.shown.setMaxLogLines(maxLines);
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
      this.shown.show(record);
      void this.refreshHistory();
    } catch (error) {
      this.showError(messageOf(error));
    }
  }

  // -- the run on show (see ShownRun) ----------------------------------------------------------

  open(runId: string, options: { quietIfGone?: boolean } = {}): Promise<void> {
    return this.shown.open(runId, options);
  }

  reconnectNow(): void {
    this.shown.reconnectNow();
  }

  close(): void {
    this.shown.close();
  }

  cancel(): Promise<void> {
    return this.shown.cancel();
  }

  copyOutputs(): Promise<void> {
    return this.shown.copyOutputs();
  }

  // -- history ----------------------------------------------------------------------------------

  /** Reload the newest runs; a run on show that ended while its stream was away is updated. */
  async refreshHistory(): Promise<void> {
    const runs = await this.history.refresh();
    if (runs) {
      this.shown.updateFrom(runs);
    }
  }

  async deleteRun(runId: string): Promise<void> {
    try {
      await this.history.remove(runId);
      if (this.shown.run?.id === runId) {
        this.shown.clear();
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

  private _disposed = false;
  private _changed = new Signal<this, void>(this);
}
