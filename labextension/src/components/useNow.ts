/**
 * A React hook for clocks on screen (the elapsed time of a live run).
 */

import { useEffect, useReducer } from 'react';

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
