import { describe, expect, it } from 'vitest';

import {
  buildTree,
  IFolderNode,
  IOutputFile,
  previewKind,
  TreeNode,
  visibleRows
} from '../../src/util/outputTree';

function file(
  path: string,
  size = 1,
  mime: string | null = 'application/octet-stream'
): IOutputFile {
  return { path, size, mtime: 0, mime_type: mime };
}

function folder(node: TreeNode | undefined): IFolderNode {
  if (!node || node.kind !== 'folder') {
    throw new Error(`not a folder: ${node?.path}`);
  }
  return node;
}

describe('buildTree', () => {
  const files = [
    file('results/plots/b.png', 100),
    file('summary.txt', 5),
    file('results/table.csv', 20),
    file('results/plots/a.png', 300),
    file('Alpha.log', 7),
    file('results/plots/deep/x.json', 1000),
    file('archive/old.dat', 2)
  ];

  it('nests files in their folders with the full paths', () => {
    const root = buildTree(files);
    expect(root.path).toBe('');
    const results = folder(root.children.find(c => c.name === 'results'));
    expect(results.path).toBe('results');
    const plots = folder(results.children.find(c => c.name === 'plots'));
    expect(plots.path).toBe('results/plots');
    const deep = folder(plots.children.find(c => c.name === 'deep'));
    expect(deep.children).toHaveLength(1);
    expect(deep.children[0]).toMatchObject({
      kind: 'file',
      name: 'x.json',
      path: 'results/plots/deep/x.json',
      size: 1000
    });
    const x = deep.children[0];
    expect(x.kind === 'file' && x.file).toBe(files[5]);
  });

  it('sums sizes and counts files at any depth per folder', () => {
    const root = buildTree(files);
    expect(root.size).toBe(1434);
    expect(root.files).toBe(7);
    const results = folder(root.children.find(c => c.name === 'results'));
    expect([results.size, results.files]).toEqual([1420, 4]);
    const plots = folder(results.children.find(c => c.name === 'plots'));
    expect([plots.size, plots.files]).toEqual([1400, 3]);
    const archive = folder(root.children.find(c => c.name === 'archive'));
    expect([archive.size, archive.files]).toEqual([2, 1]);
  });

  it('sorts folders first, then files, each by name', () => {
    const root = buildTree(files);
    expect(root.children.map(c => `${c.kind}:${c.name}`)).toEqual([
      'folder:archive',
      'folder:results',
      'file:Alpha.log',
      'file:summary.txt'
    ]);
    const results = folder(root.children[1]);
    expect(results.children.map(c => c.name)).toEqual(['plots', 'table.csv']);
    expect(folder(results.children[0]).children.map(c => c.name)).toEqual([
      'deep',
      'a.png',
      'b.png'
    ]);
  });

  it('ignores empty and "." path segments', () => {
    const root = buildTree([
      file('./a//b.txt', 3),
      file('a/./c.txt', 4),
      file('/d.txt', 5),
      file('./', 9),
      file('', 9)
    ]);
    expect(root.files).toBe(3);
    expect(root.size).toBe(12);
    expect(root.children.map(c => c.path)).toEqual(['a', 'd.txt']);
    const a = folder(root.children[0]);
    expect(a.children.map(c => c.path)).toEqual(['a/b.txt', 'a/c.txt']);
    expect([a.size, a.files]).toEqual([7, 2]);
  });

  it('gives an empty root for no files', () => {
    expect(buildTree([])).toEqual({
      kind: 'folder',
      name: '',
      path: '',
      size: 0,
      files: 0,
      children: []
    });
  });
});

describe('visibleRows', () => {
  const root = buildTree([file('a/b/c.txt'), file('a/d.txt'), file('e.txt'), file('f/g.txt')]);
  const rows = (expanded: string[]): string[] =>
    visibleRows(root, new Set(expanded)).map(r => `${r.depth}:${r.node.path}`);

  it('shows only the top level when nothing is expanded', () => {
    expect(rows([])).toEqual(['0:a', '0:f', '0:e.txt']);
  });

  it('lists the children of expanded folders right below them, one level deeper', () => {
    expect(rows(['a'])).toEqual(['0:a', '1:a/b', '1:a/d.txt', '0:f', '0:e.txt']);
    expect(rows(['a', 'a/b', 'f'])).toEqual([
      '0:a',
      '1:a/b',
      '2:a/b/c.txt',
      '1:a/d.txt',
      '0:f',
      '1:f/g.txt',
      '0:e.txt'
    ]);
  });

  it('hides the children of an expanded folder inside a collapsed one', () => {
    expect(rows(['a/b'])).toEqual(['0:a', '0:f', '0:e.txt']);
  });
});

describe('previewKind', () => {
  it('previews PNG and JPEG as images', () => {
    expect(previewKind(file('plot.png', 1, 'image/png'))).toBe('image');
    expect(previewKind(file('photo.jpg', 1, 'image/jpeg'))).toBe('image');
    expect(previewKind(file('photo.JPEG', 1, 'image/jpeg'))).toBe('image');
  });

  it('previews SVG as text, not as an image', () => {
    expect(previewKind(file('figure.svg', 1, 'image/svg+xml'))).toBe('text');
    expect(previewKind(file('figure.svg', 1, null))).toBe('text');
  });

  it('previews CSV as a table, by name or by type', () => {
    expect(previewKind(file('data.csv', 1, 'text/csv'))).toBe('table');
    expect(previewKind(file('DATA.CSV', 1, null))).toBe('table');
    expect(previewKind(file('export', 1, 'text/csv'))).toBe('table');
  });

  it('previews JSON as json, by name or by type', () => {
    expect(previewKind(file('metrics.json', 1, 'application/json'))).toBe('json');
    expect(previewKind(file('metrics.json', 1, null))).toBe('json');
    expect(previewKind(file('metrics', 1, 'application/json'))).toBe('json');
  });

  it('previews text types and known text extensions as text', () => {
    expect(previewKind(file('notes.txt', 1, 'text/plain'))).toBe('text');
    expect(previewKind(file('run.log', 1, 'application/octet-stream'))).toBe('text');
    expect(previewKind(file('main.py', 1, 'text/x-python'))).toBe('text');
    expect(previewKind(file('main.py', 1, null))).toBe('text');
    expect(previewKind(file('README', 1, 'text/markdown'))).toBe('text');
  });

  it('does not preview unknown binary files', () => {
    expect(previewKind(file('model.bin', 1, 'application/octet-stream'))).toBe('none');
    expect(previewKind(file('weights.npy', 1, null))).toBe('none');
    expect(previewKind(file('archive.zip', 1, 'application/zip'))).toBe('none');
    expect(previewKind(file('logs.txt.gz', 1, 'application/gzip'))).toBe('none');
  });
});
