/**
 * The options of a run, folded away until wanted: input files, program arguments and a
 * timeout.
 */

import React, { useState } from 'react';

import { RunForm } from '../model/runForm';
import { InputFiles } from './inputFiles';

export function RunOptions(props: {
  form: RunForm;
  busy: boolean;
  onError: (message: string) => void;
}): JSX.Element {
  const { form, busy, onError } = props;
  // controlled, so that a re-render of the panel does not fold it again
  const [open, setOpen] = useState(false);
  return (
    <details
      className="jp-PyRunner-options"
      open={open}
      onToggle={event => setOpen(event.currentTarget.open)}
    >
      <summary>Inputs, arguments and timeout</summary>
      <InputFiles form={form} busy={busy} onError={onError} />
      <label className="jp-PyRunner-field">
        <span className="jp-PyRunner-label">Arguments</span>
        <input
          className="jp-mod-styled"
          type="text"
          value={form.args}
          placeholder='e.g. --steps 10 "a b"'
          onChange={event => form.setArgs(event.currentTarget.value)}
          disabled={busy}
        />
      </label>
      <label className="jp-PyRunner-field">
        <span className="jp-PyRunner-label">Timeout (seconds)</span>
        <input
          className="jp-mod-styled"
          type="number"
          min="1"
          value={form.timeout}
          placeholder="none"
          onChange={event => form.setTimeout(event.currentTarget.value)}
          disabled={busy}
        />
      </label>
    </details>
  );
}
