/**
 * The Python Runner panel: choose a project (drop, pick, or from the file browser), set
 * inputs, arguments and a timeout, run it, and follow it; below, the run on show and the
 * history of runs.
 */

import {
  ReactWidget,
  closeIcon,
  fileUploadIcon,
  folderIcon,
  runIcon
} from '@jupyterlab/ui-components';
import React, { useEffect, useRef, useState } from 'react';

import { installDropTarget, sourceFromFolderSelection } from './dropzone';
import { formatBytes, formatSpeed } from './format';
import { HistoryList } from './history';
import { runnerIcon } from './icons';
import { messageOf, RunnerModel } from './model';
import { Source } from './runform';
import { RunView } from './runview';
import { useModel } from './usemodel';

export class RunnerPanel extends ReactWidget {
  constructor(readonly model: RunnerModel) {
    super();
    this.id = 'jp-pyrunner-panel';
    this.addClass('jp-PyRunner');
    this.title.icon = runnerIcon;
    this.title.caption = 'Python Runner';
  }

  protected onAfterShow(): void {
    window.clearInterval(this._timer);
    void this.model.refreshHistory();
    this._timer = window.setInterval(() => void this.model.refreshHistory(), 5000);
  }

  protected onBeforeHide(): void {
    window.clearInterval(this._timer);
  }

  dispose(): void {
    window.clearInterval(this._timer);
    this.model.dispose();
    super.dispose();
  }

  render(): JSX.Element {
    return <RunnerComponent model={this.model} />;
  }

  private _timer = 0;
}

function RunnerComponent({ model }: { model: RunnerModel }): JSX.Element {
  useModel(model);
  return (
    <div className="jp-PyRunner-body">
      <header className="jp-PyRunner-header">
        <runnerIcon.react tag="span" className="jp-PyRunner-headerIcon" />
        <h2>Python Runner</h2>
      </header>
      {model.error && (
        <div className="jp-PyRunner-error" role="alert">
          <span className="jp-PyRunner-errorText">{model.error}</span>
          <button
            className="jp-PyRunner-iconButton"
            title="Dismiss"
            aria-label="Dismiss the message"
            onClick={() => model.showError(null)}
          >
            <closeIcon.react tag="span" />
          </button>
        </div>
      )}
      <ProjectForm model={model} />
      {model.run && <RunView model={model} />}
      <HistoryList model={model} />
    </div>
  );
}

