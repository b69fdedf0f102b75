/**
 * A small CSV reader for previews: quoted fields, escaped quotes, CRLF, a row limit.
 */

export interface ICsvTable {
  rows: string[][];
  /** True when rows were left out because of the limit (or the text was cut short). */
  truncated: boolean;
}

/** Parse up to `maxRows` rows of `text`; a separator is guessed from the first line. */
export function parseCsv(text: string, maxRows = 200, cutShort = false): ICsvTable {
  const firstLine = text.slice(0, text.search(/\r?\n|$/));
  const separator = guessSeparator(firstLine);
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  let truncated = cutShort;
  const endRow = (): boolean => {
    row.push(field);
    field = '';
    rows.push(row);
    row = [];
    return rows.length >= maxRows;
  };
  while (i < text.length) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else {
        field += ch;
      }
      i += 1;
      continue;
    }
    if (ch === '"' && field === '') {
      quoted = true;
    } else if (ch === separator) {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') {
        i += 1;
      }
      if (endRow()) {
        truncated = truncated || i + 1 < text.length;
        return { rows, truncated };
      }
    } else {
      field += ch;
    }
    i += 1;
  }
  if (field !== '' || row.length > 0) {
    endRow();
  }
  if (cutShort && rows.length > 1) {
    rows.pop(); // the last row may be cut in the middle
  }
  return { rows, truncated };
}

function guessSeparator(line: string): string {
  const counts = [',', ';', '\t', '|'].map(sep => [sep, line.split(sep).length - 1] as const);
  counts.sort((a, b) => b[1] - a[1]);
  return counts[0][1] > 0 ? counts[0][0] : ',';
}
