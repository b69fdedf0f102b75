/**
 * What is about to run: the project, input files, arguments, timeout and input layout, and the
 * upload that places picked files on the server before the run is asked for. No DOM here.
 */

import { ISignal, Signal } from '@lumino/signaling';

import { IRunRecord, IStartRequest, RunnerApi } from '../util/runnerApi';
import { splitArgs } from '../util/splitArgs';
import { IUploadProgress, uploadFile } from '../util/uploadFile';

/** A project or input file: picked in the browser (uploaded first) or a path on the server. */
export type Source =
  | { kind: 'file'; name: string; file: Blob; size: number }
  | { kind: 'path'; name: string; path: string };

export interface IUploadState extends IUploadProgress {
  name: string;
}

/**
 * Where the project and the inputs are put: `ports` (the project in INPUT_1, the inputs in
 * INPUT_2..INPUT_5) or `flat` (all directly in INPUT_FOLDER, as oSparc integration 1.0.0).
 */
export type Layout = 'ports' | 'flat';

/** The layouts the form offers, the default first. */
export const LAYOUTS: readonly Layout[] = ['ports', 'flat'];

/** Sends a picked file to the server (`uploadFile`; tests give a fake without XMLHttpRequest). */
export type Uploader = typeof uploadFile;

export class RunForm {
  constructor(
    private readonly _api: RunnerApi,
    private readonly _upload: Uploader = uploadFile
  ) {}

  source: Source | null = null;
  inputs: Source[] = [];
  /** Arguments as typed (split like a shell does when the run is asked for). */
  args = '';
  /** Seconds as typed; empty for none. */
  timeout = '';
  /** The input layout; the server's default (`ports`) is not sent. */
  layout: Layout = 'ports';
  /** The upload going on, if any. */
  upload: IUploadState | null = null;
  /** True from Run until the server has the run (or said why not). */
  starting = false;

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  setSource(source: Source | null): void {
    this.source = source;
    this._changed.emit();
  }

  addInputs(inputs: Source[]): void {
    this.inputs = [...this.inputs, ...inputs];
    this._changed.emit();
  }

  removeInput(index: number): void {
    this.inputs = this.inputs.filter((_, i) => i !== index);
    this._changed.emit();
  }

  setArgs(args: string): void {
    this.args = args;
    this._changed.emit();
  }

  setTimeout(timeout: string): void {
    this.timeout = timeout;
    this._changed.emit();
  }

  setLayout(layout: Layout): void {
    this.layout = layout;
    this._changed.emit();
  }

  /** Stop an upload in progress (the run is then not asked for). */
  abortUpload(): void {
    this._abort?.abort();
  }

  /**
   * Check the options, upload what needs uploading, and ask the server for the run. Throws an
   * `Error` whose message is for the user (invalid options, failed upload, refused project).
   */
  async submit(): Promise<IRunRecord> {
    const project = this.source;
    if (!project) {
      throw new Error('Choose a project first.');
    }
    if (this.starting) {
      throw new Error('Another run is being started: wait for its upload to finish.');
    }
    const inputs = [...this.inputs];
    const request: IStartRequest = {};
    const args = splitArgs(this.args);
    if (args === null) {
      throw new Error('The arguments have an unclosed quote.');
    }
    if (args.length) {
      request.args = args;
    }
    if (this.timeout.trim()) {
      const timeout = Number(this.timeout);
      if (!Number.isFinite(timeout) || timeout <= 0) {
        throw new Error('The timeout is a number of seconds, more than 0.');
      }
      request.timeout = timeout;
    }
    if (this.layout !== 'ports') {
      request.layout = this.layout;
    }
    this.starting = true;
    this._abort = new AbortController();
    this._changed.emit();
    try {
      const placed = await this._place(project);
      if (project.kind === 'file') {
        request.upload_id = placed;
      } else {
        request.path = placed;
      }
      const placedInputs: string[] = [];
      for (const input of inputs) {
        placedInputs.push(await this._place(input));
      }
      if (placedInputs.length) {
        request.inputs = placedInputs;
      }
      return await this._api.startRun(request);
    } finally {
      this.starting = false;
      this.upload = null;
      this._abort = null;
      this._changed.emit();
    }
  }

  dispose(): void {
    this._abort?.abort();
    Signal.clearData(this);
  }

  /** Upload a picked file (resolving to its upload id), or pass a server path on. */
  private async _place(source: Source): Promise<string> {
    if (source.kind === 'path') {
      return source.path;
    }
    this.upload = { name: source.name, loaded: 0, total: source.size, speed: 0 };
    this._changed.emit();
    const done = await this._upload(
      this._api,
      source.file,
      source.name,
      progress => {
        this.upload = { name: source.name, ...progress };
        this._changed.emit();
      },
      this._abort?.signal
    );
    this.upload = null;
    return done.upload_id;
  }

  private _abort: AbortController | null = null;
  private _changed = new Signal<this, void>(this);
}
