/**
 * The outputs of a run as a tree of folders and files, from the server's flat list.
 */

/** One output file as `GET /runs/{id}/outputs` lists it. */
export interface IOutputFile {
  path: string;
  size: number;
  mtime: number;
  mime_type: string | null;
}

export interface IFolderNode {
  kind: 'folder';
  name: string;
  /** Path of the folder relative to the outputs root ('' for the root). */
  path: string;
  /** Total size of every file below. */
  size: number;
  /** Number of files below, at any depth. */
  files: number;
  children: TreeNode[];
}

export interface IFileNode {
  kind: 'file';
  name: string;
  path: string;
  size: number;
  file: IOutputFile;
}

export type TreeNode = IFolderNode | IFileNode;

/** Build the tree; folders come first, then files, each sorted by name. */
export function buildTree(files: readonly IOutputFile[]): IFolderNode {
  const root: IFolderNode = { kind: 'folder', name: '', path: '', size: 0, files: 0, children: [] };
  const folders = new Map<string, IFolderNode>([['', root]]);
  for (const file of files) {
    const parts = file.path.split('/').filter(part => part !== '' && part !== '.');
    if (parts.length === 0) {
      continue;
    }
    let parent = root;
    const chain: IFolderNode[] = [root];
    for (let i = 0; i < parts.length - 1; i++) {
      const path = parts.slice(0, i + 1).join('/');
      let folder = folders.get(path);
      if (!folder) {
        folder = { kind: 'folder', name: parts[i], path, size: 0, files: 0, children: [] };
        folders.set(path, folder);
        parent.children.push(folder);
      }
      parent = folder;
      chain.push(folder);
    }
    parent.children.push({
      kind: 'file',
      name: parts[parts.length - 1],
      path: parts.join('/'),
      size: file.size,
      file
    });
    for (const folder of chain) {
      folder.size += file.size;
      folder.files += 1;
    }
  }
  sortTree(root);
  return root;
}

function sortTree(folder: IFolderNode): void {
  folder.children.sort((a, b) => {
    if (a.kind !== b.kind) {
      return a.kind === 'folder' ? -1 : 1;
    }
    return a.name.localeCompare(b.name);
  });
  for (const child of folder.children) {
    if (child.kind === 'folder') {
      sortTree(child);
    }
  }
}

/** A row of the tree as it is shown: the node and its depth. */
export interface ITreeRow {
  node: TreeNode;
  depth: number;
}

/**
 * The visible rows, depth first: a folder's children are listed when its path is in
 * `expanded`. The root itself is not a row.
 */
export function visibleRows(root: IFolderNode, expanded: ReadonlySet<string>): ITreeRow[] {
  const rows: ITreeRow[] = [];
  const walk = (folder: IFolderNode, depth: number): void => {
    for (const child of folder.children) {
      rows.push({ node: child, depth });
      if (child.kind === 'folder' && expanded.has(child.path)) {
        walk(child, depth + 1);
      }
    }
  };
  walk(root, 0);
  return rows;
}

/** How a file is previewed in the panel, from its MIME type and name. */
export type PreviewKind = 'image' | 'table' | 'json' | 'text' | 'none';

const TEXT_EXTENSIONS = /\.(txt|log|md|py|cfg|ini|toml|yaml|yml|xml|html|svg|tsv|dat|out|rst)$/i;

export function previewKind(file: Pick<IOutputFile, 'path' | 'mime_type'>): PreviewKind {
  const mime = file.mime_type ?? '';
  const path = file.path.toLowerCase();
  if (mime.startsWith('image/') && mime !== 'image/svg+xml') {
    return 'image';
  }
  if (path.endsWith('.csv') || mime === 'text/csv') {
    return 'table';
  }
  if (path.endsWith('.json') || mime === 'application/json') {
    return 'json';
  }
  if (mime.startsWith('text/') || TEXT_EXTENSIONS.test(path)) {
    return 'text';
  }
  return 'none';
}
