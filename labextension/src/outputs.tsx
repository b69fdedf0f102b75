/**
 * The outputs of an ended run: a tree with sizes, a preview of the selected file (image,
 * CSV as a table, JSON, text), downloads of one file or of all as a zip, and a copy into
 * the workspace.
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

import { parseCsv } from './csv';
import { formatBytes } from './format';
import { messageOf, RunnerModel } from './model';
import { buildTree, IOutputFile, previewKind, visibleRows } from './tree';

export function OutputsBrowser({ model }: { model: RunnerModel }): JSX.Element | null {
  const run = model.run;
  const files = model.outputs;
  const tree = useMemo(() => (files ? buildTree(files) : null), [files]);
  const [expanded, setExpanded] = useState<Set<string>>(new Set());
  const [selected, setSelected] = useState<IOutputFile | null>(null);
  useEffect(() => {
    setSelected(null);
    setExpanded(new Set());
  }, [run?.id]);
  if (!run) {
    return null;
  }
  if (model.outputsError) {
    return <p className="jp-PyRunner-error">{model.outputsError}</p>;
  }
  if (!tree) {
    return <p className="jp-PyRunner-muted">Listing the outputs…</p>;
  }
  const toggle = (path: string): void => {
    const next = new Set(expanded);
    if (next.has(path)) {
      next.delete(path);
    } else {
      next.add(path);
    }
    setExpanded(next);
  };
  const allRows = visibleRows(tree, expanded);
  const rows = allRows.slice(0, MAX_TREE_ROWS);
  return (
    <section className="jp-PyRunner-outputs" aria-label="Outputs">
      <div className="jp-PyRunner-row jp-PyRunner-outputsHeader">
        <h3>
          Outputs{' '}
          <span className="jp-PyRunner-muted">
            {tree.files} files · {formatBytes(tree.size)}
          </span>
        </h3>
      </div>
      {tree.files === 0 ? (
        <p className="jp-PyRunner-muted">The program wrote nothing to OUTPUT_FOLDER.</p>
      ) : (
        <>
          <ul className="jp-PyRunner-tree" aria-label="Output files">
            {rows.map(({ node, depth }) => (
              <li key={node.path}>
                <button
                  aria-expanded={node.kind === 'folder' ? expanded.has(node.path) : undefined}
                  aria-pressed={node.kind === 'file' ? selected?.path === node.path : undefined}
                  className={`jp-PyRunner-treeItem${node.kind === 'file' && selected?.path === node.path ? ' jp-mod-selected' : ''}`}
                  style={{ paddingLeft: `${4 + depth * 14}px` }}
                  onClick={() =>
                    node.kind === 'folder' ? toggle(node.path) : setSelected(node.file)
                  }
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
                    href={model.api.outputUrl(run.id, node.path, true)}
                    download={node.name}
                    title={`Download ${node.name}`}
                    aria-label={`Download ${node.name}`}
                  >
                    <downloadIcon.react tag="span" />
                  </a>
                )}
              </li>
            ))}
          </ul>
          {allRows.length > rows.length && (
            <p className="jp-PyRunner-muted">
              {allRows.length - rows.length} more entries are not listed; download all to get them.
            </p>
          )}
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
          {selected && <Preview key={selected.path} model={model} runId={run.id} file={selected} />}
        </>
      )}
    </section>
  );
}

const TABLE_ROWS = 200;
const MAX_COLUMNS = 100;
/** Larger images are not previewed (the browser would load all of it). */
const MAX_IMAGE_BYTES = 20 * 1024 * 1024;
/** Rows of the tree drawn; a run with more files says so (and they are in the zip). */
const MAX_TREE_ROWS = 1000;

function Preview({
  model,
  runId,
  file
}: {
  model: RunnerModel;
  runId: string;
  file: IOutputFile;
}): JSX.Element {
  const kind = previewKind(file);
  const [text, setText] = useState<{ text: string; cut: boolean } | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setText(null);
    setError(null);
    if (kind === 'image' || kind === 'none') {
      return;
    }
    let current = true;
    model.api.outputText(runId, file.path).then(
      result => current && setText(result),
      reason => current && setError(messageOf(reason))
    );
    return () => {
      current = false;
    };
  }, [model, runId, file.path, kind]);
  // parsed once per file, not on every render of the panel (uploads and polls re-render it)
  const shown = useMemo(() => {
    if (text === null) {
      return null;
    }
    if (kind === 'table') {
      return { table: parseCsv(text.text, TABLE_ROWS + 1, text.cut) };
    }
    return { text: kind === 'json' && !text.cut ? prettyJson(text.text) : text.text };
  }, [text, kind]);
  const title = (
    <div className="jp-PyRunner-previewTitle">
      <strong>{file.path}</strong>{' '}
      <span className="jp-PyRunner-muted">{formatBytes(file.size)}</span>
    </div>
  );
  let body: JSX.Element;
  if (error) {
    body = <p className="jp-PyRunner-error">{error}</p>;
  } else if (kind === 'image' && file.size > MAX_IMAGE_BYTES) {
    body = (
      <p className="jp-PyRunner-muted">
        This image is too large to preview here ({formatBytes(file.size)}); download it to open it.
      </p>
    );
  } else if (kind === 'image') {
    body = (
      <img
        className="jp-PyRunner-previewImage"
        src={model.api.outputUrl(runId, file.path)}
        alt={file.path}
      />
    );
  } else if (kind === 'none') {
    body = (
      <p className="jp-PyRunner-muted">No preview for this kind of file; download it to open it.</p>
    );
  } else if (text === null || shown === null) {
    body = <p className="jp-PyRunner-muted">Loading…</p>;
  } else if (shown.table) {
    const table = shown.table;
    const [head, ...rows] = table.rows;
    const columns = Math.min(MAX_COLUMNS, Math.max(head?.length ?? 0, ...rows.map(r => r.length)));
    body = (
      <div className="jp-PyRunner-tableBox">
        <table className="jp-PyRunner-table">
          <thead>
            <tr>
              {(head ?? []).slice(0, columns).map((cell, i) => (
                <th key={i}>{cell}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((row, r) => (
              <tr key={r}>
                {row.slice(0, columns).map((cell, c) => (
                  <td key={c}>{cell}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
        {(table.truncated || (head?.length ?? 0) > columns) && (
          <p className="jp-PyRunner-muted">
            The first {rows.length} rows and {columns} columns are shown.
          </p>
        )}
      </div>
    );
  } else {
    body = (
      <>
        <pre className="jp-PyRunner-previewText">{shown.text}</pre>
        {text.cut && <p className="jp-PyRunner-muted">The beginning of the file is shown.</p>}
      </>
    );
  }
  return (
    <div className="jp-PyRunner-preview" aria-label={`Preview of ${file.path}`}>
      {title}
      {body}
    </div>
  );
}

function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
