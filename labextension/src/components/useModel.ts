/**
 * A React hook that re-renders a component when the runner model changes.
 */

import { useEffect, useReducer } from 'react';

import { RunnerModel } from '../model/runnerModel';

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
