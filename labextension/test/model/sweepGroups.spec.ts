import { describe, expect, it } from 'vitest';

import {
  countsLabel,
  groupHistory,
  ISweepGroup,
  paramsLabel,
  summarise
} from '../../src/model/sweepGroups';
import { IRunRecord } from '../../src/util/runnerApi';
import { makeRun } from '../support/fakeApi';

/** A run of sweep `sweep` with the combination `params`, created at `created`. */
function sweepRun(
  id: string,
  sweep: string,
  params: Record<string, string>,
  created: number,
  fields: Partial<IRunRecord> = {}
): IRunRecord {
  return makeRun(id, { sweep, params, created, name: 'proj', status: 'succeeded', ...fields });
}

function onlyGroup(runs: IRunRecord[]): ISweepGroup {
  const entries = groupHistory(runs);
  expect(entries).toHaveLength(1);
  const [entry] = entries;
  if (entry.kind !== 'sweep') {
    throw new Error('expected a sweep');
  }
  return entry;
}

describe('groupHistory', () => {
  it('leaves runs without a sweep as they are, in their order', () => {
    const runs = [makeRun('r3'), makeRun('r2', { sweep: null }), makeRun('r1')];
    const entries = groupHistory(runs);
    expect(entries.map(e => (e.kind === 'run' ? e.run.id : e.id))).toEqual(['r3', 'r2', 'r1']);
    expect(entries.every(e => e.kind === 'run')).toBe(true);
  });

  it("gathers a sweep's runs in one entry, in the place of its newest run", () => {
    // newest first, as the server lists them; another run started between the sweep's runs
    const runs = [
      makeRun('solo-new', { created: 50 }),
      sweepRun('s-b-y', 'sw1', { a: '1', b: 'y' }, 41),
      makeRun('solo-mid', { created: 40.5 }),
      sweepRun('s-a-x', 'sw1', { a: '1', b: 'x' }, 40),
      makeRun('solo-old', { created: 10 })
    ];
    const entries = groupHistory(runs);
    expect(entries.map(e => (e.kind === 'run' ? e.run.id : `sweep:${e.id}`))).toEqual([
      'solo-new',
      'sweep:sw1',
      'solo-mid',
      'solo-old'
    ]);
  });

  it('keeps two sweeps apart', () => {
    const runs = [
      sweepRun('b2', 'swB', { n: '2' }, 21),
      sweepRun('a2', 'swA', { n: '2' }, 12),
      sweepRun('b1', 'swB', { n: '1' }, 20),
      sweepRun('a1', 'swA', { n: '1' }, 11)
    ];
    const groups = groupHistory(runs) as ISweepGroup[];
    expect(groups.map(g => g.id)).toEqual(['swB', 'swA']);
    expect(groups.map(g => g.runs.map(r => r.id))).toEqual([
      ['b1', 'b2'],
      ['a1', 'a2']
    ]);
  });

  it('lists the runs of a sweep in the order they were submitted (the combinations)', () => {
    const group = onlyGroup([
      sweepRun('r4', 'sw', { a: '2', b: 'y' }, 104),
      sweepRun('r3', 'sw', { a: '2', b: 'x' }, 103),
      sweepRun('r2', 'sw', { a: '1', b: 'y' }, 102),
      sweepRun('r1', 'sw', { a: '1', b: 'x' }, 101)
    ]);
    expect(group.runs.map(run => paramsLabel(run.params))).toEqual([
      'a=1, b=x',
      'a=1, b=y',
      'a=2, b=x',
      'a=2, b=y'
    ]);
    expect(group.name).toBe('proj');
    expect(group.created).toBe(101);
  });
});

