/**
 * A stand-in for the server's REST API: `RunnerApi` itself (so URLs, the stream's above all,
 * are built by the real code) with the requests answered from memory. Each test decides what
 * the server holds, and reads back what was asked.
 */

import { ServerConnection } from '@jupyterlab/services';

import { IOutputFile } from '../../src/util/outputTree';
import {
  ApiError,
  ICopyResult,
  IRunList,
  IRunRecord,
  IStartRequest,
  RunnerApi
} from '../../src/util/runnerApi';

/** A run record as the server sends it; `fields` override the defaults. */
export function makeRun(id: string, fields: Partial<IRunRecord> = {}): IRunRecord {
  return {
    id,
    name: `project-${id}`,
    status: 'running',
    created: 1_700_000_000,
    started: 1_700_000_001,
    finished: null,
    duration: null,
    exit_code: null,
    progress: null,
    message: null,
    error_details: null,
    entry: 'main.py',
    requirements: [],
    requirements_source: null,
    queue_position: null,
    spec: { args: [], timeout: null, source: 'upload' },
    ...fields
  };
}

/** A promise settled by the test, to hold a request until the test lets it answer. */
export interface IDeferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

export function deferred<T>(): IDeferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function notFound(runId: string): ApiError {
  return new ApiError(`No run ${runId}.`, 404);
}

export class FakeApi extends RunnerApi {
  /** `wsRoot` is where the stream URLs point: a test WebSocket server, or nowhere. */
  constructor(wsRoot = 'ws://127.0.0.1:9/') {
    super(
      ServerConnection.makeSettings({
        baseUrl: 'http://127.0.0.1:9/',
        wsUrl: wsRoot,
        token: '',
        appendToken: false
      })
    );
  }

  /** The runs the server holds, by id; the newest is the one created last. */
  runs = new Map<string, IRunRecord>();
  /** The output files of ended runs, by run id. */
  outputs = new Map<string, IOutputFile[]>();
  /** Every request, in order, as `"<method> <arguments>"`. */
  calls: string[] = [];
  /** The bodies of `POST runs`. */
  started: IStartRequest[] = [];

  /** Requests whose names are here fail with this error (a server that says no). */
  failing = new Map<string, Error>();

  getRun(runId: string): Promise<IRunRecord> {
    return this._answer(`getRun ${runId}`, () => {
      const run = this.runs.get(runId);
      if (!run) {
        throw notFound(runId);
      }
      return { ...run };
    });
  }

  listRuns(limit = 50, offset = 0): Promise<IRunList> {
    return this._answer(`listRuns ${limit} ${offset}`, () => {
      const newest = [...this.runs.values()].reverse();
      return { runs: newest.slice(offset, offset + limit), total: newest.length, limit, offset };
    });
  }

  startRun(request: IStartRequest): Promise<IRunRecord> {
    return this._answer('startRun', () => {
      this.started.push(request);
      const run = makeRun(`r${this.runs.size + 1}`, { status: 'queued', started: null });
      this.runs.set(run.id, run);
      return { ...run };
    });
  }

  cancelRun(runId: string): Promise<IRunRecord> {
    return this._answer(`cancelRun ${runId}`, () => {
      const run = this.runs.get(runId);
      if (!run) {
        throw notFound(runId);
      }
      run.status = 'cancelled';
      return { ...run };
    });
  }

  deleteRun(runId: string): Promise<void> {
    return this._answer(`deleteRun ${runId}`, () => {
      if (!this.runs.delete(runId)) {
        throw notFound(runId);
      }
    });
  }

  listOutputs(runId: string): Promise<{ files: IOutputFile[]; total_size: number }> {
    return this._answer(`listOutputs ${runId}`, () => {
      const files = this.outputs.get(runId) ?? [];
      return { files, total_size: files.reduce((sum, file) => sum + file.size, 0) };
    });
  }

  copyOutputs(runId: string, path: string): Promise<ICopyResult> {
    return this._answer(`copyOutputs ${runId} ${path}`, () => ({ path, files: 0, size: 0 }));
  }

  /** Record the request, then answer it (as a real request does: later, asynchronously). */
  private async _answer<T>(call: string, answer: () => T): Promise<T> {
    this.calls.push(call);
    await Promise.resolve();
    const failure = this.failing.get(call.split(' ')[0]);
    if (failure) {
      throw failure;
    }
    return answer();
  }
}
