/**
 * Recent runs, from any face (this panel, the `%pyrunner` magic, the CLI): open one to see
 * its log and outputs, or delete it.
 */

import { Dialog, showDialog } from '@jupyterlab/apputils';
import { deleteIcon, refreshIcon } from '@jupyterlab/ui-components';
import React from 'react';

import { formatDuration, formatTime, isLive } from '../util/format';
import { IRunRecord } from '../util/runnerApi';
import { RunnerModel } from '../model/runnerModel';
import { StatusBadge } from './statusBadge';

export function HistoryList({ model }: { model: RunnerModel }): JSX.Element {
  const history = model.history;
  return (
    <section className="jp-PyRunner-section jp-PyRunner-history" aria-label="Runs">
      <div className="jp-PyRunner-row">
        <h3>Runs</h3>
        <button
          className="jp-PyRunner-iconButton"
          title="Refresh"
          aria-label="Refresh the runs"
          onClick={() => void model.refreshHistory()}
        >
          <refreshIcon.react tag="span" />
        </button>
      </div>
      {history.error && <p className="jp-PyRunner-error">{history.error}</p>}
      {history.runs.length === 0 && !history.error ? (
        <p className="jp-PyRunner-muted">No runs yet.</p>
      ) : (
        <ul className="jp-PyRunner-runList">
          {history.runs.map(run => (
            <HistoryRow key={run.id} model={model} run={run} />
          ))}
        </ul>
      )}
      {history.runs.length < history.total && (
        <button className="jp-PyRunner-linkButton" onClick={() => void history.loadMore()}>
          Show older runs ({history.total - history.runs.length} more)
        </button>
      )}
    </section>
  );
}

/** One run: open it (its status, name, when and how long), or delete it once it has ended. */
function HistoryRow({ model, run }: { model: RunnerModel; run: IRunRecord }): JSX.Element {
  return (
    <li
      aria-current={model.run?.id === run.id ? 'true' : undefined}
      className={model.run?.id === run.id ? 'jp-mod-selected' : ''}
      data-run-id={run.id}
    >
      <button
        className="jp-PyRunner-runItem"
        onClick={() => void model.open(run.id)}
        title={`Open ${run.name} (${run.id})`}
      >
        <StatusBadge status={run.status} />
        <span className="jp-PyRunner-runItemName">{run.name}</span>
        <span className="jp-PyRunner-muted">
          {formatTime(run.created)} · {formatDuration(run.duration)}
        </span>
      </button>
      <button
        className="jp-PyRunner-iconButton"
        title={
          isLive(run.status) ? 'Cancel it first to delete it' : 'Delete this run and its files'
        }
        aria-label={`Delete run ${run.name}`}
        disabled={isLive(run.status)}
        onClick={() => void confirmDelete(model, run.id, run.name)}
      >
        <deleteIcon.react tag="span" />
      </button>
    </li>
  );
}

async function confirmDelete(model: RunnerModel, runId: string, name: string): Promise<void> {
  const result = await showDialog({
    title: 'Delete run',
    body: `Delete the run "${name}" (${runId}) with its log and outputs?`,
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
  });
  if (result.button.accept) {
    await model.deleteRun(runId);
  }
}
