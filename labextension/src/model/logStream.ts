/**
 * Following a run's log over the WebSocket: replay from an offset, then live, reconnecting
 * after a network blip from the last offset received, so no line is lost or shown twice.
 */

export interface IStatusMessage {
  type: 'status';
  run_id: string;
  status: string;
  progress: number | null;
  message: string | null;
  exit_code: number | null;
}

export interface ILogMessage {
  type: 'log';
  stream: 'stdout' | 'stderr' | 'system';
  text: string;
  offset: number;
  next_offset: number;
}

export interface IEndMessage {
  type: 'end';
  run_id: string;
  status: string;
  exit_code: number | null;
  progress: number | null;
  message: string | null;
  next_offset: number;
}

export type StreamMessage = IStatusMessage | ILogMessage | IEndMessage;

/** Where the connection stands, for the panel to show. */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'ended' | 'stopped';

/** The parts of a WebSocket this module uses (the browser's, or `ws` in tests). */
export interface ISocket {
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  close(code?: number, reason?: string): void;
}

export interface ILogStreamOptions {
  /**
   * The WebSocket URL that replays the log from `offset`, or (when `tail` is given) from a
   * line start about `tail` bytes before its end.
   */
  url: (offset: number, tail?: number) => string;
  /** Makes a socket; the browser's `WebSocket` by default. */
  connect?: (url: string) => ISocket;
  onLog?: (message: ILogMessage) => void;
  onStatus?: (message: IStatusMessage) => void;
  onEnd?: (message: IEndMessage) => void;
  onConnection?: (state: ConnectionState, detail: { attempt: number; reason: string }) => void;
  /** First wait before reconnecting, in ms (doubled each failure up to `maxDelay`). */
  initialDelay?: number;
  maxDelay?: number;
}

/** The delay before reconnection attempt `attempt` (1, 2, ...). */
export function backoff(attempt: number, initial = 250, max = 8000): number {
  return Math.min(max, initial * 2 ** Math.max(0, attempt - 1));
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The part of a log message after `offset` (bytes), or null when all of it was seen.
 * The server sends whole messages from the offset asked for; this guards the rare overlap.
 */
export function unseenPart(message: ILogMessage, offset: number): ILogMessage | null {
  if (message.next_offset <= offset) {
    return null;
  }
  if (message.offset >= offset) {
    return message;
  }
  const bytes = encoder.encode(message.text).subarray(offset - message.offset);
  return { ...message, text: decoder.decode(bytes), offset };
}

/** A text frame as a message; null for anything else (a binary frame, text that is not JSON). */
function parseMessage(data: unknown): StreamMessage | null {
  if (typeof data !== 'string') {
    return null;
  }
  try {
    return JSON.parse(data) as StreamMessage;
  } catch {
    return null;
  }
}

export class LogStream {
  constructor(options: ILogStreamOptions) {
    this._options = options;
  }

  /** The byte offset of the log up to which everything was delivered. */
  get offset(): number {
    return this._offset;
  }

  get state(): ConnectionState {
    return this._state;
  }

  /**
   * Start following from `offset` (0 replays the whole log). With `tail`, start instead with
   * about the last `tail` bytes: the first log message's `offset` says where that was.
   */
  start(offset = 0, tail?: number): void {
    this._offset = offset;
    this._tail = tail !== undefined && tail > 0 ? tail : null;
    this._stopped = false;
    this._connect();
  }

  /** Stop following; no more callbacks. */
  stop(): void {
    this._stopped = true;
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
    const socket = this._socket;
    this._socket = null;
    if (socket) {
      socket.onmessage = socket.onclose = socket.onerror = socket.onopen = null;
      socket.close(1000, 'stopped');
    }
    this._setState('stopped', '');
  }

  /** Reconnect now (after the browser comes back online, for instance). */
  retryNow(): void {
    if (this._state === 'reconnecting' && this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
      this._connect();
    }
  }

  private _connect(): void {
    if (this._stopped) {
      return;
    }
    if (this._attempt === 0) {
      this._setState('connecting', '');
    } // a reconnection was reported (with its reason) when it was scheduled
    const connect = this._options.connect ?? ((url: string) => new WebSocket(url) as ISocket);
    let socket: ISocket;
    try {
      socket = connect(
        this._tail === null
          ? this._options.url(this._offset)
          : this._options.url(this._offset, this._tail)
      );
    } catch (error) {
      this._scheduleReconnect(String(error));
      return;
    }
    this._socket = socket;
    let ended = false; // this socket brought the end of the run: its close is no drop
    socket.onopen = () => {
      this._setState('open', '');
    };
    socket.onmessage = event => {
      const message = parseMessage(event.data);
      if (message === null) {
        return;
      }
      if (message.type === 'end') {
        ended = true;
      }
      this._deliver(message);
    };
    socket.onerror = () => {
      // a close event follows; reconnection is decided there
    };
    socket.onclose = event => {
      if (this._socket === socket) {
        this._socket = null;
        this._closed(event, ended);
      }
    };
  }

  /** Pass a message on, keeping the offset up to date (so a reconnection resumes there). */
  private _deliver(message: StreamMessage): void {
    this._attempt = 0; // the connection works: the next blip starts with a short wait
    if (message.type === 'log') {
      if (this._tail !== null) {
        this._tail = null; // the tail is placed: from now on, offsets
        this._offset = message.offset;
      }
      const part = unseenPart(message, this._offset);
      if (part !== null) {
        this._offset = part.next_offset;
        this._options.onLog?.(part);
      }
    } else if (message.type === 'status') {
      this._options.onStatus?.(message);
    } else if (message.type === 'end') {
      this._tail = null;
      this._offset = Math.max(this._offset, message.next_offset);
      this._options.onEnd?.(message);
    }
  }

  /** The socket on use closed: the run ended, is gone, or the connection dropped. */
  private _closed(event: { code: number; reason: string }, ended: boolean): void {
    if (ended) {
      this._setState('ended', event.reason);
      return;
    }
    if (event.code === 1011 || event.code === 4404) {
      // the run is gone (deleted): there is nothing to come back to
      this._stopped = true;
      this._setState('stopped', event.reason || 'the run no longer exists');
      return;
    }
    this._scheduleReconnect(event.reason || `connection closed (${event.code})`);
  }

  private _scheduleReconnect(reason: string): void {
    if (this._stopped) {
      return;
    }
    this._attempt += 1;
    this._setState('reconnecting', reason);
    const delay = backoff(this._attempt, this._options.initialDelay, this._options.maxDelay);
    this._timer = setTimeout(() => {
      this._timer = null;
      this._connect();
    }, delay);
  }

  private _setState(state: ConnectionState, reason: string): void {
    this._state = state;
    this._options.onConnection?.(state, { attempt: this._attempt, reason });
  }

  private _options: ILogStreamOptions;
  private _socket: ISocket | null = null;
  private _offset = 0;
  /** Bytes asked for from the end, until the first log message says where that begins. */
  private _tail: number | null = null;
  private _attempt = 0;
  private _timer: ReturnType<typeof setTimeout> | null = null;
  private _stopped = true;
  private _state: ConnectionState = 'stopped';
}
