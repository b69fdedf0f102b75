/**
 * Cancelling a whole sweep from its row in the history: whether anything of it is left to
 * stop, and the request with what must follow it (the history reloaded, a failure shown where
 * the panel shows its failures). Pure logic, no DOM: the row only calls these.
 */

import { isLive } from '../util/format';
import { messageOf } from '../util/messageOf';
import { RunnerApi } from '../util/runnerApi';
import { ISweepGroup } from './sweepGroups';

/**
 * True while some run of the sweep is queued, preparing or running: only then can a cancel
 * stop anything (the server answers 409 for a sweep whose runs have all ended).
 */
export function hasLiveRuns(group: Pick<ISweepGroup, 'runs'>): boolean {
  return group.runs.some(run => isLive(run.status));
}

/** What cancelling a sweep needs of the panel's model (`RunnerModel` has all of it). */
export interface ISweepCancelHost {
  readonly api: Pick<RunnerApi, 'cancelSweep'>;
  refreshHistory(): Promise<void>;
  showError(message: string | null): void;
}

/**
 * Ask the server to stop every run of the sweep that has not ended, then reload the history
 * so that the row shows the runs cancelled. A refusal (the sweep ended meanwhile, or was
 * removed; the server unreachable) is shown in the server's words, and the history is
 * reloaded all the same, since a 409 means that the list on show is behind. Resolves to
 * whether the server took the request.
 */
export async function cancelSweep(host: ISweepCancelHost, sweepId: string): Promise<boolean> {
  let accepted = true;
  try {
    await host.api.cancelSweep(sweepId);
  } catch (error) {
    accepted = false;
    host.showError(messageOf(error));
  }
  await host.refreshHistory();
  return accepted;
}
