/**
 * The list of runs the panel shows: the newest first, from every face (panel, `%pyrunner`,
 * the CLI), paged, refreshed on demand. No DOM here.
 */

import { ISignal, Signal } from '@lumino/signaling';

import { IRunRecord, RunnerApi } from '../util/runnerApi';

const PAGE = 30;

export class RunHistory {
  constructor(private readonly _api: RunnerApi) {}

  runs: IRunRecord[] = [];
  /** How many runs the store holds (more than `runs` when older pages are not loaded). */
  total = 0;
  /** Why the last request failed, if it did. */
  error: string | null = null;

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Reload the newest runs, as many as are shown (at least a page); null if it failed. */
  async refresh(): Promise<IRunRecord[] | null> {
    const request = ++this._request;
    try {
      const page = await this._api.listRuns(Math.max(PAGE, this.runs.length), 0);
      if (request !== this._request) {
        return null; // an older page must not replace a newer one
      }
      this.runs = page.runs;
      this.total = page.total;
      this.error = null;
      return page.runs;
    } catch (error) {
      this.error = (error as Error).message ?? String(error);
      return null;
    } finally {
      this._changed.emit();
    }
  }

  /** Add the next page of older runs. */
  async loadMore(): Promise<void> {
    const request = ++this._request;
    try {
      const page = await this._api.listRuns(PAGE, this.runs.length);
      if (request !== this._request) {
        return;
      }
      const known = new Set(this.runs.map(run => run.id));
      this.runs = [...this.runs, ...page.runs.filter(run => !known.has(run.id))];
      this.total = page.total;
    } catch (error) {
      this.error = (error as Error).message ?? String(error);
    } finally {
      this._changed.emit();
    }
  }

  /** Delete a run and its files on the server (errors are thrown to the caller). */
  async remove(runId: string): Promise<void> {
    await this._api.deleteRun(runId);
    this.runs = this.runs.filter(run => run.id !== runId);
    this.total = Math.max(0, this.total - 1);
    this._changed.emit();
  }

  dispose(): void {
    Signal.clearData(this);
  }

  private _request = 0;
  private _changed = new Signal<this, void>(this);
}
