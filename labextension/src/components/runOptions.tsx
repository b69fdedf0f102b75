/**
 * The options of a run, folded away until wanted: input files, program arguments, a timeout
 * and the input layout.
 */

import React, { useState } from 'react';

import { Layout, LAYOUTS, RunForm } from '../model/runForm';
import { InputFiles } from './inputFiles';

/** What each layout is called in the form. */
const LAYOUT_LABELS: Record<Layout, string> = {
  ports: 'Ports: project in input_1, inputs in input_2..5',
  flat: 'Flat: all in INPUT_FOLDER (oSparc 1.0.0)'
};

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
      <summary>Inputs, arguments, timeout and layout</summary>
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
      <label className="jp-PyRunner-field">
        <span className="jp-PyRunner-label">Input layout</span>
        <select
          className="jp-mod-styled"
          value={form.layout}
          onChange={event => form.setLayout(event.currentTarget.value as Layout)}
          disabled={busy}
        >
          {LAYOUTS.map(layout => (
            <option key={layout} value={layout}>
              {LAYOUT_LABELS[layout]}
            </option>
          ))}
        </select>
      </label>
    </details>
  );
}
