/**
 * The run on show: status, elapsed time, progress, the live log and, once it has ended,
 * its exit code, duration and outputs.
 */

import { closeIcon, downloadIcon, stopIcon } from '@jupyterlab/ui-components';
import React, { useEffect, useRef, useState } from 'react';

import { formatDuration, isLive, statusLabel } from './format';
import { LogView } from './logview';
import { RunnerModel } from './model';
import { OutputsBrowser } from './outputs';
import { useNow } from './usemodel';

export function StatusBadge({ status }: { status: string }): JSX.Element {
  return (
    <span className={`jp-PyRunner-badge jp-PyRunner-status-${status}`}>{statusLabel(status)}</span>
  );
}

export function RunView({ model }: { model: RunnerModel }): JSX.Element | null {
  const run = model.run;
  const live = run ? isLive(run.status) : false;
  const now = useNow(live);
  if (!run) {
    return null;
  }
  const elapsed = run.started === null ? null : (run.finished ?? now / 1000) - run.started;
  const progress = typeof run.progress === 'number' ? Math.min(1, Math.max(0, run.progress)) : null;
  return (
    <section
      className="jp-PyRunner-section jp-PyRunner-runView"
      aria-label={`Run ${run.name}`}
      data-run-id={run.id}
    >
      <div className="jp-PyRunner-runHeader">
        <span role="status" aria-label={`Status: ${run.status.replace(/_/g, ' ')}`}>
          <StatusBadge status={run.status} />
        </span>
        <span className="jp-PyRunner-runName" title={run.id}>
          {run.name}
        </span>
        <button
          className="jp-PyRunner-iconButton"
          title="Close"
          aria-label="Close this run"
          onClick={() => model.close()}
        >
          <closeIcon.react tag="span" />
        </button>
      </div>
      <dl className="jp-PyRunner-facts">
        <dt>{live ? 'Elapsed' : 'Duration'}</dt>
        <dd className="jp-PyRunner-elapsed">
          {formatDuration(live ? elapsed : (run.duration ?? elapsed))}
        </dd>
        {!live && (
          <>
            <dt>Exit code</dt>
            <dd className="jp-PyRunner-exitCode">{run.exit_code ?? '–'}</dd>
          </>
        )}
        {run.status === 'queued' && run.queue_position !== null && (
          <>
            <dt>Queue</dt>
            <dd>position {run.queue_position}</dd>
          </>
        )}
      </dl>
      {(live || progress !== null) && (
        <div className="jp-PyRunner-progress">
          {progress !== null ? (
            <progress max={1} value={progress} aria-label="Progress" />
          ) : (
            <progress aria-label="Progress" />
          )}
          {progress !== null && (
            <span className="jp-PyRunner-muted">{Math.round(progress * 100)}%</span>
          )}
        </div>
      )}
      {run.message && (
        <p
          role="status"
          className={`jp-PyRunner-message${live || run.status === 'succeeded' ? '' : ' jp-mod-failed'}`}
        >
          {run.message}
        </p>
      )}
      {run.error_details && !live && (
        <details className="jp-PyRunner-details" open>
          <summary>Details</summary>
          <pre>{run.error_details}</pre>
        </details>
      )}
      {model.connection === 'reconnecting' && (
        <p className="jp-PyRunner-muted jp-PyRunner-reconnecting" role="status">
          Connection lost; reconnecting… {model.connectionReason}
        </p>
      )}
      <div className="jp-PyRunner-row jp-PyRunner-actions">
        {live && (
          <button
            className="jp-Button jp-mod-styled jp-mod-warn jp-PyRunner-small"
            onClick={() => void model.cancel()}
          >
            <stopIcon.react tag="span" /> Cancel
          </button>
        )}
        <a
          className="jp-PyRunner-link"
          href={model.api.logTextUrl(run.id)}
          download={`${run.name}-log.txt`}
        >
          <downloadIcon.react tag="span" /> Download full log
        </a>
      </div>
      <LogPane model={model} />
      {!live && <OutputsBrowser model={model} />}
    </section>
  );
}

/** The imperative log view inside React: mounted once, fed by the model's log signal. */
function LogPane({ model }: { model: RunnerModel }): JSX.Element {
  const host = useRef<HTMLDivElement>(null);
  const [following, setFollowing] = useState(true);
  const view = useRef<LogView | null>(null);
  useEffect(() => {
    const logView = new LogView(host.current!);
    logView.onFollowChange = setFollowing;
    logView.setModel(model.log);
    view.current = logView;
    const redraw = (): void => {
      if (logView.model !== model.log) {
        logView.setModel(model.log);
      }
      logView.schedule();
    };
    model.logChanged.connect(redraw);
    return () => {
      model.logChanged.disconnect(redraw);
      logView.dispose();
      view.current = null;
    };
  }, [model]);
  return (
    <div className="jp-PyRunner-logBox">
      <div ref={host} aria-label="Log" />
      {!following && (
        <button
          className="jp-Button jp-mod-styled jp-PyRunner-follow"
          onClick={() => view.current?.follow()}
        >
          Follow the log ↓
        </button>
      )}
    </div>
  );
}
