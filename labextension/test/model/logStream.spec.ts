import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import {
  backoff,
  ConnectionState,
  IEndMessage,
  ILogMessage,
  IStatusMessage,
  LogStream,
  unseenPart
} from '../../src/model/logStream';
import { bytes, endMessage, logMessage, statusMessage } from '../support/messages';
import { send, sleep, TestServer, waitFor, wsConnect } from '../support/wsServer';

describe('backoff', () => {
  it('doubles from the initial delay up to the maximum', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 10].map(a => backoff(a))).toEqual([
      250, 500, 1000, 2000, 4000, 8000, 8000, 8000
    ]);
    expect([1, 2, 3, 4, 5].map(a => backoff(a, 10, 40))).toEqual([10, 20, 40, 40, 40]);
  });

  it('treats attempts below 1 as the first', () => {
    expect(backoff(0)).toBe(250);
    expect(backoff(-3, 10)).toBe(10);
  });
});

describe('unseenPart', () => {
  const message = logMessage('aé€b', 100); // bytes: a=1, é=2, €=3, b=1 → 100..107

  it('returns null when the whole message was already seen', () => {
    expect(message.next_offset).toBe(107);
    expect(unseenPart(message, 107)).toBeNull();
    expect(unseenPart(message, 500)).toBeNull();
  });

  it('returns the message unchanged when it starts at or after the offset', () => {
    expect(unseenPart(message, 100)).toBe(message);
    expect(unseenPart(message, 20)).toBe(message);
  });

  it('slices a partial overlap on UTF-8 bytes, multi-byte characters included', () => {
    expect(unseenPart(message, 101)).toEqual({ ...message, text: 'é€b', offset: 101 });
    expect(unseenPart(message, 103)).toEqual({ ...message, text: '€b', offset: 103 });
    expect(unseenPart(message, 106)).toEqual({
      ...message,
      text: 'b',
      offset: 106,
      next_offset: 107
    });
  });

  it('does not modify the message it was given', () => {
    const copy = { ...message };
    unseenPart(message, 103);
    expect(message).toEqual(copy);
  });
});

interface IRecorder {
  logs: ILogMessage[];
  statuses: IStatusMessage[];
  ends: IEndMessage[];
  states: { state: ConnectionState; attempt: number; reason: string }[];
  connects: string[];
  text(): string;
}

function makeStream(
  server: TestServer,
  options: { initialDelay?: number; maxDelay?: number } = {}
): { stream: LogStream; rec: IRecorder } {
  const rec: IRecorder = {
    logs: [],
    statuses: [],
    ends: [],
    states: [],
    connects: [],
    text: () => rec.logs.map(m => m.text).join('')
  };
  const stream = new LogStream({
    url: (offset, tail) => server.url(offset, tail),
    connect: url => {
      rec.connects.push(url);
      return wsConnect(url);
    },
    onLog: m => rec.logs.push(m),
    onStatus: m => rec.statuses.push(m),
    onEnd: m => rec.ends.push(m),
    onConnection: (state, detail) => rec.states.push({ state, ...detail }),
    initialDelay: options.initialDelay ?? 10,
    maxDelay: options.maxDelay ?? 40
  });
  return { stream, rec };
}

/** The connection states with consecutive repeats collapsed. */
function stateSequence(rec: IRecorder): ConnectionState[] {
  return rec.states.map(s => s.state).filter((s, i, all) => i === 0 || all[i - 1] !== s);
}

