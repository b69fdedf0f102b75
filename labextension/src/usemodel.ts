/**
 * A React hook that re-renders a component when the runner model changes.
 */

import { useEffect, useReducer } from 'react';

import { RunnerModel } from './model';

export function useModel(model: RunnerModel): RunnerModel {
  const [, redraw] = useReducer((n: number) => n + 1, 0);
  useEffect(() => {
    const changed = (): void => redraw();
    model.changed.connect(changed);
    return () => {
      model.changed.disconnect(changed);
    };
  }, [model]);
  return model;
}

/** The current time, ticking every second while `active`. */
export function useNow(active: boolean): number {
  const [now, setNow] = useReducer((_: number, next: number) => next, Date.now());
  useEffect(() => {
    if (!active) {
      return;
    }
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [active]);
  return now;
}
