/**
 * The model behind the panel, following a run's log over a real WebSocket (a `ws` server)
 * while the REST requests are answered by a fake: connection drops, the end of a run, a run
 * deleted or ended while the stream was away, and switching between runs.
 */

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { IOutputFile } from '../../src/util/outputTree';
import { ConnectionState } from '../../src/model/logStream';
import { RunnerModel } from '../../src/model/runnerModel';
import { StreamSettings, TAIL_BYTES } from '../../src/model/shownRun';
import { FakeApi, makeRun } from '../support/fakeApi';
import { bytes, endMessage, logMessage, statusMessage } from '../support/messages';
import { send, sleep, TestServer, waitFor, wsConnect } from '../support/wsServer';

const FILES: IOutputFile[] = [{ path: 'result.csv', size: 12, mtime: 0, mime_type: 'text/csv' }];

/** The connection states the panel was told of (with the reason while reconnecting). */
function connectionStates(model: RunnerModel): string[] {
  const states: string[] = [];
  model.changed.connect(() => {
    const state: ConnectionState = model.connection;
    const shown = state === 'reconnecting' ? `${state}: ${model.connectionReason}` : state;
    if (states[states.length - 1] !== shown) {
      states.push(shown);
    }
  });
  return states;
}

describe('RunnerModel following a run over a real WebSocket', () => {
  let server: TestServer;
  let api: FakeApi;
  let models: RunnerModel[];

  beforeEach(async () => {
    server = new TestServer();
    await server.listen();
    api = new FakeApi(server.root);
    api.runs.set('r1', makeRun('r1'));
    models = [];
  });

  afterEach(async () => {
    for (const model of models) {
      model.dispose();
    }
    await server.close();
  });

  /** A model whose stream uses `ws` and waits 10 ms, then up to 40 ms, between attempts. */
  function makeModel(stream: StreamSettings = {}): RunnerModel {
    const model = new RunnerModel(
      api,
      { workspaceFolder: () => '', reveal: async () => undefined },
      { stream: { connect: wsConnect, initialDelay: 10, maxDelay: 40, ...stream } }
    );
    models.push(model);
    return model;
  }

  it('follows an opened run from the tail of its log and notes the bytes before it', async () => {
    server.handle = conn => send(conn, logMessage('line a\n', 5000));
    const model = makeModel();
    await model.open('r1');
    await waitFor(() => model.log.text() === 'line a', 'the tail of the log');
    expect(server.connections[0].path).toBe('/pyrunner/api/runs/r1/stream');
    expect(server.connections[0].tail).toBe(TAIL_BYTES);
    expect(model.log.skippedBytes).toBe(5000);
    expect(model.connection).toBe('open');
  });

  it('says the connection was lost, then resumes from the last byte received without repeating a line', async () => {
    const two = 'two ✓\n';
    const resumeAt = 104 + bytes(two);
    server.handle = (conn, index) => {
      if (index === 0) {
        send(conn, logMessage('one\n', 100));
        send(conn, logMessage(two, 104));
        return; // dropped by the test
      }
      send(conn, logMessage(two, 104)); // a server replaying from before the offset asked
      send(conn, logMessage('three\n', resumeAt));
    };
    const model = makeModel();
    const states = connectionStates(model);
    await model.open('r1');
    await waitFor(() => model.log.text() === 'one\ntwo ✓', 'the first two lines');
    server.connections[0].socket.terminate();
    await waitFor(() => model.log.text() === 'one\ntwo ✓\nthree', 'the line after the drop');
    expect(server.connections[1].tail).toBeNull();
    expect(server.connections[1].offset).toBe(resumeAt);
    expect(states).toEqual([
      'connecting',
      'open',
      'reconnecting: connection closed (1006)',
      'open'
    ]);
    expect(model.log.skippedBytes).toBe(100); // still where the tail began
    expect(api.calls).toEqual(['getRun r1']); // one blip is not worth asking the server about
  });

  it('at the end of the run, updates it, lists its outputs, refreshes the runs and stays ended', async () => {
    api.outputs.set('r1', FILES);
    server.handle = conn => {
      send(conn, logMessage('done\n', 0));
      api.runs.set('r1', makeRun('r1', { status: 'succeeded', exit_code: 0, duration: 2.5 }));
      send(conn, endMessage(5, { status: 'succeeded', exit_code: 0 }));
      conn.socket.close(1000, 'run finished');
    };
    const model = makeModel();
    await model.open('r1');
    await waitFor(() => model.outputs !== null, 'the outputs');
    expect(model.run).toMatchObject({ status: 'succeeded', exit_code: 0, duration: 2.5 });
    expect(model.outputs).toEqual(FILES);
    await waitFor(() => api.calls.includes('listRuns 30 0'), 'a refresh of the runs');
    await waitFor(() => model.connection === 'ended', 'the close after the end');
    await sleep(100); // ten back-off periods
    expect(server.connections).toHaveLength(1);
  });

  it('applies status messages to the run on show and ignores those about another run', async () => {
    server.handle = conn => {
      send(conn, statusMessage('running', 0.5));
      send(conn, statusMessage('running', 0.9, 'someone-else'));
      send(conn, logMessage('x\n', 0));
    };
    const model = makeModel();
    await model.open('r1');
    await waitFor(() => model.log.text() === 'x', 'the log line after the statuses');
    expect(model.run?.progress).toBe(0.5);
  });

  it('closes a run deleted while its stream keeps failing, and says so', async () => {
    server.handle = conn => conn.socket.terminate();
    const model = makeModel();
    await model.open('r1');
    api.runs.delete('r1'); // deleted from elsewhere (the CLI)
    await waitFor(() => model.run === null, 'the run to be closed');
    expect(model.error).toBe('The run r1 was deleted.');
    expect(server.connections.length).toBeGreaterThanOrEqual(2); // it tried again first
    const attempts = server.connections.length;
    await sleep(100);
    expect(server.connections).toHaveLength(attempts); // and then gave up
    expect(model.connection).toBe('stopped');
  });

  it('shows a run that ended while its stream kept failing as ended, with its outputs', async () => {
    api.outputs.set('r1', FILES);
    server.handle = conn => conn.socket.terminate();
    const model = makeModel();
    await model.open('r1');
    api.runs.set('r1', makeRun('r1', { status: 'failed', exit_code: 1 }));
    await waitFor(() => model.outputs !== null, 'the outputs');
    expect(model.run).toMatchObject({ id: 'r1', status: 'failed', exit_code: 1 });
    expect(model.outputs).toEqual(FILES);
    expect(model.error).toBeNull();
  });

  it('stops at once when the server closes the stream because the run is gone', async () => {
    server.handle = conn => conn.socket.close(4404, 'no such run');
    const model = makeModel();
    const states = connectionStates(model);
    await model.open('r1');
    api.runs.delete('r1');
    await waitFor(() => model.error !== null, 'the message');
    expect(model.error).toBe('The run r1 was deleted.');
    expect(model.run).toBeNull();
    expect(states).not.toContain('reconnecting');
    expect(server.connections).toHaveLength(1);
  });

  it('retries at once when asked (the browser is back online) instead of waiting out the back-off', async () => {
    server.handle = (conn, index) =>
      index === 0 ? conn.socket.terminate() : send(conn, logMessage('back\n', 0));
    const model = makeModel({ initialDelay: 60_000, maxDelay: 60_000 });
    await model.open('r1');
    await waitFor(() => model.connection === 'reconnecting', 'the drop');
    model.reconnectNow();
    await waitFor(() => model.log.text() === 'back', 'the log after retrying');
    expect(server.connections).toHaveLength(2);
  });

  it('stops following the previous run when another is opened', async () => {
    api.runs.set('r2', makeRun('r2'));
    server.handle = conn => send(conn, logMessage(`from ${conn.path.split('/')[4]}\n`, 0));
    const model = makeModel();
    await model.open('r1');
    await waitFor(() => model.log.text() === 'from r1', 'the first run');
    await model.open('r2');
    await waitFor(() => model.log.text() === 'from r2', 'the second run');
    expect((await server.connections[0].closed).code).toBe(1000);
    expect(server.connections[1].path).toBe('/pyrunner/api/runs/r2/stream');
    expect(model.run?.id).toBe('r2');
  });

  it('closing the run stops its stream for good', async () => {
    server.handle = conn => send(conn, logMessage('hi\n', 0));
    const model = makeModel();
    await model.open('r1');
    await waitFor(() => model.log.text() === 'hi', 'the log');
    model.close();
    expect(model.run).toBeNull();
    expect(model.connection).toBe('stopped');
    expect(model.log.text()).toBe('');
    expect((await server.connections[0].closed).code).toBe(1000);
    await sleep(100);
    expect(server.connections).toHaveLength(1);
  });

  it('follows the run on show again from its tail, into a new log, when the log limit changes', async () => {
    server.handle = (conn, index) => send(conn, logMessage(`pass ${index}\n`, 0));
    const model = makeModel();
    await model.open('r1');
    await waitFor(() => model.log.text() === 'pass 0', 'the first pass');
    const before = model.log;
    model.setMaxLogLines(10);
    await waitFor(() => model.log.text() === 'pass 1', 'the second pass');
    expect(model.log).not.toBe(before);
    expect(model.log.maxLines).toBe(10);
    expect(server.connections[1].tail).toBe(TAIL_BYTES);
    expect((await server.connections[0].closed).code).toBe(1000);
    expect(api.calls).toEqual(['getRun r1']); // the record on show is enough
  });

  it('marks the run on show as ended when the list of runs says so while the stream is away', async () => {
    api.outputs.set('r1', FILES);
    server.handle = conn => conn.socket.terminate();
    const model = makeModel({ initialDelay: 60_000, maxDelay: 60_000 }); // one drop, no retry
    await model.open('r1');
    await waitFor(() => model.connection === 'reconnecting', 'the drop');
    api.runs.set('r1', makeRun('r1', { status: 'succeeded', exit_code: 0 }));
    await model.refreshHistory();
    expect(model.run?.status).toBe('succeeded');
    await waitFor(() => model.outputs !== null, 'the outputs');
    expect(model.outputs).toEqual(FILES);
  });

  it('starts a run of a workspace path and follows it at once', async () => {
    api.runs.clear();
    server.handle = conn => send(conn, logMessage('started\n', 0));
    const model = makeModel();
    await model.runPath('projects/demo.zip');
    expect(api.started).toEqual([{ path: 'projects/demo.zip' }]);
    expect(model.form.source).toEqual({
      kind: 'path',
      name: 'demo.zip',
      path: 'projects/demo.zip'
    });
    await waitFor(() => model.log.text() === 'started', 'the log of the new run');
    expect(server.connections[0].path).toBe('/pyrunner/api/runs/r1/stream');
    expect(model.run?.id).toBe('r1');
  });
});
