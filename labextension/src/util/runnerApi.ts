/**
 * The server extension's REST API (`/pyrunner/api`), typed. Errors become `ApiError`s carrying
 * the server's sentence for the user.
 */

import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { IOutputFile } from './outputTree';

export const API_PATH = 'pyrunner/api';

/** The parts of a run record the panel uses (the server sends more). */
export interface IRunRecord {
  id: string;
  name: string;
  status: string;
  created: number;
  started: number | null;
  finished: number | null;
  duration: number | null;
  exit_code: number | null;
  progress: number | null;
  message: string | null;
  error_details: string | null;
  entry: string | null;
  requirements: string[];
  requirements_source: string | null;
  queue_position: number | null;
  warnings?: string[];
  /** the sweep this run is one combination of (its id), and that combination */
  sweep?: string | null;
  params?: Record<string, string> | null;
  /** on a Dask cluster: the worker that ran it (its address) and the cluster's dashboard */
  worker?: string | null;
  dashboard?: string | null;
  spec: { args: string[]; timeout: number | null; source: string; [key: string]: unknown };
}

export interface IRunList {
  runs: IRunRecord[];
  total: number;
  limit: number;
  offset: number;
}

export interface IUpload {
  upload_id: string;
  filename: string;
  size: number;
  sha256: string;
}

export interface IStartRequest {
  upload_id?: string;
  path?: string;
  args?: string[];
  inputs?: string[];
  timeout?: number;
  /** where the project and inputs go: ports (`input_1`..`input_5`, the default) or flat */
  layout?: 'ports' | 'flat';
}

/** A sweep as `GET /sweeps/{id}` gives it (the parts the panel may use). */
export interface ISweep {
  id: string;
  name: string;
  params: Record<string, string[]>;
  /** running while a run has not ended; then succeeded, failed or cancelled */
  status: string;
  /** how many runs are in each status */
  counts: Record<string, number>;
  runs: { id: string; params: Record<string, string>; status: string }[];
}

export interface ICopyResult {
  path: string;
  files: number;
  size: number;
}

/** `runs/<id>` or `runs/<id>/<rest>`, the id encoded for a URL. */
function runPath(runId: string, rest = ''): string {
  return `runs/${encodeURIComponent(runId)}${rest ? `/${rest}` : ''}`;
}

/** The API path of one output file, each part of its path encoded. */
function outputPath(runId: string, path: string): string {
  return runPath(runId, `outputs/${path.split('/').map(encodeURIComponent).join('/')}`);
}