function ProjectForm({ model }: { model: RunnerModel }): JSX.Element {
  const form = model.form;
  const zipInput = useRef<HTMLInputElement>(null);
  const folderInput = useRef<HTMLInputElement>(null);
  const inputsInput = useRef<HTMLInputElement>(null);
  const [optionsOpen, setOptionsOpen] = useState(false);
  const busy = form.starting;
  const choose = async (sources: Promise<Source[]>): Promise<void> => {
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
  };
  const addInputs = async (sources: Promise<Source[]>): Promise<void> => {
    try {
      form.addInputs(await sources);
    } catch (error) {
      model.showError(`Could not read the input files: ${messageOf(error)}`);
    }
  };
  return (
    <section className="jp-PyRunner-section jp-PyRunner-project" aria-label="Project">
      <DropZone
        className="jp-PyRunner-dropzone"
        label="Drop a .zip or a project folder here"
        onSources={choose}
        disabled={busy}
      >
        {form.source ? (
          <div className="jp-PyRunner-chosen">
            <span
              className="jp-PyRunner-chosenName"
              title={form.source.kind === 'path' ? form.source.path : form.source.name}
            >
              {form.source.name}
            </span>
            <span className="jp-PyRunner-muted">
              {form.source.kind === 'file' ? formatBytes(form.source.size) : 'in the workspace'}
            </span>
            <button
              className="jp-PyRunner-iconButton"
              title="Choose another project"
              aria-label="Clear the chosen project"
              onClick={() => model.setSource(null)}
              disabled={busy}
            >
              <closeIcon.react tag="span" />
            </button>
          </div>
        ) : (
          <p className="jp-PyRunner-dropHint">
            Drop a <code>.zip</code> or a project folder here
            <br />
            <span className="jp-PyRunner-muted">from the desktop or the file browser</span>
          </p>
        )}
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
              model.setSource({ kind: 'file', name: file.name, file, size: file.size });
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
              const picked = sourceFromFolderSelection(files).then(source =>
                source ? [source] : []
              );
              void choose(picked);
            }
            event.currentTarget.value = '';
          }}
        />
      </DropZone>

      <details
        className="jp-PyRunner-options"
        open={optionsOpen}
        onToggle={event => setOptionsOpen(event.currentTarget.open)}
      >
        <summary>Inputs, arguments and timeout</summary>
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
              onClick={() => inputsInput.current?.click()}
              disabled={busy}
            >
              Add…
            </button>
          </div>
          {form.inputs.length === 0 ? (
            <p className="jp-PyRunner-muted">None. Drop files here; they arrive in INPUT_FOLDER.</p>
          ) : (
            <ul className="jp-PyRunner-inputList">
              {form.inputs.map((input, index) => (
                <li key={`${input.name}-${index}`}>
                  <span>{input.name}</span>
                  <span className="jp-PyRunner-muted">
                    {input.kind === 'file' ? formatBytes(input.size) : 'workspace'}
                  </span>
                  <button
                    className="jp-PyRunner-iconButton"
                    aria-label={`Remove ${input.name}`}
                    title="Remove"
                    onClick={() => form.removeInput(index)}
                    disabled={busy}
                  >
                    <closeIcon.react tag="span" />
                  </button>
                </li>
              ))}
            </ul>
          )}
          <input
            ref={inputsInput}
            type="file"
            multiple
            hidden
            aria-label="Input files"
            onChange={event => {
              const files = Array.from(event.currentTarget.files ?? []);
              form.addInputs(
                files.map(file => ({ kind: 'file', name: file.name, file, size: file.size }))
              );
              event.currentTarget.value = '';
            }}
          />
        </DropZone>
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

      {form.upload && (
        <div className="jp-PyRunner-upload" role="group" aria-label="Upload">
          <div className="jp-PyRunner-row">
            <span>Uploading {form.upload.name}</span>
            <button className="jp-PyRunner-linkButton" onClick={() => form.abortUpload()}>
              Stop
            </button>
          </div>
          <progress
            max={form.upload.total || 1}
            value={form.upload.loaded}
            aria-label={`Upload of ${form.upload.name}`}
          />
          <span className="jp-PyRunner-muted jp-PyRunner-uploadFigures">
            {formatBytes(form.upload.loaded)} of {formatBytes(form.upload.total)} ·{' '}
            {formatSpeed(form.upload.speed)}
          </span>
        </div>
      )}

      <button
        className="jp-Button jp-mod-styled jp-mod-accept jp-PyRunner-run"
        onClick={() => void model.start()}
        disabled={!form.source || busy}
      >
        <runIcon.react tag="span" /> {busy ? 'Starting…' : 'Run'}
      </button>
    </section>
  );
}

/** A region that takes drops of files, folders and file browser items. */
function DropZone(props: {
  className: string;
  label: string;
  disabled: boolean;
  onSources: (sources: Promise<Source[]>) => void;
  children: React.ReactNode;
}): JSX.Element {
  const node = useRef<HTMLDivElement>(null);
  const [hover, setHover] = useState(false);
  const { onSources, disabled } = props;
  const latest = useRef({ onSources, disabled });
  latest.current = { onSources, disabled };
  useEffect(() => {
    if (!node.current) {
      return;
    }
    return installDropTarget(
      node.current,
      sources => {
        if (!latest.current.disabled) {
          latest.current.onSources(sources);
        }
      },
      setHover
    );
  }, []);
  return (
    <div
      ref={node}
      className={`${props.className}${hover ? ' jp-mod-dropTarget' : ''}`}
      aria-label={props.label}
      role="group"
    >
      {props.children}
    </div>
  );
}
