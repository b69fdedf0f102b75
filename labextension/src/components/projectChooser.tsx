/**
 * Choosing the project to run: drop a zip or a folder (from the desktop or the file browser)
 * on the zone, or pick one with the buttons; the choice is shown with its size or place.
 */

import { closeIcon, fileUploadIcon, folderIcon } from '@jupyterlab/ui-components';
import React, { useRef } from 'react';

import { formatBytes } from '../util/format';
import { messageOf } from '../util/messageOf';
import { Source } from '../model/runForm';
import { RunnerModel } from '../model/runnerModel';
import { sourceFromFolderSelection } from './dropTarget';
import { DropZone } from './dropZone';

export function ProjectChooser({
  model,
  busy
}: {
  model: RunnerModel;
  busy: boolean;
}): JSX.Element {
  const source = model.form.source;
  const choose = (sources: Promise<Source[]>): Promise<void> => chooseProject(model, sources);
  return (
    <DropZone
      className="jp-PyRunner-dropzone"
      label="Drop a .zip or a project folder here"
      onSources={choose}
      disabled={busy}
    >
      {source ? (
        <ChosenProject source={source} busy={busy} onClear={() => model.setSource(null)} />
      ) : (
        <DropHint />
      )}
      <ProjectPickers
        busy={busy}
        onZip={file => model.setSource({ kind: 'file', name: file.name, file, size: file.size })}
        onFolder={files => {
          const picked = sourceFromFolderSelection(files).then(source => (source ? [source] : []));
          void choose(picked);
        }}
      />
    </DropZone>
  );
}

/**
 * Take what was dropped or picked as the project: exactly one; anything else, or a failure
 * to read it (a folder too large to zip, say), is said in the panel's alert.
 */
async function chooseProject(model: RunnerModel, sources: Promise<Source[]>): Promise<void> {
  try {
    const list = await sources;
    if (list.length === 0) {
      return;
    }
    if (list.length > 1) {
      model.showError('Drop one project at a time: a .zip, or a folder with its Python files.');
      return;
    }
    model.setSource(list[0]);
  } catch (error) {
    model.showError(`Could not read what was dropped: ${messageOf(error)}`);
  }
}

/** The project chosen: its name, its size (or that it is on the server), and a way back. */
function ChosenProject(props: { source: Source; busy: boolean; onClear: () => void }): JSX.Element {
  const { source, busy, onClear } = props;
  return (
    <div className="jp-PyRunner-chosen">
      <span
        className="jp-PyRunner-chosenName"
        title={source.kind === 'path' ? source.path : source.name}
      >
        {source.name}
      </span>
      <span className="jp-PyRunner-muted">
        {source.kind === 'file' ? formatBytes(source.size) : 'in the workspace'}
      </span>
      <button
        className="jp-PyRunner-iconButton"
        title="Choose another project"
        aria-label="Clear the chosen project"
        onClick={onClear}
        disabled={busy}
      >
        <closeIcon.react tag="span" />
      </button>
    </div>
  );
}

function DropHint(): JSX.Element {
  return (
    <p className="jp-PyRunner-dropHint">
      Drop a <code>.zip</code> or a project folder here
      <br />
      <span className="jp-PyRunner-muted">from the desktop or the file browser</span>
    </p>
  );
}

/**
 * "Choose .zip…" and "Choose folder…", each opening a hidden file input. An input is emptied
 * after each choice, so that choosing the same file again is still a change.
 */
function ProjectPickers(props: {
  busy: boolean;
  onZip: (file: File) => void;
  onFolder: (files: FileList) => void;
}): JSX.Element {
  const { busy, onZip, onFolder } = props;
  const zipInput = useRef<HTMLInputElement>(null);
  const folderInput = useRef<HTMLInputElement>(null);
  return (
    <>
      <div className="jp-PyRunner-row">
        <button
          className="jp-Button jp-mod-styled jp-PyRunner-secondary jp-PyRunner-small"
          onClick={() => zipInput.current?.click()}
          disabled={busy}
        >
          <fileUploadIcon.react tag="span" /> Choose .zip…
        </button>
        <button
          className="jp-Button jp-mod-styled jp-PyRunner-secondary jp-PyRunner-small"
          onClick={() => folderInput.current?.click()}
          disabled={busy}
        >
          <folderIcon.react tag="span" /> Choose folder…
        </button>
      </div>
      <input
        ref={zipInput}
        type="file"
        accept=".zip,application/zip"
        hidden
        aria-label="Project zip"
        onChange={event => {
          const file = event.currentTarget.files?.[0];
          if (file) {
            onZip(file);
          }
          event.currentTarget.value = '';
        }}
      />
      <input
        ref={folderInput}
        type="file"
        hidden
        aria-label="Project folder"
        {...{ webkitdirectory: '', directory: '' }}
        onChange={event => {
          const files = event.currentTarget.files;
          if (files?.length) {
            onFolder(files); // read now: emptying the input below forgets them
          }
          event.currentTarget.value = '';
        }}
      />
    </>
  );
}
