/**
 * The upload under way: which file, a progress bar, bytes and speed, and Stop.
 */

import React from 'react';

import { formatBytes, formatSpeed } from '../util/format';
import { IUploadState } from '../model/runForm';

export function UploadProgress(props: { upload: IUploadState; onStop: () => void }): JSX.Element {
  const { upload, onStop } = props;
  return (
    <div className="jp-PyRunner-upload" role="group" aria-label="Upload">
      <div className="jp-PyRunner-row">
        <span>Uploading {upload.name}</span>
        <button className="jp-PyRunner-linkButton" onClick={onStop}>
          Stop
        </button>
      </div>
      <progress
        max={upload.total || 1}
        value={upload.loaded}
        aria-label={`Upload of ${upload.name}`}
      />
      <span className="jp-PyRunner-muted jp-PyRunner-uploadFigures">
        {formatBytes(upload.loaded)} of {formatBytes(upload.total)} · {formatSpeed(upload.speed)}
      </span>
    </div>
  );
}
