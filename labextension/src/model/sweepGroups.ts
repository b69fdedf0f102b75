/**
 * The history as the panel lists it: single runs, and the runs of a sweep gathered under one
 * entry that summarises them. A sweep is read from its runs (each record names its `sweep` and
 * its `params`), so it needs nothing but the runs list; pure logic, no DOM.
 */

import { isLive } from '../util/format';
import { IRunRecord } from '../util/runnerApi';

/** How a sweep's runs stand: ended well, ended otherwise, going on, waiting for their turn. */
export interface ISweepCounts {
  succeeded: number;
  /** ended without succeeding, and not by a cancel: failed, timed out, error */
  failed: number;
  /** stopped by a cancel (before or after they started) */
  cancelled: number;
  /** preparing their environment or running */
  running: number;
  queued: number;
}

/** The runs of one sweep, as one entry of the history. */
export interface ISweepGroup {
  kind: 'sweep';
  /** the sweep's id */
  id: string;
  /** the project's name, as its runs carry it */
  name: string;
  /** its runs in the order they were submitted, which is the order of the combinations */
  runs: IRunRecord[];
  counts: ISweepCounts;
  /** 0 to 1: ended runs count whole, running ones by the progress they report */
  progress: number;
  /** one status for the whole: live while any run is, else the runs' common end or `failed` */
  status: string;
  /** when the first run was created */
  created: number;
  /** from the first start to the last end, once every run has ended */
  duration: number | null;
}

/** A run of its own, as one entry of the history. */
export interface ISingleRun {
  kind: 'run';
  run: IRunRecord;
}

export type HistoryEntry = ISingleRun | ISweepGroup;

/**
 * The runs (newest first) as history entries: a sweep takes the place of its newest run, so
 * the list stays newest first; runs without a sweep are left as they are.
 */
export function groupHistory(runs: readonly IRunRecord[]): HistoryEntry[] {
  const entries: (ISingleRun | { kind: 'pending'; id: string })[] = [];
  const members = new Map<string, IRunRecord[]>();
  for (const run of runs) {
    const sweep = run.sweep;
    if (!sweep) {
      entries.push({ kind: 'run', run });
      continue;
    }
    const known = members.get(sweep);
    if (known) {
      known.push(run);
    } else {
      members.set(sweep, [run]);
      entries.push({ kind: 'pending', id: sweep });
    }
  }
  return entries.map(entry =>
    entry.kind === 'pending' ? summarise(entry.id, members.get(entry.id) ?? []) : entry
  );
}

/** The summary of one sweep's runs (at least one). */
export function summarise(id: string, runs: readonly IRunRecord[]): ISweepGroup {
  const ordered = [...runs].sort((a, b) => a.created - b.created); // stable for equal times
  const counts = countStatuses(ordered);
  return {
    kind: 'sweep',
    id,
    name: ordered[0]?.name ?? id,
    runs: ordered,
    counts,
    progress: overallProgress(ordered),
    status: overallStatus(ordered, counts),
    created: ordered.length ? Math.min(...ordered.map(run => run.created)) : 0,
    duration: overallDuration(ordered, counts)
  };
}

function countStatuses(runs: readonly IRunRecord[]): ISweepCounts {
  const counts: ISweepCounts = { succeeded: 0, failed: 0, cancelled: 0, running: 0, queued: 0 };
  for (const run of runs) {
    if (run.status === 'succeeded') {
      counts.succeeded += 1;
    } else if (run.status === 'cancelled') {
      counts.cancelled += 1;
    } else if (run.status === 'queued') {
      counts.queued += 1;
    } else if (isLive(run.status)) {
      counts.running += 1;
    } else {
      counts.failed += 1;
    }
  }
  return counts;
}

function overallProgress(runs: readonly IRunRecord[]): number {
  if (runs.length === 0) {
    return 0;
  }
  let done = 0;
  for (const run of runs) {
    if (!isLive(run.status)) {
      done += 1;
    } else if (typeof run.progress === 'number' && Number.isFinite(run.progress)) {
      done += Math.min(1, Math.max(0, run.progress));
    }
  }
  return done / runs.length;
}

function overallStatus(runs: readonly IRunRecord[], counts: ISweepCounts): string {
  if (counts.running > 0) {
    return 'running';
  }
  if (counts.queued > 0) {
    // some ended, some wait: the sweep as a whole is under way
    return counts.queued === runs.length ? 'queued' : 'running';
  }
  const ends = new Set(runs.map(run => run.status));
  if (ends.size === 1) {
    return runs[0].status;
  }
  return counts.failed + counts.cancelled > 0 ? 'failed' : 'succeeded';
}

function overallDuration(runs: readonly IRunRecord[], counts: ISweepCounts): number | null {
  if (runs.length === 0 || counts.running + counts.queued > 0) {
    return null;
  }
  const starts = runs.map(run => run.started).filter((t): t is number => t !== null);
  const ends = runs.map(run => run.finished).filter((t): t is number => t !== null);
  if (starts.length === 0 || ends.length === 0) {
    return null;
  }
  return Math.max(...ends) - Math.min(...starts);
}

/** A combination as people write it: `a=1, b=x`, in the order of the sweep's parameters. */
export function paramsLabel(params: Readonly<Record<string, string>> | null | undefined): string {
  if (!params) {
    return '';
  }
  return Object.entries(params)
    .map(([name, value]) => `${name}=${value}`)
    .join(', ');
}

/** `4 runs: 2 succeeded, 1 failed, 1 running`, naming only the states some run is in. */
export function countsLabel(group: ISweepGroup): string {
  const { counts } = group;
  const parts = [
    counts.succeeded ? `${counts.succeeded} succeeded` : '',
    counts.failed ? `${counts.failed} failed` : '',
    counts.cancelled ? `${counts.cancelled} cancelled` : '',
    counts.running ? `${counts.running} running` : '',
    counts.queued ? `${counts.queued} queued` : ''
  ].filter(Boolean);
  const total = `${group.runs.length} run${group.runs.length === 1 ? '' : 's'}`;
  return parts.length ? `${total}: ${parts.join(', ')}` : total;
}
