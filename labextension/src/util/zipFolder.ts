/**
 * A folder dropped or chosen from the desktop becomes one zip, built in the browser, so
 * that it goes up as a single upload like any zipped project.
 */

import { zip, Zippable } from 'fflate';

/** Folders never worth sending: caches, virtual environments, version control. */
const SKIPPED = new Set([
  '.git',
  '.hg',
  '.svn',
  '__pycache__',
  '.venv',
  'venv',
  'node_modules',
  '.ipynb_checkpoints',
  '.mypy_cache',
  '.pytest_cache'
]);

/**
 * True if a relative path (starting with the chosen folder's own name) goes through a
 * skipped folder; the chosen folder itself may have any name.
 */
export function isSkipped(relativePath: string): boolean {
  return relativePath
    .split('/')
    .slice(1, -1)
    .some(part => SKIPPED.has(part));
}

/** A folder is zipped in the page's memory: past this, zip it on the desktop and drop the zip. */
export const MAX_FOLDER_BYTES = 256 * 1024 * 1024;

export interface IFolderFile {
  /** Path inside the folder, with `/` separators, starting with the folder's name. */
  path: string;
  file: File;
}

/** Every file of a dropped directory entry (the drag-and-drop file system API). */
export async function filesOfEntry(entry: FileSystemEntry): Promise<IFolderFile[]> {
  const out: IFolderFile[] = [];
  const walk = async (item: FileSystemEntry, prefix: string): Promise<void> => {
    const path = prefix ? `${prefix}/${item.name}` : item.name;
    if (item.isFile) {
      const file = await new Promise<File>((resolve, reject) =>
        (item as FileSystemFileEntry).file(resolve, reject)
      );
      out.push({ path, file });
      return;
    }
    if (SKIPPED.has(item.name) && prefix) {
      return;
    }
    const reader = (item as FileSystemDirectoryEntry).createReader();
    for (;;) {
      // readEntries returns the entries in batches until an empty one
      const batch = await new Promise<FileSystemEntry[]>((resolve, reject) =>
        reader.readEntries(resolve, reject)
      );
      if (batch.length === 0) {
        break;
      }
      for (const child of batch) {
        await walk(child, path);
      }
    }
  };
  await walk(entry, '');
  return out;
}

/** The files of an `<input type="file" webkitdirectory>` selection. */
export function filesOfSelection(files: FileList | File[]): IFolderFile[] {
  return Array.from(files)
    .map(file => ({ path: file.webkitRelativePath || file.name, file }))
    .filter(item => !isSkipped(item.path));
}

/** Zip the files (stored, not compressed: uploads are local, and Python code is small). */
export async function zipFolder(files: IFolderFile[]): Promise<Blob> {
  const total = files.reduce((sum, item) => sum + item.file.size, 0);
  if (total > MAX_FOLDER_BYTES) {
    const mb = Math.round(total / 1024 ** 2);
    throw new Error(
      `the folder holds ${mb} MB, too much to zip in the browser (the limit is 256 MB): zip it yourself and drop the .zip`
    );
  }
  const tree: Zippable = {};
  for (const { path, file } of files) {
    tree[path] = [new Uint8Array(await file.arrayBuffer()), { level: 0 }];
  }
  const bytes = await new Promise<Uint8Array>((resolve, reject) =>
    zip(tree, { level: 0 }, (error, data) => (error ? reject(error) : resolve(data)))
  );
  return new Blob([bytes], { type: 'application/zip' });
}
