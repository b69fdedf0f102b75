/**
 * The live log of the run on show: the imperative `LogView` mounted once inside React, fed by
 * the model's log signal (not by React renders, which would be far too slow for a busy log),
 * with a button to follow the end again after scrolling up.
 */

import React, { useEffect, useRef, useState } from 'react';

import { RunnerModel } from '../model/runnerModel';
import { LogView } from './logView';

export function LogPane({ model }: { model: RunnerModel }): JSX.Element {
  const host = useRef<HTMLDivElement>(null);
  const [following, setFollowing] = useState(true);
  const view = useRef<LogView | null>(null);
  useEffect(() => {
    const logView = new LogView(host.current!);
    logView.onFollowChange = setFollowing;
    logView.setModel(model.log);
    view.current = logView;
    const redraw = (): void => {
      if (logView.model !== model.log) {
        logView.setModel(model.log); // a new log limit made a new log
      }
      logView.schedule();
    };
    model.logChanged.connect(redraw);
    return () => {
      model.logChanged.disconnect(redraw);
      logView.dispose();
      view.current = null;
    };
  }, [model]);
  return (
    <div className="jp-PyRunner-logBox">
      <div ref={host} aria-label="Log" />
      {!following && (
        <button
          className="jp-Button jp-mod-styled jp-PyRunner-follow"
          onClick={() => view.current?.follow()}
        >
          Follow the log ↓
        </button>
      )}
    </div>
  );
}
