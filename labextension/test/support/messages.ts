/**
 * The messages the server's log stream sends, built as the server builds them (offsets are
 * UTF-8 bytes), for tests of the code that receives them.
 */

import { IEndMessage, ILogMessage, IStatusMessage } from '../../src/model/logStream';

/** The length of `text` in the log file: UTF-8 bytes, not characters. */
export const bytes = (text: string): number => Buffer.byteLength(text, 'utf8');

export function logMessage(
  text: string,
  offset: number,
  stream: 'stdout' | 'stderr' = 'stdout'
): ILogMessage {
  return { type: 'log', stream, text, offset, next_offset: offset + bytes(text) };
}

export function endMessage(
  nextOffset: number,
  fields: Partial<Omit<IEndMessage, 'type' | 'next_offset'>> = {}
): IEndMessage {
  return {
    type: 'end',
    run_id: 'r1',
    status: 'succeeded',
    exit_code: 0,
    progress: 1,
    message: null,
    ...fields,
    next_offset: nextOffset
  };
}

export function statusMessage(
  status: string,
  progress: number | null,
  runId = 'r1'
): IStatusMessage {
  return { type: 'status', run_id: runId, status, progress, message: null, exit_code: null };
}
