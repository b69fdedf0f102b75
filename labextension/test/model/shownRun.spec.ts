/**
 * The run on show lists both sections of its outputs, and forgets them for another run.
 */

import { describe, expect, it } from 'vitest';

import { ShownRun } from '../../src/model/shownRun';
import { IOutputListing } from '../../src/util/outputSections';
import { FakeApi, makeRun } from '../support/fakeApi';

const LISTING: IOutputListing = {
  files: [{ path: 'output_1/port.txt', size: 4, mtime: 0, mime_type: 'text/plain' }],
  total_size: 4,
  project_files: [{ path: 'test.png', size: 9, mtime: 0, mime_type: 'image/png' }],
  project_total_size: 9,
  project_zip_folder: 'project (2)'
};

function shownRun(api: FakeApi): ShownRun {
  return new ShownRun(
    api,
    { workspaceFolder: () => '', reveal: async () => undefined },
    { onError: () => undefined, onEnded: () => undefined }
  );
}

describe('ShownRun outputs', () => {
  it('lists the files written beside the code beside those of OUTPUT_FOLDER', async () => {
    const api = new FakeApi();
    api.listOutputs = async () => LISTING;
    const shown = shownRun(api);
    shown.show(makeRun('r1', { status: 'succeeded' }));
    await shown.loadOutputs('r1');
    expect(shown.outputs).toEqual(LISTING.files);
    expect(shown.projectFiles).toEqual(LISTING.project_files);
    expect(shown.projectZipFolder).toBe('project (2)');

    shown.show(makeRun('r2', { status: 'running' }));
    expect(shown.projectFiles).toBeNull(); // another run: nothing of the first is shown
    shown.dispose();
  });
});