/** A failed request: `message` is written for the user. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export class RunnerApi {
  constructor(readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()) {}

  /** The absolute URL of an API path, for requests made with `ServerConnection`. */
  url(path: string, query: Record<string, string> = {}): string {
    const base = URLExt.join(this.settings.baseUrl, API_PATH, path);
    const search = new URLSearchParams(query).toString();
    return search ? `${base}?${search}` : base;
  }

  /**
   * The URL of a link, an image or a download, which the browser fetches by itself: like
   * JupyterLab's own WebSockets, it carries the token where cookies cannot be relied on.
   */
  linkUrl(path: string, query: Record<string, string> = {}): string {
    return this.url(path, { ...query, ...this._tokenQuery() });
  }

  /** The WebSocket URL that streams a run's log from `offset` (or its last `tail` bytes). */
  streamUrl(runId: string, offset: number, tail?: number): string {
    const query: Record<string, string> =
      tail === undefined ? { offset: String(offset) } : { tail: String(tail) };
    Object.assign(query, this._tokenQuery());
    const base = URLExt.join(
      this.settings.wsUrl,
      API_PATH,
      'runs',
      encodeURIComponent(runId),
      'stream'
    );
    return `${base}?${new URLSearchParams(query).toString()}`;
  }

  private _tokenQuery(): Record<string, string> {
    const { token, appendToken } = this.settings;
    return token && appendToken ? { token } : {};
  }

  listRuns(limit = 50, offset = 0): Promise<IRunList> {
    return this._json('runs', { method: 'GET' }, { limit: String(limit), offset: String(offset) });
  }

  getRun(runId: string): Promise<IRunRecord> {
    return this._json(runPath(runId), { method: 'GET' });
  }

  startRun(request: IStartRequest): Promise<IRunRecord> {
    return this._json('runs', { method: 'POST', body: JSON.stringify(request) });
  }

  cancelRun(runId: string): Promise<IRunRecord> {
    return this._json(runPath(runId, 'cancel'), { method: 'POST' });
  }

  /**
   * Stop every run of a sweep that has not ended (queued ones at once); the sweep as it then
   * stands. A sweep whose runs have all ended is refused (409).
   */
  cancelSweep(sweepId: string): Promise<ISweep> {
    return this._json(`sweeps/${encodeURIComponent(sweepId)}/cancel`, { method: 'POST' });
  }

  async deleteRun(runId: string): Promise<void> {
    await this._request(runPath(runId), { method: 'DELETE' });
  }

  listOutputs(runId: string): Promise<{ files: IOutputFile[]; total_size: number }> {
    return this._json(runPath(runId, 'outputs'), { method: 'GET' });
  }

  copyOutputs(runId: string, path: string): Promise<ICopyResult> {
    return this._json(runPath(runId, 'copy'), {
      method: 'POST',
      body: JSON.stringify({ path })
    });
  }

  /** The URL of one output file (inline, or as a download). */
  outputUrl(runId: string, path: string, download = false): string {
    return this.linkUrl(outputPath(runId, path), download ? { download: '1' } : {});
  }

  outputsZipUrl(runId: string): string {
    return this.linkUrl(runPath(runId, 'outputs.zip'));
  }

  logTextUrl(runId: string): string {
    return this.linkUrl(runPath(runId, 'log.txt'));
  }

  /**
   * The first `limit` bytes of an output file as text (previews never load a whole file);
   * `cut` says whether the file was longer. `section` `project` names a file written beside
   * the code rather than one of OUTPUT_FOLDER.
   */
  async outputText(
    runId: string,
    path: string,
    limit = 256 * 1024,
    section: 'outputs' | 'project' = 'outputs'
  ): Promise<{ text: string; cut: boolean }> {
    const query: Record<string, string> = section === 'project' ? { section } : {};
    const response = await this._request(outputPath(runId, path), { method: 'GET' }, query);
    return readBeginning(response, limit);
  }

  private async _json<T>(
    path: string,
    init: RequestInit,
    query: Record<string, string> = {}
  ): Promise<T> {
    const response = await this._request(path, init, query);
    return (await response.json()) as T;
  }

  private async _request(
    path: string,
    init: RequestInit,
    query: Record<string, string> = {}
  ): Promise<Response> {
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(this.url(path, query), init, this.settings);
    } catch (error) {
      throw new ApiError(`The server is unreachable (${(error as Error).message ?? error}).`, 0);
    }
    if (!response.ok) {
      throw new ApiError(await errorMessage(response), response.status);
    }
    return response;
  }
}

/** The server's JSON `message`, or a sentence made from the status. */
export async function errorMessage(response: Response): Promise<string> {
  const isJson = (response.headers.get('Content-Type') ?? '').includes('json');
  try {
    const data = (isJson ? await response.json() : {}) as { message?: string };
    if (data.message) {
      return data.message;
    }
  } catch {
    // not JSON: fall through
  }
  if (response.status === 403) {
    return 'Not allowed: you are not authorized to use Python Runner on this server.';
  }
  if (response.status === 404 && !isJson) {
    return 'Not found: is the jupyter-pyrunner server extension enabled?';
  }
  return `The server answered ${response.status} ${response.statusText}`.trim() + '.';
}

/** The first `limit` bytes of a response body, decoded; the rest is not downloaded. */
export async function readBeginning(
  response: Response,
  limit: number
): Promise<{ text: string; cut: boolean }> {
  const reader = response.body?.getReader();
  if (!reader) {
    const text = await response.text();
    return { text: text.slice(0, limit), cut: text.length > limit };
  }
  const parts: Uint8Array[] = [];
  let size = 0;
  while (size < limit) {
    const { done, value } = await reader.read();
    if (done) {
      break;
    }
    parts.push(value);
    size += value.length;
  }
  let cut = size > limit;
  if (size >= limit) {
    cut = cut || !(await reader.read()).done;
    await reader.cancel();
  }
  const bytes = new Uint8Array(Math.min(size, limit));
  let at = 0;
  for (const part of parts) {
    const take = part.subarray(0, Math.min(part.length, bytes.length - at));
    bytes.set(take, at);
    at += take.length;
  }
  return { text: new TextDecoder().decode(bytes), cut };
}
