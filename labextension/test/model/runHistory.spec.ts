import { describe, expect, it } from 'vitest';

import { ApiError, IRunList } from '../../src/util/runnerApi';
import { RunHistory } from '../../src/model/runHistory';
import { deferred, FakeApi, IDeferred, makeRun } from '../support/fakeApi';

/** A server holding `count` runs, r1 (oldest) to r<count> (newest). */
function serverWith(count: number): FakeApi {
  const api = new FakeApi();
  for (let i = 1; i <= count; i++) {
    api.runs.set(`r${i}`, makeRun(`r${i}`, { status: 'succeeded' }));
  }
  return api;
}

const ids = (history: RunHistory): string[] => history.runs.map(run => run.id);

describe('RunHistory', () => {
  it('loads the newest page of runs, newest first, with how many there are in all', async () => {
    const api = serverWith(45);
    const history = new RunHistory(api);
    const runs = await history.refresh();
    expect(api.calls).toEqual(['listRuns 30 0']);
    expect(history.runs).toHaveLength(30);
    expect(ids(history).slice(0, 2)).toEqual(['r45', 'r44']);
    expect(history.total).toBe(45);
    expect(runs).toBe(history.runs);
  });

  it('adds the next page of older runs after the ones shown', async () => {
    const api = serverWith(45);
    const history = new RunHistory(api);
    await history.refresh();
    await history.loadMore();
    expect(api.calls).toEqual(['listRuns 30 0', 'listRuns 30 30']);
    expect(history.runs).toHaveLength(45);
    expect(ids(history).slice(-1)).toEqual(['r1']);
  });

  it('lists a run only once when new runs shift the pages between two requests', async () => {
    const api = serverWith(31);
    const history = new RunHistory(api);
    await history.refresh(); // r31 … r2
    api.runs.set('r32', makeRun('r32')); // started elsewhere: r2 moves to the next page
    await history.loadMore();
    expect(ids(history)).toHaveLength(31);
    expect(new Set(ids(history)).size).toBe(31);
    expect(ids(history).slice(-2)).toEqual(['r2', 'r1']);
    expect(history.total).toBe(32);
  });

  it('refreshes as many runs as are shown once older pages were loaded', async () => {
    const api = serverWith(70);
    const history = new RunHistory(api);
    await history.refresh();
    await history.loadMore();
    await history.refresh();
    expect(api.calls[2]).toBe('listRuns 60 0');
    expect(history.runs).toHaveLength(60);
  });

  it('keeps the newer answer when an older refresh answers last', async () => {
    const api = serverWith(3);
    const answers: IDeferred<IRunList>[] = [];
    api.listRuns = () => {
      const answer = deferred<IRunList>();
      answers.push(answer);
      return answer.promise;
    };
    const history = new RunHistory(api);
    const older = history.refresh();
    const newer = history.refresh();
    answers[1].resolve({ runs: [makeRun('new')], total: 1, limit: 30, offset: 0 });
    expect(await newer).toEqual([makeRun('new')]);
    answers[0].resolve({ runs: [makeRun('old')], total: 1, limit: 30, offset: 0 });
    expect(await older).toBeNull();
    expect(ids(history)).toEqual(['new']);
  });

  it('keeps the runs listed and says why when a refresh fails; the next one clears it', async () => {
    const api = serverWith(2);
    const history = new RunHistory(api);
    await history.refresh();
    api.failing.set('listRuns', new ApiError('The server is unreachable (offline).', 0));
    expect(await history.refresh()).toBeNull();
    expect(history.error).toBe('The server is unreachable (offline).');
    expect(ids(history)).toEqual(['r2', 'r1']);
    api.failing.clear();
    await history.refresh();
    expect(history.error).toBeNull();
  });

  it('signals a change after each request, whether it worked or not', async () => {
    const api = serverWith(2);
    const history = new RunHistory(api);
    let changes = 0;
    history.changed.connect(() => (changes += 1));
    await history.refresh();
    api.failing.set('listRuns', new Error('down'));
    await history.refresh();
    await history.loadMore();
    expect(changes).toBe(3);
  });

  it('deletes a run on the server, then drops it from the list and the count', async () => {
    const api = serverWith(3);
    const history = new RunHistory(api);
    await history.refresh();
    await history.remove('r2');
    expect(api.calls).toContain('deleteRun r2');
    expect(api.runs.has('r2')).toBe(false);
    expect(ids(history)).toEqual(['r3', 'r1']);
    expect(history.total).toBe(2);
  });

  it('keeps a run listed when the server refuses to delete it, and throws why', async () => {
    const api = serverWith(2);
    const history = new RunHistory(api);
    await history.refresh();
    api.failing.set('deleteRun', new ApiError('The run is still running.', 409));
    await expect(history.remove('r2')).rejects.toThrow('The run is still running.');
    expect(ids(history)).toEqual(['r2', 'r1']);
    expect(history.total).toBe(2);
  });
});
