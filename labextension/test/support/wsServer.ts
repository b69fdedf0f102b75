/**
 * A real WebSocket server (`ws`) for tests of the code that follows a run's log, and the
 * `ws` client in the shape of a browser WebSocket.
 */

import type { AddressInfo } from 'node:net';

import WebSocket, { WebSocketServer } from 'ws';

import { ISocket } from '../../src/model/logStream';

/** Wait until `condition()` holds, polling; fail after `timeout` ms. */
export async function waitFor(
  condition: () => boolean,
  what: string,
  timeout = 2000
): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise(resolve => setTimeout(resolve, 2));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms));

/** One connection the test server accepted. */
export interface IServerConnection {
  socket: WebSocket;
  /** The `offset` query parameter the client asked for. */
  offset: number;
  /** The `tail` query parameter, if the client asked for one instead. */
  tail: number | null;
  path: string;
  closed: Promise<{ code: number; reason: string }>;
}

/** A real WebSocket server on a free port; `handle` runs for each connection. */
export class TestServer {
  connections: IServerConnection[] = [];
  handle: (conn: IServerConnection, index: number) => void = () => undefined;

  async listen(): Promise<void> {
    this._wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>(resolve => this._wss!.once('listening', () => resolve()));
    this._wss.on('connection', (socket, request) => {
      const url = new URL(request.url ?? '/', 'http://localhost');
      const closed = new Promise<{ code: number; reason: string }>(resolve =>
        socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() }))
      );
      const conn: IServerConnection = {
        socket,
        offset: Number(url.searchParams.get('offset')),
        tail: url.searchParams.has('tail') ? Number(url.searchParams.get('tail')) : null,
        path: url.pathname,
        closed
      };
      this.connections.push(conn);
      this.handle(conn, this.connections.length - 1);
    });
  }

  /** The server's root URL, `ws://127.0.0.1:<port>/` (a `wsUrl` for Jupyter's settings). */
  get root(): string {
    const { port } = this._wss!.address() as AddressInfo;
    return `ws://127.0.0.1:${port}/`;
  }

  url(offset: number, tail?: number): string {
    const query = tail === undefined ? `offset=${offset}` : `tail=${tail}`;
    return `${this.root}pyrunner/runs/r1/stream?${query}`;
  }

  async close(): Promise<void> {
    for (const client of this._wss?.clients ?? []) {
      client.terminate();
    }
    await new Promise<void>(resolve => (this._wss ? this._wss.close(() => resolve()) : resolve()));
  }

  private _wss: WebSocketServer | null = null;
}

/** Sends a message as a text frame (a string), as the real server does. */
export function send(conn: IServerConnection, message: object): void {
  conn.socket.send(JSON.stringify(message));
}

/**
 * The `ws` client as an `ISocket`. Its `onopen`/`onmessage`/`onclose`/`onerror` properties have
 * the browser's event shapes (text frames arrive as strings, close events have `code` and
 * `reason`). One difference: `ws` throws when an `error` event has no listener (closing a socket
 * that is still connecting emits one), while a browser does not, so a no-op listener is kept.
 */
export function wsConnect(url: string): ISocket {
  const socket = new WebSocket(url);
  socket.on('error', () => undefined);
  return socket as unknown as ISocket;
}
