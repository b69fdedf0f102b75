import { describe, expect, it } from 'vitest';

import { ApiError, IUpload } from '../../src/util/runnerApi';
import { IUploadProgress } from '../../src/util/uploadFile';
import { IUploadState, RunForm, Source, Uploader } from '../../src/model/runForm';
import { deferred, FakeApi, IDeferred } from '../support/fakeApi';

/** One call of the uploader; the test finishes it with `done`. */
interface IUploadCall {
  name: string;
  file: Blob;
  onProgress: (progress: IUploadProgress) => void;
  signal: AbortSignal | undefined;
  done: IDeferred<IUpload>;
}

/**
 * An uploader that holds each upload until the test finishes it, and fails it when its
 * signal is aborted, as `uploadFile` does (which needs a browser's XMLHttpRequest).
 */
function fakeUploader(): { upload: Uploader; calls: IUploadCall[] } {
  const calls: IUploadCall[] = [];
  const upload: Uploader = (_api, file, name, onProgress, signal) => {
    const done = deferred<IUpload>();
    signal?.addEventListener('abort', () =>
      done.reject(new ApiError(`The upload of "${name}" was cancelled.`, 0))
    );
    calls.push({ name, file, onProgress, signal, done });
    return done.promise;
  };
  return { upload, calls };
}

function picked(name: string, size = 10): Source {
  return { kind: 'file', name, file: new Blob(['x'.repeat(size)]), size };
}

function inWorkspace(path: string): Source {
  return { kind: 'path', name: path.split('/').pop()!, path };
}

function uploaded(name: string, id: string): IUpload {
  return { upload_id: id, filename: name, size: 10, sha256: '0'.repeat(64) };
}

/** Let the awaits inside `submit()` move on. */
const settle = (): Promise<void> => new Promise(resolve => setTimeout(resolve, 0));

function makeForm(): { form: RunForm; api: FakeApi; calls: IUploadCall[] } {
  const api = new FakeApi();
  const { upload, calls } = fakeUploader();
  return { form: new RunForm(api, upload), api, calls };
}

describe('RunForm: what is about to run', () => {
  it('asks for a run of a workspace path as it is, uploading nothing', async () => {
    const { form, api, calls } = makeForm();
    form.setSource(inWorkspace('projects/demo.zip'));
    const record = await form.submit();
    expect(api.started).toEqual([{ path: 'projects/demo.zip' }]);
    expect(calls).toHaveLength(0);
    expect(record.id).toBe('r1');
  });

  it('uploads a picked project first and asks for the run by its upload id', async () => {
    const { form, api, calls } = makeForm();
    form.setSource(picked('demo.zip'));
    const submitted = form.submit();
    await settle();
    expect(calls.map(c => c.name)).toEqual(['demo.zip']);
    expect(api.started).toEqual([]); // not before the upload is done
    calls[0].done.resolve(uploaded('demo.zip', 'up-1'));
    await submitted;
    expect(api.started).toEqual([{ upload_id: 'up-1' }]);
  });

  it('refuses to run without a project', async () => {
    const { form, api } = makeForm();
    await expect(form.submit()).rejects.toThrow('Choose a project first.');
    expect(api.started).toEqual([]);
  });

  it('emits changed on every edit', () => {
    const { form } = makeForm();
    let changes = 0;
    form.changed.connect(() => (changes += 1));
    form.setSource(inWorkspace('a.zip'));
    form.addInputs([inWorkspace('in.csv')]);
    form.removeInput(0);
    form.setArgs('-v');
    form.setTimeout('5');
    form.setLayout('flat');
    expect(changes).toBe(6);
  });
});

describe('RunForm: input files', () => {
  it('keeps inputs in the order added and removes the one at an index', () => {
    const { form } = makeForm();
    form.addInputs([inWorkspace('a.csv'), inWorkspace('b.csv')]);
    form.addInputs([inWorkspace('c.csv')]);
    form.removeInput(1);
    expect(form.inputs.map(input => input.name)).toEqual(['a.csv', 'c.csv']);
  });

  it('uploads picked inputs one after the other and passes workspace inputs on, in order', async () => {
    const { form, api, calls } = makeForm();
    form.setSource(inWorkspace('demo.zip'));
    form.addInputs([picked('one.csv'), inWorkspace('data/two.csv'), picked('three.csv')]);
    const submitted = form.submit();
    await settle();
    expect(calls.map(c => c.name)).toEqual(['one.csv']); // one upload at a time
    calls[0].done.resolve(uploaded('one.csv', 'up-1'));
    await settle();
    expect(calls.map(c => c.name)).toEqual(['one.csv', 'three.csv']);
    calls[1].done.resolve(uploaded('three.csv', 'up-3'));
    await submitted;
    expect(api.started).toEqual([{ path: 'demo.zip', inputs: ['up-1', 'data/two.csv', 'up-3'] }]);
  });
});

