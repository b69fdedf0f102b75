/**
 * The input files of a run (they arrive in its INPUT_FOLDER): dropped on the zone or added
 * with a button, listed with their sizes, each removable.
 */

import { closeIcon } from '@jupyterlab/ui-components';
import React, { useRef } from 'react';

import { formatBytes } from '../util/format';
import { messageOf } from '../util/messageOf';
import { RunForm, Source } from '../model/runForm';
import { DropZone } from './dropZone';

interface IInputFilesProps {
  form: RunForm;
  busy: boolean;
  onError: (message: string) => void;
}

export function InputFiles({ form, busy, onError }: IInputFilesProps): JSX.Element {
  const picker = useRef<HTMLInputElement>(null);
  const addInputs = async (sources: Promise<Source[]>): Promise<void> => {
    try {
      form.addInputs(await sources);
    } catch (error) {
      onError(`Could not read the input files: ${messageOf(error)}`);
    }
  };
  return (
    <DropZone
      className="jp-PyRunner-inputs"
      label="Drop input files here"
      onSources={addInputs}
      disabled={busy}
    >
      <div className="jp-PyRunner-row">
        <span className="jp-PyRunner-label">Input files</span>
        <button
          className="jp-Button jp-mod-styled jp-PyRunner-secondary jp-PyRunner-small"
          onClick={() => picker.current?.click()}
          disabled={busy}
        >
          Add…
        </button>
      </div>
      <InputList inputs={form.inputs} busy={busy} onRemove={index => form.removeInput(index)} />
      <input
        ref={picker}
        type="file"
        multiple
        hidden
        aria-label="Input files"
        onChange={event => {
          const files = Array.from(event.currentTarget.files ?? []);
          form.addInputs(
            files.map(file => ({ kind: 'file', name: file.name, file, size: file.size }))
          );
          event.currentTarget.value = ''; // choosing the same files again is still a change
        }}
      />
    </DropZone>
  );
}

function InputList(props: {
  inputs: Source[];
  busy: boolean;
  onRemove: (index: number) => void;
}): JSX.Element {
  const { inputs, busy, onRemove } = props;
  if (inputs.length === 0) {
    return <p className="jp-PyRunner-muted">None. Drop files here; they arrive in INPUT_FOLDER.</p>;
  }
  return (
    <ul className="jp-PyRunner-inputList">
      {inputs.map((input, index) => (
        // the same file may be added twice: the index tells them apart
        <li key={`${input.name}-${index}`}>
          <span>{input.name}</span>
          <span className="jp-PyRunner-muted">
            {input.kind === 'file' ? formatBytes(input.size) : 'workspace'}
          </span>
          <button
            className="jp-PyRunner-iconButton"
            aria-label={`Remove ${input.name}`}
            title="Remove"
            onClick={() => onRemove(index)}
            disabled={busy}
          >
            <closeIcon.react tag="span" />
          </button>
        </li>
      ))}
    </ul>
  );
}
