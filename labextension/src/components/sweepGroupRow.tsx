/**
 * A sweep in the history: one row that sums up its runs (how many, how they stand, the
 * progress of the whole) and opens to list them, each named by its parameters. The run rows
 * themselves are the history's own, passed in as children.
 */

import { caretDownIcon, caretRightIcon } from '@jupyterlab/ui-components';
import React from 'react';

import { formatDuration, formatTime } from '../util/format';
import { countsLabel, ISweepGroup } from '../model/sweepGroups';
import { StatusBadge } from './statusBadge';

export interface ISweepGroupRowProps {
  group: ISweepGroup;
  expanded: boolean;
  onToggle: () => void;
  /** true when the run on show is one of this sweep's */
  holdsShownRun: boolean;
  /** the rows of its runs, shown while expanded */
  children: React.ReactNode;
}

export function SweepGroupRow(props: ISweepGroupRowProps): JSX.Element {
  const { group, expanded, onToggle, holdsShownRun, children } = props;
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
