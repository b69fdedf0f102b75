import { unzipSync, strFromU8 } from 'fflate';
import { describe, expect, it } from 'vitest';

import { filesOfSelection, isSkipped, zipFolder } from '../../src/util/zipFolder';

/** A File as `<input webkitdirectory>` gives it: the path inside the chosen folder is kept. */
function picked(path: string, text: string): File {
  const file = new File([text], path.split('/').pop()!);
  Object.defineProperty(file, 'webkitRelativePath', { value: path });
  return file;
}

describe('isSkipped', () => {
  it('skips caches, environments and version control at any depth', () => {
    expect(isSkipped('proj/.git/config')).toBe(true);
    expect(isSkipped('proj/src/__pycache__/m.cpython-311.pyc')).toBe(true);
    expect(isSkipped('proj/.venv/bin/python')).toBe(true);
    expect(isSkipped('proj/node_modules/x/index.js')).toBe(true);
  });

  it('keeps project files, even ones named like a skipped folder', () => {
    expect(isSkipped('proj/main.py')).toBe(false);
    expect(isSkipped('proj/data/venv')).toBe(false); // a file called venv
    expect(isSkipped('proj/gitlog/.gitignore')).toBe(false);
  });
});

describe('a folder picked in the browser becomes one zip', () => {
  it('keeps the paths and contents and leaves skipped folders out', async () => {
    const files = filesOfSelection([
      picked('proj/main.py', 'print("hi")\n'),
      picked('proj/lib/helper.py', 'X = 1\n'),
      picked('proj/requirements.txt', 'numpy\n'),
      picked('proj/__pycache__/main.cpython-311.pyc', 'junk'),
      picked('proj/.git/HEAD', 'ref: refs/heads/main')
    ]);
    expect(files.map(f => f.path)).toEqual([
      'proj/main.py',
      'proj/lib/helper.py',
      'proj/requirements.txt'
    ]);

    const blob = await zipFolder(files);
    expect(blob.type).toBe('application/zip');
    const entries = unzipSync(new Uint8Array(await blob.arrayBuffer()));
    expect(Object.keys(entries).sort()).toEqual([
      'proj/lib/helper.py',
      'proj/main.py',
      'proj/requirements.txt'
    ]);
    expect(strFromU8(entries['proj/main.py'])).toBe('print("hi")\n');
    expect(strFromU8(entries['proj/lib/helper.py'])).toBe('X = 1\n');
  });

  it('keeps binary contents byte for byte', async () => {
    const bytes = new Uint8Array(70000).map((_, i) => (i * 7919) % 256);
    const file = new File([bytes], 'blob.bin');
    Object.defineProperty(file, 'webkitRelativePath', { value: 'proj/blob.bin' });
    const entries = unzipSync(
      new Uint8Array(await (await zipFolder(filesOfSelection([file]))).arrayBuffer())
    );
    expect(entries['proj/blob.bin']).toEqual(bytes);
  });
});
