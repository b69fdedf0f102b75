/**
 * The run on show: status, elapsed time, progress, the live log and, once it has ended,
 * its exit code, duration and outputs.
 */

import { closeIcon, downloadIcon, launchIcon, stopIcon } from '@jupyterlab/ui-components';
import React from 'react';

import { dashboardHref } from '../util/dashboardLink';
import { formatDuration, isLive } from '../util/format';
import { IRunRecord } from '../util/runnerApi';
import { RunnerModel } from '../model/runnerModel';
import { paramsLabel } from '../model/sweepGroups';
import { LogPane } from './logPane';
import { OutputsBrowser } from './outputsBrowser';
import { StatusBadge } from './statusBadge';
import { useNow } from './useNow';

export function RunView({ model }: { model: RunnerModel }): JSX.Element | null {
  const run = model.run;
  const live = run ? isLive(run.status) : false;
  const now = useNow(live); // a hook: called before the early return, on every render
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
      <RunHeader run={run} onClose={() => model.close()} />
      <RunFacts run={run} live={live} elapsed={elapsed} />
      {(live || progress !== null) && <RunProgress progress={progress} />}
      <RunMessage run={run} live={live} />
      {model.connection === 'reconnecting' && <Reconnecting reason={model.connectionReason} />}
      <RunActions model={model} run={run} live={live} />
      <LogPane model={model} />
      {!live && <OutputsBrowser model={model} />}
    </section>
  );
}

/** Status, name and the button that stops showing the run. */
function RunHeader({ run, onClose }: { run: IRunRecord; onClose: () => void }): JSX.Element {
  return (
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
        onClick={onClose}
      >
        <closeIcon.react tag="span" />
      </button>
    </div>
  );
}

/** Elapsed time (live) or duration and exit code (ended); the place in the queue. */
function RunFacts(props: { run: IRunRecord; live: boolean; elapsed: number | null }): JSX.Element {
  const { run, live, elapsed } = props;
  return (
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
      <WhereFacts run={run} />
    </dl>
  );
}

/** Which sweep and combination the run is, the worker it ran on and the cluster's dashboard. */
function WhereFacts({ run }: { run: IRunRecord }): JSX.Element {
  const params = paramsLabel(run.params);
  return (
    <>
      {run.sweep && (
        <>
          <dt>Sweep</dt>
          <dd className="jp-PyRunner-sweepFact">
            {run.sweep}
            {params && ` · ${params}`}
          </dd>
        </>
      )}
      {run.worker && (
        <>
          <dt>Worker</dt>
          <dd className="jp-PyRunner-worker">{run.worker}</dd>
        </>
      )}
      {dashboardHref(run.dashboard) && (
        <>
          <dt>Dashboard</dt>
          <dd>
            <a
              className="jp-PyRunner-link jp-PyRunner-dashboard"
              href={dashboardHref(run.dashboard) ?? undefined}
              target="_blank"
              rel="noopener noreferrer"
              title={`Open the Dask dashboard (${run.dashboard}) in a new tab`}
            >
              <launchIcon.react tag="span" /> Dask dashboard
            </a>
          </dd>
        </>
      )}
    </>
  );
}

/** The progress the program reports (0 to 1), or an indeterminate bar while it says none. */
function RunProgress({ progress }: { progress: number | null }): JSX.Element {
  return (
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
  );
}

/** What the run last said, and why it failed once it has ended. */
function RunMessage({ run, live }: { run: IRunRecord; live: boolean }): JSX.Element {
  return (
    <>
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
    </>
  );
}

function Reconnecting({ reason }: { reason: string }): JSX.Element {
  return (
    <p className="jp-PyRunner-muted jp-PyRunner-reconnecting" role="status">
      Connection lost; reconnecting… {reason}
    </p>
  );
}

/** Cancel (while live) and the full log as a download. */
function RunActions(props: { model: RunnerModel; run: IRunRecord; live: boolean }): JSX.Element {
  const { model, run, live } = props;
  return (
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
  );
}
