/**
 * A preview of one output file (of OUTPUT_FOLDER, or written beside the code): an image, a CSV
 * file as a table, JSON indented, or text. Only the beginning of a file is loaded, whatever its
 * size.
 */

import React, { useEffect, useMemo, useState } from 'react';

import { formatBytes } from '../util/format';
import { messageOf } from '../util/messageOf';
import { OutputSection, sectionFileText, sectionFileUrl } from '../util/outputSections';
import { IOutputFile, PreviewKind, previewKind } from '../util/outputTree';
import { ICsvTable, parseCsv } from '../util/parseCsv';
import { RunnerModel } from '../model/runnerModel';

const TABLE_ROWS = 200;
const MAX_COLUMNS = 100;
/** Larger images are not previewed (the browser would load all of it). */
const MAX_IMAGE_BYTES = 20 * 1024 * 1024;

interface IPreviewProps {
  model: RunnerModel;
  runId: string;
  file: IOutputFile;
  /** Where the file is: OUTPUT_FOLDER (the default), or beside the code. */
  section?: OutputSection;
}

export function OutputPreview(props: IPreviewProps): JSX.Element {
  const { model, runId, file } = props;
  const section = props.section ?? 'outputs';
  const kind = previewKind(file);
  const loaded = usePreviewText(model, runId, file.path, kind, section);
  return (
    <div className="jp-PyRunner-preview" aria-label={`Preview of ${file.path}`}>
      <div className="jp-PyRunner-previewTitle">
        <strong>{file.path}</strong>{' '}
        <span className="jp-PyRunner-muted">{formatBytes(file.size)}</span>
      </div>
      <PreviewBody {...{ model, runId, file, section, kind, loaded }} />
    </div>
  );
}

/** The beginning of a file as text; `cut` when the file goes on. */
interface IText {
  text: string;
  cut: boolean;
}

/** What the preview shows once the text is in: rows of a table, or text. */
type Shown = { table: ICsvTable; text?: undefined } | { table?: undefined; text: string };

interface ILoaded {
  text: IText | null;
  error: string | null;
  shown: Shown | null;
}

/** Load the beginning of a file that is previewed as text (not images, not the unknown). */
function usePreviewText(
  model: RunnerModel,
  runId: string,
  path: string,
  kind: PreviewKind,
  section: OutputSection
): ILoaded {
  const [text, setText] = useState<IText | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setText(null);
    setError(null);
    if (kind === 'image' || kind === 'none') {
      return;
    }
    let current = true; // an answer for a file no longer selected is dropped
    sectionFileText(model.api, runId, path, section).then(
      result => current && setText(result),
      reason => current && setError(messageOf(reason))
    );
    return () => {
      current = false;
    };
  }, [model, runId, path, kind, section]);
  // parsed once per file, not on every render of the panel (uploads and polls re-render it)
  const shown = useMemo((): Shown | null => {
    if (text === null) {
      return null;
    }
    if (kind === 'table') {
      return { table: parseCsv(text.text, TABLE_ROWS + 1, text.cut) };
    }
    return { text: kind === 'json' && !text.cut ? prettyJson(text.text) : text.text };
  }, [text, kind]);
  return { text, error, shown };
}

function PreviewBody(
  props: IPreviewProps & { section: OutputSection; kind: PreviewKind; loaded: ILoaded }
): JSX.Element {
  const { model, runId, file, section, kind, loaded } = props;
  const { text, error, shown } = loaded;
  if (error) {
    return <p className="jp-PyRunner-error">{error}</p>;
  }
  if (kind === 'image' && file.size > MAX_IMAGE_BYTES) {
    return (
      <p className="jp-PyRunner-muted">
        This image is too large to preview here ({formatBytes(file.size)}); download it to open it.
      </p>
    );
  }
  if (kind === 'image') {
    return (
      <img
        className="jp-PyRunner-previewImage"
        src={sectionFileUrl(model.api, runId, file.path, section)}
        alt={file.path}
      />
    );
  }
  if (kind === 'none') {
    return (
      <p className="jp-PyRunner-muted">No preview for this kind of file; download it to open it.</p>
    );
  }
  if (text === null || shown === null) {
    return <p className="jp-PyRunner-muted">Loading…</p>;
  }
  if (shown.table) {
    return <TablePreview table={shown.table} />;
  }
  return (
    <>
      <pre className="jp-PyRunner-previewText">{shown.text}</pre>
      {text.cut && <p className="jp-PyRunner-muted">The beginning of the file is shown.</p>}
    </>
  );
}

/** The first rows and columns of a CSV file; the first row is its header. */
function TablePreview({ table }: { table: ICsvTable }): JSX.Element {
  const [head, ...rows] = table.rows;
  const columns = Math.min(MAX_COLUMNS, Math.max(head?.length ?? 0, ...rows.map(r => r.length)));
  return (
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
}

function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
