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
import { cancelSweep } from '../model/sweepCancel';
import { groupHistory, paramsLabel } from '../model/sweepGroups';
import { StatusBadge } from './statusBadge';
import { SweepGroupRow } from './sweepGroupRow';

export function HistoryList({ model }: { model: RunnerModel }): JSX.Element {
  const history = model.history;
  const [expanded, setExpanded] = React.useState<ReadonlySet<string>>(new Set());
  const toggle = (sweepId: string): void =>
    setExpanded(open => {
      const next = new Set(open);
      if (!next.delete(sweepId)) {
        next.add(sweepId);
      }
      return next;
    });
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
          {groupHistory(history.runs).map(entry =>
            entry.kind === 'run' ? (
              <HistoryRow key={entry.run.id} model={model} run={entry.run} />
            ) : (
              <SweepGroupRow
                key={`sweep-${entry.id}`}
                group={entry}
                expanded={expanded.has(entry.id)}
                onToggle={() => toggle(entry.id)}
                onCancel={() => cancelSweep(model, entry.id)}
                holdsShownRun={entry.runs.some(run => run.id === model.run?.id)}
              >
                {entry.runs.map(run => (
                  <HistoryRow
                    key={run.id}
                    model={model}
                    run={run}
                    label={paramsLabel(run.params) || run.name}
                  />
                ))}
              </SweepGroupRow>
            )
          )}
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

/**
 * One run: open it (its status, name, when and how long), or delete it once it has ended.
 * A run of a sweep is labelled by its parameters instead of its name.
 */
function HistoryRow(props: { model: RunnerModel; run: IRunRecord; label?: string }): JSX.Element {
  const { model, run } = props;
  const label = props.label ?? run.name;
  const described = label === run.name ? run.name : `${run.name} (${label})`;
  return (
    <li
      aria-current={model.run?.id === run.id ? 'true' : undefined}
      className={model.run?.id === run.id ? 'jp-mod-selected' : ''}
      data-run-id={run.id}
    >
      <button
        className="jp-PyRunner-runItem"
        onClick={() => void model.open(run.id)}
        title={`Open ${described} (${run.id})`}
      >
        <StatusBadge status={run.status} />
        <span className="jp-PyRunner-runItemName">{label}</span>
        <span className="jp-PyRunner-muted">
          {formatTime(run.created)} · {formatDuration(run.duration)}
        </span>
      </button>
      <button
        className="jp-PyRunner-iconButton"
        title={
          isLive(run.status) ? 'Cancel it first to delete it' : 'Delete this run and its files'
        }
        aria-label={`Delete run ${described}`}
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
