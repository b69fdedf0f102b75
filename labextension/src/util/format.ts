/**
 * Human-readable sizes, durations and speeds, the same wording as the Python side.
 */

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

/** `1536` → `"1.5 KB"` (powers of 1024, one decimal above bytes). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) {
    return '?';
  }
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** `75.2` → `"1m 15s"`; under ten seconds keeps one decimal. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) {
    return '–';
  }
  if (seconds < 9.95) {
    // (9.95 and up would print as "10.0s")
    return `${Math.max(0, seconds).toFixed(1)}s`;
  }
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) {
    return `${h}h ${String(m).padStart(2, '0')}m`;
  }
  return m > 0 ? `${m}m ${String(s).padStart(2, '0')}s` : `${s}s`;
}

/** Bytes per second as `"12.3 MB/s"`. */
export function formatSpeed(bytesPerSecond: number): string {
  return `${formatBytes(Math.round(bytesPerSecond))}/s`;
}

/** A timestamp (seconds since the epoch) as local date and time, without seconds. */
export function formatTime(epochSeconds: number, now: Date = new Date()): string {
  const date = new Date(epochSeconds * 1000);
  const sameDay = date.toDateString() === now.toDateString();
  const time = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return sameDay ? time : `${date.toLocaleDateString()} ${time}`;
}

/** The statuses of a run, as the server names them. */
export type RunStatus =
  'queued' | 'preparing' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'timed_out' | 'error';

const LIVE: ReadonlySet<string> = new Set(['queued', 'preparing', 'running']);

/** True while the run may still change. */
export function isLive(status: string): boolean {
  return LIVE.has(status);
}

/** `"timed_out"` → `"timed out"`. */
export function statusLabel(status: string): string {
  return status.replace(/_/g, ' ');
}