describe('summarise', () => {
  it('counts the runs that succeeded, failed, run and wait, and the progress of the whole', () => {
    const group = summarise('sw', [
      sweepRun('r1', 'sw', { a: '1' }, 1),
      sweepRun('r2', 'sw', { a: '2' }, 2, { status: 'failed', exit_code: 1 }),
      sweepRun('r3', 'sw', { a: '3' }, 3, { status: 'timed_out' }),
      sweepRun('r4', 'sw', { a: '4' }, 4, { status: 'running', progress: 0.5 }),
      sweepRun('r5', 'sw', { a: '5' }, 5, { status: 'preparing', progress: null }),
      sweepRun('r6', 'sw', { a: '6' }, 6, { status: 'queued' }),
      sweepRun('r7', 'sw', { a: '7' }, 7, { status: 'cancelled' })
    ]);
    expect(group.counts).toEqual({ succeeded: 1, failed: 2, cancelled: 1, running: 2, queued: 1 });
    expect(group.progress).toBeCloseTo((4 + 0.5) / 7);
    expect(group.status).toBe('running');
    expect(group.duration).toBeNull(); // not over yet
    expect(countsLabel(group)).toBe(
      '7 runs: 1 succeeded, 2 failed, 1 cancelled, 2 running, 1 queued'
    );
  });

  it('is done, and says how long it took from the first start to the last end', () => {
    const group = summarise('sw', [
      sweepRun('r1', 'sw', { a: '1' }, 1, { started: 100, finished: 103 }),
      sweepRun('r2', 'sw', { a: '2' }, 2, { started: 101, finished: 110 })
    ]);
    expect(group.status).toBe('succeeded');
    expect(group.progress).toBe(1);
    expect(group.duration).toBe(10);
    expect(countsLabel(group)).toBe('2 runs: 2 succeeded');
  });

  it('fails as a whole when any run did not succeed, and keeps a common end as it is', () => {
    const mixed = summarise('sw', [
      sweepRun('r1', 'sw', { a: '1' }, 1),
      sweepRun('r2', 'sw', { a: '2' }, 2, { status: 'cancelled' })
    ]);
    expect(mixed.status).toBe('failed');
    const cancelled = summarise('sw', [
      sweepRun('r1', 'sw', { a: '1' }, 1, { status: 'cancelled' }),
      sweepRun('r2', 'sw', { a: '2' }, 2, { status: 'cancelled' })
    ]);
    expect(cancelled.status).toBe('cancelled');
  });

  it('is queued while every run waits, and under way once some ended and others wait', () => {
    const waiting = summarise('sw', [
      sweepRun('r1', 'sw', { a: '1' }, 1, { status: 'queued' }),
      sweepRun('r2', 'sw', { a: '2' }, 2, { status: 'queued' })
    ]);
    expect(waiting.status).toBe('queued');
    expect(waiting.progress).toBe(0);
    const halfway = summarise('sw', [
      sweepRun('r1', 'sw', { a: '1' }, 1),
      sweepRun('r2', 'sw', { a: '2' }, 2, { status: 'queued' })
    ]);
    expect(halfway.status).toBe('running');
    expect(halfway.progress).toBe(0.5);
  });

  it('ignores progress out of range or missing', () => {
    const group = summarise('sw', [
      sweepRun('r1', 'sw', { a: '1' }, 1, { status: 'running', progress: 7 }),
      sweepRun('r2', 'sw', { a: '2' }, 2, { status: 'running', progress: -1 })
    ]);
    expect(group.progress).toBe(0.5);
  });
});

describe('paramsLabel', () => {
  it('writes a combination as name=value pairs in the order given', () => {
    expect(paramsLabel({ b: 'x', a: '1' })).toBe('b=x, a=1');
    expect(paramsLabel({ lr: '0.1' })).toBe('lr=0.1');
  });

  it('is empty without parameters', () => {
    expect(paramsLabel(null)).toBe('');
    expect(paramsLabel(undefined)).toBe('');
    expect(paramsLabel({})).toBe('');
  });

  it('says one run in the singular', () => {
    expect(countsLabel(summarise('sw', [sweepRun('r1', 'sw', { a: '1' }, 1)]))).toBe(
      '1 run: 1 succeeded'
    );
  });
});
