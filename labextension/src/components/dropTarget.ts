/**
 * What was dropped, as sources the panel can run: files and folders from the desktop
 * (HTML drag and drop) or items dragged from JupyterLab's file browser (Lumino drag).
 */

import { Drag } from '@lumino/dragdrop';

import { filesOfEntry, filesOfSelection, IFolderFile, zipFolder } from '../util/zipFolder';
import { Source } from '../model/runForm';

/** The MIME type JupyterLab's file browser puts its dragged paths under. */
export const CONTENTS_MIME = 'application/x-jupyter-icontents';

/** Sources from a desktop drop; folders are zipped in the browser. */
export async function sourcesFromDataTransfer(data: DataTransfer): Promise<Source[]> {
  const entries: FileSystemEntry[] = [];
  const plain: File[] = [];
  for (const item of Array.from(data.items ?? [])) {
    if (item.kind !== 'file') {
      continue;
    }
    const entry = typeof item.webkitGetAsEntry === 'function' ? item.webkitGetAsEntry() : null;
    if (entry?.isDirectory) {
      entries.push(entry);
    } else {
      const file = item.getAsFile();
      if (file) {
        plain.push(file);
      }
    }
  }
  if (!data.items?.length) {
    plain.push(...Array.from(data.files ?? []));
  }
  const sources: Source[] = plain.map(file => ({
    kind: 'file',
    name: file.name,
    file,
    size: file.size
  }));
  for (const entry of entries) {
    sources.push(await zipped(entry.name, await filesOfEntry(entry)));
  }
  return sources;
}

/** A folder picked with `<input webkitdirectory>`, zipped. */
export async function sourceFromFolderSelection(files: FileList): Promise<Source | null> {
  const items = filesOfSelection(files);
  if (items.length === 0) {
    return null;
  }
  const folder = items[0].path.split('/')[0] || 'project';
  return zipped(folder, items);
}

async function zipped(folder: string, files: IFolderFile[]): Promise<Source> {
  const blob = await zipFolder(files);
  return { kind: 'file', name: `${folder}.zip`, file: blob, size: blob.size };
}

/** Server paths dragged from the file browser. */
export function sourcesFromLuminoDrag(event: Drag.Event): Source[] {
  const paths = event.mimeData.getData(CONTENTS_MIME) as string[] | undefined;
  if (!Array.isArray(paths)) {
    return [];
  }
  return paths.map(path => ({
    kind: 'path',
    name: path.split('/').pop() || path,
    path: stripDrive(path)
  }));
}

/** `"RTC:folder/x.zip"` → `"folder/x.zip"`: the server API takes paths of its own contents. */
export function stripDrive(path: string): string {
  const colon = path.indexOf(':');
  const slash = path.indexOf('/');
  return colon > 0 && (slash === -1 || colon < slash) ? path.slice(colon + 1) : path;
}

/**
 * Listen for both kinds of drop on `node`. `onSources` gets what was dropped;
 * `onHover` says when something hovers (to highlight the zone).
 */
export function installDropTarget(
  node: HTMLElement,
  onSources: (sources: Promise<Source[]>) => void,
  onHover: (hovering: boolean) => void
): () => void {
  const html = (event: DragEvent): void => {
    if (!event.dataTransfer || !Array.from(event.dataTransfer.types).includes('Files')) {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
    if (event.type === 'dragover' || event.type === 'dragenter') {
      event.dataTransfer.dropEffect = 'copy';
      onHover(true);
    } else if (event.type === 'dragleave') {
      if (!node.contains(event.relatedTarget as Node | null)) {
        onHover(false);
      }
    } else if (event.type === 'drop') {
      onHover(false);
      onSources(sourcesFromDataTransfer(event.dataTransfer));
    }
  };
  const lumino = (event: Event): void => {
    const drag = event as Drag.Event;
    if (!drag.mimeData?.hasData(CONTENTS_MIME)) {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
    if (event.type === 'lm-dragenter' || event.type === 'lm-dragover') {
      // the file browser offers only 'move'; asking for another action would refuse the drop.
      // Nothing is moved: the file browser ignores what becomes of its drags.
      drag.dropAction = drag.proposedAction;
      onHover(true);
    } else if (event.type === 'lm-dragleave') {
      if (!node.contains(drag.relatedTarget as Node | null)) {
        onHover(false);
      }
    } else if (event.type === 'lm-drop') {
      onHover(false);
      drag.dropAction = drag.proposedAction;
      onSources(Promise.resolve(sourcesFromLuminoDrag(drag)));
    }
  };
  const htmlTypes = ['dragenter', 'dragover', 'dragleave', 'drop'] as const;
  const luminoTypes = ['lm-dragenter', 'lm-dragover', 'lm-dragleave', 'lm-drop'];
  htmlTypes.forEach(type => node.addEventListener(type, html));
  luminoTypes.forEach(type => node.addEventListener(type, lumino));
  return () => {
    htmlTypes.forEach(type => node.removeEventListener(type, html));
    luminoTypes.forEach(type => node.removeEventListener(type, lumino));
  };
}