describe('LogStream against a real WebSocket server', () => {
  let server: TestServer;
  let streams: LogStream[];

  beforeEach(async () => {
    server = new TestServer();
    streams = [];
    await server.listen();
  });

  afterEach(async () => {
    for (const stream of streams) {
      stream.stop();
    }
    await server.close();
  });

  function follow(options?: { initialDelay?: number; maxDelay?: number }): {
    stream: LogStream;
    rec: IRecorder;
  } {
    const made = makeStream(server, options);
    streams.push(made.stream);
    return made;
  }

  it('asks on first connect for the offset given to start', async () => {
    const { stream, rec } = follow();
    stream.start(42);
    await waitFor(() => server.connections.length === 1, 'the connection');
    expect(server.connections[0].offset).toBe(42);
    expect(server.connections[0].path).toBe('/pyrunner/runs/r1/stream');
    expect(rec.connects).toEqual([server.url(42)]);
    expect(stream.offset).toBe(42);
  });

  it('asks for a tail first, then resumes from offsets once the tail is placed', async () => {
    const before = 'old line\n'.repeat(100); // never sent: the tail starts after it
    const start = bytes(before);
    server.handle = (conn, index) => {
      if (index === 0) {
        send(conn, logMessage('line a\n', start));
        return; // dropped by the test after this message
      }
      send(conn, logMessage('line b\n', conn.offset));
      send(conn, endMessage(conn.offset + bytes('line b\n')));
      conn.socket.close(1000, 'run finished');
    };
    const { stream, rec } = follow();
    stream.start(0, 64);
    await waitFor(() => rec.logs.length === 1, 'the tail');
    expect(server.connections[0].tail).toBe(64);
    expect(rec.logs[0].offset).toBe(start); // where the tail begins, for the panel to say so
    server.connections[0].socket.terminate();
    await waitFor(() => stream.state === 'ended', 'the end');
    expect(server.connections[1].tail).toBeNull();
    expect(server.connections[1].offset).toBe(start + bytes('line a\n'));
    expect(rec.text()).toBe('line a\nline b\n');
  });

  it('asks for the tail again when the connection drops before anything arrived', async () => {
    server.handle = (conn, index) => {
      if (index === 0) {
        conn.socket.terminate();
        return;
      }
      send(conn, logMessage('x\n', 500));
      send(conn, endMessage(502));
      conn.socket.close(1000, 'run finished');
    };
    const { stream, rec } = follow();
    stream.start(0, 100);
    await waitFor(() => stream.state === 'ended', 'the end');
    expect(server.connections.map(c => c.tail)).toEqual([100, 100]);
    expect(rec.text()).toBe('x\n');
  });

  it('delivers log messages in order and advances offset to next_offset', async () => {
    const parts = ['line 1\n', 'línea 2 ✓\n', 'err\n', 'last'];
    const messages: ILogMessage[] = [];
    let at = 0;
    for (const [i, text] of parts.entries()) {
      messages.push(logMessage(text, at, i === 2 ? 'stderr' : 'stdout'));
      at += bytes(text);
    }
    server.handle = conn => {
      send(conn, statusMessage('running', null));
      for (const m of messages) {
        send(conn, m);
      }
    };
    const { stream, rec } = follow();
    stream.start(0);
    await waitFor(() => rec.logs.length === parts.length, 'all log messages');
    expect(rec.logs).toEqual(messages);
    expect(rec.text()).toBe(parts.join(''));
    expect(stream.offset).toBe(at);
    expect(stream.offset).toBe(messages[messages.length - 1].next_offset);
    expect(rec.statuses).toEqual([statusMessage('running', null)]);
    expect(stream.state).toBe('open');
  });

  it('reconnects by itself after the connection drops, from the last next_offset, without duplicate text', async () => {
    const full = 'héllo wörld\nstep 1 ✓\nstep 2 ✓\nbye 日本\n';
    const first = ['héllo ', 'wörld\nstep 1 ✓\n']; // sent before the drop
    const firstEnd = bytes(first.join(''));
    const overlap = 'step 1 ✓\nstep 2 ✓\n'; // starts before firstEnd: its first line was seen
    const overlapFrom = bytes('héllo wörld\n');
    const tail = 'bye 日本\n';
    const tailFrom = bytes('héllo wörld\nstep 1 ✓\nstep 2 ✓\n');
    expect(first.join('') + overlap.slice('step 1 ✓\n'.length) + tail).toBe(full);
    server.handle = (conn, index) => {
      if (index === 0) {
        send(conn, logMessage(first[0], 0));
        send(conn, logMessage(first[1], bytes(first[0])));
        return; // the test terminates this connection once both were delivered
      }
      // the server replays from before the offset asked: a message seen entirely, then one
      // whose first part (with multi-byte characters) was seen
      send(conn, logMessage(first[0], 0));
      send(conn, logMessage(overlap, overlapFrom));
      send(conn, logMessage(tail, tailFrom));
      send(conn, endMessage(bytes(full)));
      conn.socket.close(1000, 'run finished');
    };
    const { stream, rec } = follow();
    stream.start(0);
    await waitFor(() => rec.logs.length === 2, 'the first two messages');
    expect(stream.offset).toBe(firstEnd);
    server.connections[0].socket.terminate(); // the network drops mid-run

    await waitFor(() => stream.state === 'ended', 'the end of the run');
    expect(server.connections).toHaveLength(2);
    expect(server.connections[1].offset).toBe(firstEnd);
    expect(rec.connects[1]).toBe(server.url(firstEnd));
    expect(rec.text()).toBe(full);
    expect(rec.logs.map(m => [m.offset, m.next_offset])).toEqual([
      [0, bytes(first[0])],
      [bytes(first[0]), firstEnd],
      [firstEnd, tailFrom],
      [tailFrom, bytes(full)]
    ]);
    expect(stream.offset).toBe(bytes(full));
    expect(rec.ends).toHaveLength(1);
  });

  it('reconnects again and again while the server keeps dropping, each time from the last offset', async () => {
    const chunks = ['a\n', 'ß\n', '€\n', 'end\n'];
    let at = 0;
    const offsets = chunks.map(c => {
      const o = at;
      at += bytes(c);
      return o;
    });
    server.handle = (conn, index) => {
      if (index < chunks.length) {
        // drop right after the message was written out
        conn.socket.send(JSON.stringify(logMessage(chunks[index], offsets[index])), () =>
          setTimeout(() => conn.socket.terminate(), 5)
        );
      } else {
        send(conn, endMessage(at));
        conn.socket.close(1000, '');
      }
    };
    const { stream, rec } = follow();
    stream.start(0);
    await waitFor(() => stream.state === 'ended', 'the end of the run');
    expect(server.connections.map(c => c.offset)).toEqual([...offsets, at]);
    expect(rec.text()).toBe(chunks.join(''));
    // each connection delivered a message, so each drop starts the backoff over at attempt 1
    const drops = rec.states.filter(s => s.state === 'reconnecting' && s.reason !== '');
    expect(drops.map(s => s.attempt)).toEqual([1, 1, 1, 1]);
  });

  it('ends on an end message: state ended, onEnd called, no reconnect', async () => {
    server.handle = conn => {
      send(conn, logMessage('all\n', 0));
      send(conn, endMessage(4));
      conn.socket.close(1000, 'finished');
    };
    const { stream, rec } = follow();
    stream.start(0);
    await waitFor(() => stream.state === 'ended', 'ended');
    expect(rec.ends).toEqual([endMessage(4)]);
    expect(stream.offset).toBe(4);
    expect(rec.states[rec.states.length - 1]).toEqual({
      state: 'ended',
      attempt: 0,
      reason: 'finished'
    });
    await sleep(100); // ten initial backoff periods
    expect(server.connections).toHaveLength(1);
    expect(rec.connects).toHaveLength(1);
    expect(stream.state).toBe('ended');
  });

  it('takes the end message next_offset as the offset', async () => {
    server.handle = conn => {
      send(conn, endMessage(1234));
      conn.socket.close(1000, '');
    };
    const { stream } = follow();
    stream.start(10);
    await waitFor(() => stream.state === 'ended', 'ended');
    expect(stream.offset).toBe(1234);
  });

  it('stops without reconnecting when the server closes with code 1011', async () => {
    server.handle = conn => conn.socket.close(1011, 'run deleted');
    const { stream, rec } = follow();
    stream.start(0);
    await waitFor(() => stream.state === 'stopped', 'stopped');
    expect(rec.states[rec.states.length - 1]).toEqual({
      state: 'stopped',
      attempt: 0,
      reason: 'run deleted'
    });
    await sleep(100);
    expect(server.connections).toHaveLength(1);
    expect(rec.connects).toHaveLength(1);
    expect(stream.state).toBe('stopped');
  });

  it('stops without reconnecting on close code 4404, with a default reason', async () => {
    server.handle = conn => conn.socket.close(4404);
    const { stream, rec } = follow();
    stream.start(0);
    await waitFor(() => stream.state === 'stopped', 'stopped');
    expect(rec.states[rec.states.length - 1].reason).toBe('the run no longer exists');
    await sleep(60);
    expect(rec.connects).toHaveLength(1);
  });

  it('stop() ends the reconnect attempts', async () => {
    server.handle = conn => conn.socket.terminate(); // a server that always drops
    const { stream, rec } = follow({ initialDelay: 10, maxDelay: 40 });
    stream.start(0);
    await waitFor(() => rec.connects.length >= 3, 'a few reconnection attempts');
    stream.stop();
    const made = rec.connects.length;
    const states = rec.states.length;
    await sleep(200); // five maximum backoff periods
    expect(rec.connects).toHaveLength(made);
    expect(stream.state).toBe('stopped');
    expect(rec.states).toHaveLength(states);
    expect(rec.states[states - 1]).toEqual({
      state: 'stopped',
      attempt: expect.any(Number),
      reason: ''
    });
  });

  it('stop() closes an open connection with code 1000 and delivers nothing more', async () => {
    server.handle = conn => send(conn, logMessage('one\n', 0));
    const { stream, rec } = follow();
    stream.start(0);
    await waitFor(() => rec.logs.length === 1, 'the first message');
    stream.stop();
    const closed = await server.connections[0].closed;
    expect(closed.code).toBe(1000);
    send(server.connections[0], logMessage('two\n', 4)); // ignored by a closed socket anyway
    await sleep(50);
    expect(rec.text()).toBe('one\n');
    expect(rec.connects).toHaveLength(1);
    expect(stream.state).toBe('stopped');
  });

  it('waits longer after each failed attempt (backoff grows)', async () => {
    server.handle = conn => conn.socket.terminate();
    const { stream, rec } = follow({ initialDelay: 10, maxDelay: 1000 });
    stream.start(0);
    await waitFor(() => rec.connects.length >= 4, 'four attempts');
    stream.stop();
    const attempts = rec.states
      .filter(s => s.state === 'reconnecting' && s.reason !== '')
      .map(s => s.attempt);
    expect(attempts.slice(0, 3)).toEqual([1, 2, 3]);
  });

  it('retryNow() reconnects at once instead of waiting for the backoff', async () => {
    server.handle = (conn, index) => {
      if (index === 0) {
        conn.socket.terminate();
      } else {
        send(conn, logMessage('hi\n', 0));
      }
    };
    const { stream, rec } = follow({ initialDelay: 60_000, maxDelay: 60_000 });
    stream.start(0);
    await waitFor(() => stream.state === 'reconnecting', 'reconnecting');
    stream.retryNow();
    await waitFor(() => rec.logs.length === 1, 'the message after retrying');
    expect(server.connections).toHaveLength(2);
  });

  it('reports a sensible sequence of connection states', async () => {
    server.handle = (conn, index) => {
      send(conn, logMessage(index === 0 ? 'a\n' : 'b\n', index === 0 ? 0 : 2));
      if (index === 1) {
        send(conn, endMessage(4));
        conn.socket.close(1000, 'done');
      }
    };
    const { stream, rec } = follow();
    expect(stream.state).toBe('stopped');
    stream.start(0);
    expect(stream.state).toBe('connecting');
    await waitFor(() => rec.logs.length === 1, 'the first message');
    server.connections[0].socket.terminate();
    await waitFor(() => stream.state === 'ended', 'ended');
    expect(stateSequence(rec)).toEqual(['connecting', 'open', 'reconnecting', 'open', 'ended']);
    const drop = rec.states.find(s => s.state === 'reconnecting')!;
    expect(drop.attempt).toBe(1);
    expect(drop.reason).toBe('connection closed (1006)');
    expect(rec.text()).toBe('a\nb\n');
  });

  it('reconnects when the socket cannot even be created', async () => {
    let calls = 0;
    const rec: string[] = [];
    const stream = new LogStream({
      url: (offset, tail) => server.url(offset, tail),
      connect: url => {
        calls += 1;
        if (calls === 1) {
          throw new Error('bad url');
        }
        return wsConnect(url);
      },
      onLog: m => rec.push(m.text),
      onConnection: (state, detail) => rec.push(`${state}:${detail.reason}`),
      initialDelay: 10
    });
    streams.push(stream);
    server.handle = conn => send(conn, logMessage('ok\n', 0));
    stream.start(0);
    await waitFor(() => rec.includes('ok\n'), 'the message');
    // each reconnection is reported once, with its reason (the attempt itself adds no report)
    expect(rec.slice(0, 3)).toEqual(['connecting:', 'reconnecting:Error: bad url', 'open:']);
  });
});
