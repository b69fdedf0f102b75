/**
 * The run on show in the panel: its record, its live log (followed over the WebSocket from
 * the tail, reconnecting after a drop), its connection state and, once it has ended, its
 * outputs (OUTPUT_FOLDER's files, and those the program wrote beside its code). When the stream is in trouble, the REST API says whether the run was deleted or
 * ended meanwhile. No DOM here.
 */

import { ISignal, Signal } from '@lumino/signaling';

import { isLive } from '../util/format';
import { messageOf } from '../util/messageOf';
import { listRunOutputs } from '../util/outputSections';
import { IOutputFile } from '../util/outputTree';
import { ApiError, ICopyResult, IRunRecord, RunnerApi } from '../util/runnerApi';
import { LogModel } from './logModel';
import {
  ConnectionState,
  IEndMessage,
  ILogStreamOptions,
  IStatusMessage,
  LogStream
} from './logStream';

/** A run is shown from about this many bytes before the end of its log (the rest: download). */
export const TAIL_BYTES = 2 * 1024 * 1024;

/** How the log stream connects and waits between attempts (tests pass `ws` and short waits). */
export type StreamSettings = Pick<ILogStreamOptions, 'connect' | 'initialDelay' | 'maxDelay'>;

/** What the panel needs from JupyterLab around it. */
export interface IRunnerHost {
  /** The folder of the file browser (for "Copy to workspace"), relative to the server root. */
  workspaceFolder(): string;
  /** Show a folder of the server's contents in the file browser. */
  reveal(path: string): Promise<void>;
}

export interface IShownRunOptions {
  maxLogLines?: number;
  /** By default, the browser's `WebSocket` and `LogStream`'s back-off. */
  stream?: StreamSettings;
  /** Say a failure in the panel's alert. */
  onError: (message: string) => void;
  /** The run ended: the list of runs is worth reloading. */
  onEnded: () => void;
}

export class ShownRun {
  constructor(
    readonly api: RunnerApi,
    readonly host: IRunnerHost,
    options: IShownRunOptions
  ) {
    this.log = new LogModel({ maxLines: options.maxLogLines });
    this._streamSettings = options.stream ?? {};
    this._onError = options.onError;
    this._onEnded = options.onEnded;
  }

  /** The log of the run on show, fed by the stream. */
  log: LogModel;
  run: IRunRecord | null = null;
  connection: ConnectionState = 'stopped';
  connectionReason = '';
  /** The files of OUTPUT_FOLDER, once listed. */
  outputs: IOutputFile[] | null = null;
  /** The files the program wrote beside its code (in its project folder), once listed. */
  projectFiles: IOutputFile[] | null = null;
  /** The folder of the zip and of copies that holds `projectFiles`. */
  projectZipFolder = 'project';
  outputsError: string | null = null;
  copied: ICopyResult | null = null;

  /** Any change of what is shown, except log text. */
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

  dispose(): void {
    this._stream?.stop();
    Signal.clearData(this);
  }

  setMaxLogLines(maxLines: number): void {
    if (maxLines !== this.log.maxLines) {
      this.log = new LogModel({ maxLines });
      if (this.run) {
        this.show(this.run); // follow it again into the new log, from its tail
      }
    }
  }

  /**
   * Show a run (from the history, or after a reload) and follow its log. `quietIfGone`: a
   * run that no longer exists is forgotten without a word (the one remembered from last time).
   */
  async open(runId: string, options: { quietIfGone?: boolean } = {}): Promise<void> {
    const request = ++this._openRequest; // a later open (another click) wins
    try {
      const record = await this.api.getRun(runId);
      if (request === this._openRequest) {
        this.show(record);
      }
    } catch (error) {
      if (request !== this._openRequest) {
        return;
      }
      if (error instanceof ApiError && error.status === 404) {
        if (this.run?.id === runId) {
          this.clear();
        }
        if (options.quietIfGone) {
          if (this.run === null) {
            this._runChanged.emit(null); // forget it
          }
        } else {
          this._onError(`The run ${runId} no longer exists.`);
        }
      } else {
        this._onError(messageOf(error));
      }
    }
  }

  /** Show a run whose record is at hand (just started, say) and follow its log. */
  show(record: IRunRecord): void {
    this._openRequest += 1; // an older open() still loading must not replace this one
    this._stream?.stop();
    this.run = record;
    this.outputs = null;
    this.projectFiles = null;
    this.outputsError = null;
    this.copied = null;
    this.log.clear();
    this._logChanged.emit();
    this._runChanged.emit(record.id);
    this._follow(record.id);
    this._emit();
  }

  /** Reconnect the log stream now rather than after its back-off (the network is back). */
  reconnectNow(): void {
    this._stream?.retryNow();
  }

  /** Stop showing the run. */
  close(): void {
    this._openRequest += 1; // a run still loading is not shown either
    this.clear();
  }

  /** Stop showing the run on show (without cancelling an `open()` under way). */
  clear(): void {
    this._stream?.stop();
    this._stream = null;
    this.run = null;
    this.outputs = null;
    this.projectFiles = null;
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
      this._onError(messageOf(error));
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
      this._onError(messageOf(error));
    }
  }

  /** List the outputs of a run, if it is still the one on show. */
  async loadOutputs(runId: string | undefined = this.run?.id): Promise<void> {
    if (!runId) {
      return;
    }
    try {
      const listing = await listRunOutputs(this.api, runId);
      if (this.run?.id === runId) {
        this.outputs = listing.files;
        this.projectFiles = listing.project_files;
        this.projectZipFolder = listing.project_zip_folder;
        this.outputsError = null;
      }
    } catch (error) {
      if (this.run?.id === runId) {
        this.outputsError = messageOf(error);
      }
    }
    this._emit();
  }

  /** The list of runs says the run on show ended while its stream was away: show that. */
  updateFrom(runs: readonly IRunRecord[]): void {
    const listed = this.run && runs.find(run => run.id === this.run?.id);
    if (
      listed &&
      this.run &&
      !isLive(listed.status) &&
      isLive(this.run.status) &&
      this.connection !== 'open'
    ) {
      this._merge(listed);
      void this.loadOutputs(listed.id);
    }
  }

  /** Follow a run's log from its tail into `log`; the connection state is kept up to date. */
  private _follow(runId: string): void {
    let first = true;
    const stream = new LogStream({
      ...this._streamSettings,
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
          return; // a stream being replaced (its 'stopped') or replaced already
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
    this._stream = stream; // before start(): its first report must not be taken as stale
    stream.start(0, TAIL_BYTES);
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
        this.clear();
        this._onError(`The run ${runId} was deleted.`);
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
    this._onEnded();
  }

  private _emit(): void {
    this._changed.emit();
  }

  private readonly _streamSettings: StreamSettings;
  private readonly _onError: (message: string) => void;
  private readonly _onEnded: () => void;
  private _stream: LogStream | null = null;
  private _openRequest = 0;
  private _changed = new Signal<this, void>(this);
  private _logChanged = new Signal<this, void>(this);
  private _runChanged = new Signal<this, string | null>(this);
}
