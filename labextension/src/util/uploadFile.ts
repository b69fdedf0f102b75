/**
 * Uploading a file to `PUT /pyrunner/api/uploads/{name}` with progress (bytes and speed).
 * `fetch` cannot report upload progress, so this uses XMLHttpRequest with the same
 * authentication headers as Jupyter's `ServerConnection`.
 */

import { ServerConnection } from '@jupyterlab/services';

import { ApiError, IUpload, RunnerApi } from './runnerApi';

export interface IUploadProgress {
  loaded: number;
  total: number;
  /** Bytes per second over the last few seconds. */
  speed: number;
}

/** Speed over a sliding window of progress samples. */
export class SpeedMeter {
  constructor(private readonly _window = 3000) {}

  /** Record `loaded` bytes at time `now` (ms); returns bytes per second. */
  sample(loaded: number, now: number): number {
    this._samples.push([now, loaded]);
    while (this._samples.length > 2 && now - this._samples[0][0] > this._window) {
      this._samples.shift();
    }
    const [t0, b0] = this._samples[0];
    return now > t0 ? ((loaded - b0) * 1000) / (now - t0) : 0;
  }

  private _samples: Array<[number, number]> = [];
}

/**
 * The cookie Jupyter Server checks against the `X-XSRFToken` header. With one cookie name at
 * several paths the server keeps the last one, so the last match is taken, as
 * `ServerConnection` does.
 */
function xsrfToken(): string | undefined {
  let cookie = '';
  try {
    cookie = document.cookie;
  } catch {
    return undefined; // a sandboxed page
  }
  let value: string | undefined;
  for (const part of cookie.split(';')) {
    const trimmed = part.trim();
    if (trimmed.startsWith('_xsrf=')) {
      value = trimmed.slice('_xsrf='.length);
    }
  }
  return value;
}

/** The server's answer to an upload that completed: the upload, or why it was refused. */
function uploadAnswer(xhr: XMLHttpRequest, name: string): IUpload | ApiError {
  if (xhr.status === 201) {
    try {
      return JSON.parse(xhr.responseText) as IUpload;
    } catch {
      return new ApiError(`The upload of "${name}" got an answer that is not JSON.`, xhr.status);
    }
  }
  let message = `The upload failed: the server answered ${xhr.status} ${xhr.statusText}.`;
  try {
    const data = JSON.parse(xhr.responseText) as { message?: string };
    if (data.message) {
      message = data.message;
    }
  } catch {
    // keep the generic sentence
  }
  if (xhr.status === 413 && !/larger|limit/i.test(message)) {
    message = `"${name}" is larger than the server accepts.`;
  }
  return new ApiError(message, xhr.status);
}

/** Upload `file` (its name is kept); resolves with the server's upload id. */
export function uploadFile(
  api: RunnerApi,
  file: Blob,
  name: string,
  onProgress: (progress: IUploadProgress) => void,
  signal?: AbortSignal
): Promise<IUpload> {
  const settings: ServerConnection.ISettings = api.settings;
  return new Promise<IUpload>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const meter = new SpeedMeter();
    xhr.open('PUT', api.url(`uploads/${encodeURIComponent(name)}`));
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    if (settings.token) {
      xhr.setRequestHeader('Authorization', `token ${settings.token}`);
    }
    const xsrf = xsrfToken();
    if (xsrf) {
      xhr.setRequestHeader('X-XSRFToken', xsrf);
    }
    xhr.withCredentials = true;
    xhr.upload.onprogress = event => {
      const total = event.lengthComputable ? event.total : file.size;
      onProgress({
        loaded: event.loaded,
        total,
        speed: meter.sample(event.loaded, performance.now())
      });
    };
    xhr.onload = () => {
      const answer = uploadAnswer(xhr, name);
      if (answer instanceof ApiError) {
        reject(answer);
      } else {
        resolve(answer);
      }
    };
    xhr.onerror = () => {
      reject(new ApiError(`The upload of "${name}" failed: the server is unreachable.`, 0));
    };
    xhr.onabort = () => {
      reject(new ApiError(`The upload of "${name}" was cancelled.`, 0));
    };
    if (signal?.aborted) {
      reject(new ApiError(`The upload of "${name}" was cancelled.`, 0));
      return;
    }
    signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(file);
  });
}
