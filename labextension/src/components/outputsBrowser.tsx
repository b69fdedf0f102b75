/**
 * The outputs of an ended run, in two sections: the files of OUTPUT_FOLDER, and those the
 * program wrote beside its code (in its project folder). Each is a tree with sizes and a
 * preview of the selected file; downloads of one file or of all as a zip (the second section
 * under `project/`), and a copy into the workspace.
 */

import {
  caretDownIcon,
  caretRightIcon,
  copyIcon,
  downloadIcon,
  fileIcon,
  folderIcon
} from '@jupyterlab/ui-components';
import React, { useEffect, useMemo, useState } from 'react';

import { formatBytes } from '../util/format';
import { OutputSection, PROJECT_SECTION_LABEL, sectionFileUrl } from '../util/outputSections';
import { buildTree, IOutputFile, ITreeRow, visibleRows } from '../util/outputTree';
import { IRunRecord } from '../util/runnerApi';
import { RunnerModel } from '../model/runnerModel';
import { OutputPreview } from './outputPreview';

/** Rows of the tree drawn; a run with more files says so (and they are in the zip). */
const MAX_TREE_ROWS = 1000;

export function OutputsBrowser({ model }: { model: RunnerModel }): JSX.Element | null {
  const run = model.run;
  const files = model.outputs;
  const projectFiles = model.shown.projectFiles ?? [];
  const size = useMemo(() => (files ? files.reduce((sum, f) => sum + f.size, 0) : 0), [files]);
  if (!run) {
    return null;
  }
  if (model.outputsError) {
    return <p className="jp-PyRunner-error">{model.outputsError}</p>;
  }
  if (!files) {
    return <p className="jp-PyRunner-muted">Listing the outputs…</p>;
  }
  return (
    <section className="jp-PyRunner-outputs" aria-label="Outputs">
      <div className="jp-PyRunner-row jp-PyRunner-outputsHeader">
        <h3>
          Outputs{' '}
          <span className="jp-PyRunner-muted">
            {files.length} files · {formatBytes(size)}
          </span>
        </h3>
      </div>
      {files.length === 0 ? (
        <p className="jp-PyRunner-muted">The program wrote nothing to OUTPUT_FOLDER.</p>
      ) : (
        <FileSection model={model} runId={run.id} files={files} section="outputs" />
      )}
      {projectFiles.length > 0 && (
        <ProjectSection model={model} runId={run.id} files={projectFiles} />
      )}
      {files.length + projectFiles.length > 0 && <OutputsActions model={model} run={run} />}
    </section>
  );
}

/** The files written beside the code, under a heading of their own. */
function ProjectSection(props: {
  model: RunnerModel;
  runId: string;
  files: IOutputFile[];
}): JSX.Element {
  const { model, runId, files } = props;
  const size = files.reduce((sum, f) => sum + f.size, 0);
  return (
    <div className="jp-PyRunner-projectFiles" aria-label={PROJECT_SECTION_LABEL}>
      <h4>
        {PROJECT_SECTION_LABEL}{' '}
        <span className="jp-PyRunner-muted">
          {files.length} files · {formatBytes(size)}
        </span>
      </h4>
      <p className="jp-PyRunner-muted">
        Created or changed by the program where it ran; in the zip and in copies under{' '}
        <code>{model.shown.projectZipFolder}/</code>.
      </p>
      <FileSection model={model} runId={runId} files={files} section="project" />
    </div>
  );
}

/** One section's tree, and the preview of the file selected in it. */
function FileSection(props: {
  model: RunnerModel;
  runId: string;
  files: IOutputFile[];
  section: OutputSection;
}): JSX.Element {
  const { model, runId, files, section } = props;
  const tree = useMemo(() => buildTree(files), [files]);
  const state = useTreeState(runId);
  const selected = state.selected;
  return (
    <>
      <OutputFiles
        rows={visibleRows(tree, state.expanded)}
        state={state}
        label={section === 'project' ? 'Files written beside the code' : 'Output files'}
        downloadUrl={path => sectionFileUrl(model.api, runId, path, section, true)}
      />
      {selected && (
        <OutputPreview
          key={selected.path}
          model={model}
          runId={runId}
          file={selected}
          section={section}
        />
      )}
    </>
  );
}

