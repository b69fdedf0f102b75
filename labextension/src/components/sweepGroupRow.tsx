/**
 * A sweep in the history: one row that sums up its runs (how many, how they stand, the
 * progress of the whole) and opens to list them, each named by its parameters. The run rows
 * themselves are the history's own, passed in as children. While some run of it has not
 * ended, the row also offers to cancel the whole sweep: an icon button beside the row's toggle,
 * as the bin is beside a run's (never inside it: a button within a button is invalid HTML and
 * unreachable by keyboard); the side bar is narrow, so it shows no text.
 */

import { caretDownIcon, caretRightIcon, stopIcon } from '@jupyterlab/ui-components';
import React from 'react';

import { formatDuration, formatTime } from '../util/format';
import { hasLiveRuns } from '../model/sweepCancel';
import { countsLabel, ISweepGroup } from '../model/sweepGroups';
import { StatusBadge } from './statusBadge';

export interface ISweepGroupRowProps {
  group: ISweepGroup;
  expanded: boolean;
  onToggle: () => void;
  /** true when the run on show is one of this sweep's */
  holdsShownRun: boolean;
  /**
   * Cancel every run of the sweep not yet ended (it reports its own failures); without it
   * the row offers no Cancel.
   */
  onCancel?: () => Promise<unknown>;
  /** the rows of its runs, shown while expanded */
  children: React.ReactNode;
}

export function SweepGroupRow(props: ISweepGroupRowProps): JSX.Element {
  const { group, expanded, onToggle, holdsShownRun, onCancel, children } = props;
  const Caret = expanded ? caretDownIcon : caretRightIcon;
  const percent = Math.round(group.progress * 100);
  const listId = `jp-PyRunner-sweep-${group.id}`;
  return (
    <li
      className={`jp-PyRunner-sweep${holdsShownRun && !expanded ? ' jp-mod-selected' : ''}`}
      data-sweep-id={group.id}
    >
      <button
        className="jp-PyRunner-runItem jp-PyRunner-sweepItem"
        aria-expanded={expanded}
        aria-controls={expanded ? listId : undefined}
        onClick={onToggle}
        title={`${expanded ? 'Hide' : 'Show'} the runs of sweep ${group.id}`}
      >
        <StatusBadge status={group.status} />
        <span className="jp-PyRunner-runItemName">
          <Caret.react tag="span" className="jp-PyRunner-sweepCaret" />
          Sweep {group.name} <span className="jp-PyRunner-muted">{group.id}</span>
        </span>
        <span className="jp-PyRunner-muted jp-PyRunner-sweepCounts">{countsLabel(group)}</span>
        <span className="jp-PyRunner-muted jp-PyRunner-sweepProgress">
          <progress max={1} value={group.progress} aria-label={`Progress of sweep ${group.id}`} />{' '}
          {percent}% · {formatTime(group.created)} · {formatDuration(group.duration)}
        </span>
      </button>
      {onCancel && hasLiveRuns(group) && <CancelSweep sweepId={group.id} onCancel={onCancel} />}
      {expanded && (
        <ul
          id={listId}
          className="jp-PyRunner-runList jp-PyRunner-sweepRuns"
          aria-label={`Runs of sweep ${group.id}`}
        >
          {children}
        </ul>
      )}
    </li>
  );
}

/** The sweep's Cancel, disabled while its request is out (a second click would get a 409). */
function CancelSweep(props: { sweepId: string; onCancel: () => Promise<unknown> }): JSX.Element {
  const { sweepId, onCancel } = props;
  const [pending, setPending] = React.useState(false);
  const mounted = React.useRef(true);
  React.useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);
  const cancel = async (): Promise<void> => {
    setPending(true);
    try {
      await onCancel();
    } finally {
      if (mounted.current) {
        setPending(false);
      }
    }
  };
  return (
    <button
      className="jp-PyRunner-iconButton jp-PyRunner-sweepCancel"
      aria-label={`Cancel sweep ${sweepId}`}
      title={`Cancel sweep ${sweepId}: stop every run of it that has not ended`}
      disabled={pending}
      aria-busy={pending || undefined}
      onClick={() => void cancel()}
    >
      <stopIcon.react tag="span" />
    </button>
  );
}
