import { describe, expect, it } from 'vitest';

import { cancelSweep, hasLiveRuns, ISweepCancelHost } from '../../src/model/sweepCancel';
import { summarise } from '../../src/model/sweepGroups';
import { ApiError, ISweep } from '../../src/util/runnerApi';
import { makeRun } from '../support/fakeApi';

/** A sweep `sw` whose runs are in `statuses`, one run each. */
function sweepOf(...statuses: string[]) {
  return summarise(
    'sw',
    statuses.map((status, i) => makeRun(`r${i}`, { sweep: 'sw', status, created: i }))
  );
}

describe('hasLiveRuns', () => {
  it.each([['queued'], ['preparing'], ['running']])(
    'is true while one run is %s, whatever the others did',
    status => {
      expect(hasLiveRuns(sweepOf('succeeded', 'failed', status, 'cancelled'))).toBe(true);
    }
  );

  it('is false once every run has ended, however it ended', () => {
    expect(hasLiveRuns(sweepOf('succeeded', 'failed', 'cancelled', 'timed_out', 'error'))).toBe(
      false
    );
    expect(hasLiveRuns(sweepOf('cancelled', 'cancelled'))).toBe(false);
  });

  it('is false for a sweep with no runs loaded', () => {
    expect(hasLiveRuns({ runs: [] })).toBe(false);
  });
});

/** A panel model's part that cancelling uses, recording what it was asked, in order. */
class Host implements ISweepCancelHost {
  constructor(private readonly failure: Error | null = null) {}
  calls: string[] = [];
  errors: (string | null)[] = [];
  readonly api = {
    cancelSweep: async (sweepId: string): Promise<ISweep> => {
      this.calls.push(`cancelSweep ${sweepId}`);
      await Promise.resolve();
      if (this.failure) {
        throw this.failure;
      }
      return { id: sweepId, name: 'p', params: {}, status: 'running', counts: {}, runs: [] };
    }
  };
  async refreshHistory(): Promise<void> {
    this.calls.push('refreshHistory');
  }
  showError(message: string | null): void {
    this.errors.push(message);
  }
}

describe('cancelSweep', () => {
  it('asks the server, then reloads the history, and shows no error', async () => {
    const host = new Host();
    expect(await cancelSweep(host, 'sw-1')).toBe(true);
    expect(host.calls).toEqual(['cancelSweep sw-1', 'refreshHistory']);
    expect(host.errors).toEqual([]);
  });

  it("shows a refusal in the server's words and reloads the history all the same", async () => {
    const host = new Host(new ApiError('sweep sw-1 has already ended', 409));
    expect(await cancelSweep(host, 'sw-1')).toBe(false);
    expect(host.errors).toEqual(['sweep sw-1 has already ended']);
    expect(host.calls).toEqual(['cancelSweep sw-1', 'refreshHistory']);
  });
});
