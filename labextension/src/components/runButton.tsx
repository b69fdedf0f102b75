/**
 * The button that runs the chosen project (it says so while the run is being started).
 */

import { runIcon } from '@jupyterlab/ui-components';
import React from 'react';

export function RunButton(props: {
  ready: boolean;
  busy: boolean;
  onRun: () => void;
}): JSX.Element {
  const { ready, busy, onRun } = props;
  return (
    <button
      className="jp-Button jp-mod-styled jp-mod-accept jp-PyRunner-run"
      onClick={onRun}
      disabled={!ready || busy}
    >
      <runIcon.react tag="span" /> {busy ? 'Starting…' : 'Run'}
    </button>
  );
}