/** Which folders are open and which file is previewed; both start over for another run. */
interface ITreeState {
  expanded: ReadonlySet<string>;
  selected: IOutputFile | null;
  toggle(path: string): void;
  select(file: IOutputFile): void;
}

function useTreeState(runId: string | undefined): ITreeState {
  const [expanded, setExpanded] = useState<Set<string>>(new Set());
  const [selected, setSelected] = useState<IOutputFile | null>(null);
  useEffect(() => {
    setSelected(null);
    setExpanded(new Set());
  }, [runId]);
  const toggle = (path: string): void => {
    const next = new Set(expanded);
    if (next.has(path)) {
      next.delete(path);
    } else {
      next.add(path);
    }
    setExpanded(next);
  };
  return { expanded, selected, toggle, select: setSelected };
}

/** The visible rows of the tree (up to `MAX_TREE_ROWS`), and how many more there are. */
function OutputFiles(props: {
  rows: ITreeRow[];
  state: ITreeState;
  label: string;
  downloadUrl: (path: string) => string;
}): JSX.Element {
  const { rows: allRows, state, label, downloadUrl } = props;
  const rows = allRows.slice(0, MAX_TREE_ROWS);
  return (
    <>
      <ul className="jp-PyRunner-tree" aria-label={label}>
        {rows.map(row => (
          <OutputRow key={row.node.path} row={row} state={state} downloadUrl={downloadUrl} />
        ))}
      </ul>
      {allRows.length > rows.length && (
        <p className="jp-PyRunner-muted">
          {allRows.length - rows.length} more entries are not listed; download all to get them.
        </p>
      )}
    </>
  );
}

/** A folder (opens and closes) or a file (previewed on click, with its download link). */
function OutputRow(props: {
  row: ITreeRow;
  state: ITreeState;
  downloadUrl: (path: string) => string;
}): JSX.Element {
  const { node, depth } = props.row;
  const { expanded, selected, toggle, select } = props.state;
  const isSelected = node.kind === 'file' && selected?.path === node.path;
  return (
    <li>
      <button
        aria-expanded={node.kind === 'folder' ? expanded.has(node.path) : undefined}
        aria-pressed={node.kind === 'file' ? selected?.path === node.path : undefined}
        className={`jp-PyRunner-treeItem${isSelected ? ' jp-mod-selected' : ''}`}
        style={{ paddingLeft: `${4 + depth * 14}px` }}
        onClick={() => (node.kind === 'folder' ? toggle(node.path) : select(node.file))}
        title={node.path}
      >
        {node.kind === 'folder' ? (
          <>
            {expanded.has(node.path) ? (
              <caretDownIcon.react tag="span" />
            ) : (
              <caretRightIcon.react tag="span" />
            )}
            <folderIcon.react tag="span" />
          </>
        ) : (
          <fileIcon.react tag="span" />
        )}
        <span className="jp-PyRunner-treeName">{node.name}</span>
        <span className="jp-PyRunner-treeSize">{formatBytes(node.size)}</span>
      </button>
      {node.kind === 'file' && (
        <a
          className="jp-PyRunner-iconButton"
          href={props.downloadUrl(node.path)}
          download={node.name}
          title={`Download ${node.name}`}
          aria-label={`Download ${node.name}`}
        >
          <downloadIcon.react tag="span" />
        </a>
      )}
    </li>
  );
}

/** Download all as a zip, copy all into the workspace, and where the copy went. */
function OutputsActions({ model, run }: { model: RunnerModel; run: IRunRecord }): JSX.Element {
  return (
    <>
      <div className="jp-PyRunner-row jp-PyRunner-actions">
        <a
          className="jp-PyRunner-link"
          href={model.api.outputsZipUrl(run.id)}
          download={`${run.id}-outputs.zip`}
        >
          <downloadIcon.react tag="span" /> Download all (.zip)
        </a>
        <button
          className="jp-Button jp-mod-styled jp-PyRunner-secondary jp-PyRunner-small"
          onClick={() => void model.copyOutputs()}
        >
          <copyIcon.react tag="span" /> Copy to workspace
        </button>
      </div>
      {model.copied && (
        <p className="jp-PyRunner-muted jp-PyRunner-copied" role="status">
          Copied {model.copied.files} files to <code>{model.copied.path}</code>
        </p>
      )}
    </>
  );
}