describe('RunForm: arguments and timeout', () => {
  async function requestFor(args: string, timeout: string): Promise<unknown> {
    const { form, api } = makeForm();
    form.setSource(inWorkspace('demo.zip'));
    form.setArgs(args);
    form.setTimeout(timeout);
    await form.submit();
    return api.started[0];
  }

  it('splits the arguments the way a shell would', async () => {
    expect(await requestFor(`--steps 10 "a b" 'c d'`, '')).toEqual({
      path: 'demo.zip',
      args: ['--steps', '10', 'a b', 'c d']
    });
  });

  it('leaves out arguments and timeout when only spaces are typed', async () => {
    expect(await requestFor('   ', '  ')).toEqual({ path: 'demo.zip' });
  });

  it('sends the timeout as a number of seconds, decimals and surrounding spaces allowed', async () => {
    expect(await requestFor('', ' 90 ')).toEqual({ path: 'demo.zip', timeout: 90 });
    expect(await requestFor('', '1.5')).toEqual({ path: 'demo.zip', timeout: 1.5 });
  });

  it('refuses arguments with an unclosed quote before uploading anything', async () => {
    const { form, api, calls } = makeForm();
    form.setSource(picked('demo.zip'));
    form.setArgs('--name "unfinished');
    await expect(form.submit()).rejects.toThrow('The arguments have an unclosed quote.');
    expect(calls).toHaveLength(0);
    expect(api.started).toEqual([]);
    expect(form.starting).toBe(false);
  });

  it.each(['abc', '0', '-5', 'Infinity'])(
    'refuses the timeout %j: it must be a number of seconds above 0',
    async timeout => {
      const { form, api } = makeForm();
      form.setSource(inWorkspace('demo.zip'));
      form.setTimeout(timeout);
      await expect(form.submit()).rejects.toThrow(
        'The timeout is a number of seconds, more than 0.'
      );
      expect(api.started).toEqual([]);
      expect(form.starting).toBe(false);
    }
  );
});

describe('RunForm: the input layout', () => {
  it('asks for the flat layout when chosen, and leaves the default to the server', async () => {
    const { form, api } = makeForm();
    form.setSource(inWorkspace('demo.zip'));
    expect(form.layout).toBe('ports');
    await form.submit();
    form.setLayout('flat');
    await form.submit();
    expect(api.started).toEqual([{ path: 'demo.zip' }, { path: 'demo.zip', layout: 'flat' }]);
  });

  it('keeps the chosen layout after the server refuses the run', async () => {
    const { form, api } = makeForm();
    api.failing.set('startRun', new ApiError('input 1 and the project both have x.csv', 400));
    form.setSource(inWorkspace('demo.zip'));
    form.setLayout('flat');
    await expect(form.submit()).rejects.toThrow('both have x.csv');
    expect(form.layout).toBe('flat');
  });
});

describe('RunForm: the upload and the start', () => {
  it('shows the upload from its first byte, follows its progress and clears it once done', async () => {
    const { form, calls } = makeForm();
    form.setSource(picked('demo.zip', 1000));
    const seen: (IUploadState | null)[] = [];
    form.changed.connect(() => seen.push(form.upload && { ...form.upload }));
    const submitted = form.submit();
    await settle();
    expect(form.upload).toEqual({ name: 'demo.zip', loaded: 0, total: 1000, speed: 0 });
    calls[0].onProgress({ loaded: 400, total: 1000, speed: 200 });
    expect(form.upload).toEqual({ name: 'demo.zip', loaded: 400, total: 1000, speed: 200 });
    calls[0].done.resolve(uploaded('demo.zip', 'up-1'));
    await submitted;
    expect(form.upload).toBeNull();
    expect(seen).toContainEqual({ name: 'demo.zip', loaded: 400, total: 1000, speed: 200 });
    expect(seen[seen.length - 1]).toBeNull();
  });

  it('is starting from submit until the server answers, and refuses a second submit meanwhile', async () => {
    const { form, api, calls } = makeForm();
    form.setSource(picked('demo.zip'));
    const submitted = form.submit();
    expect(form.starting).toBe(true);
    await expect(form.submit()).rejects.toThrow(
      'Another run is being started: wait for its upload to finish.'
    );
    await settle();
    calls[0].done.resolve(uploaded('demo.zip', 'up-1'));
    await submitted;
    expect(form.starting).toBe(false);
    expect(api.started).toHaveLength(1);
  });

  it('Stop cancels the upload under way: the run is not asked for and the form is ready again', async () => {
    const { form, api, calls } = makeForm();
    form.setSource(picked('demo.zip'));
    const submitted = form.submit();
    await settle();
    expect(calls[0].signal?.aborted).toBe(false);
    form.abortUpload();
    expect(calls[0].signal?.aborted).toBe(true);
    await expect(submitted).rejects.toThrow('The upload of "demo.zip" was cancelled.');
    expect(api.started).toEqual([]);
    expect(form.starting).toBe(false);
    expect(form.upload).toBeNull();
    expect(form.source?.name).toBe('demo.zip'); // kept, to run it again
  });

  it('keeps the project and options after the server refuses the run', async () => {
    const { form, api } = makeForm();
    api.failing.set('startRun', new ApiError('No main.py in the project.', 400));
    form.setSource(inWorkspace('demo.zip'));
    form.addInputs([inWorkspace('in.csv')]);
    form.setArgs('-v');
    form.setTimeout('30');
    await expect(form.submit()).rejects.toThrow('No main.py in the project.');
    expect(form.source?.name).toBe('demo.zip');
    expect(form.inputs.map(input => input.name)).toEqual(['in.csv']);
    expect([form.args, form.timeout]).toEqual(['-v', '30']);
    expect(form.starting).toBe(false);
  });

  it('cancels an upload under way when disposed', async () => {
    const { form, calls } = makeForm();
    form.setSource(picked('demo.zip'));
    const submitted = form.submit();
    await settle();
    form.dispose();
    expect(calls[0].signal?.aborted).toBe(true);
    await expect(submitted).rejects.toThrow('was cancelled');
  });
});
