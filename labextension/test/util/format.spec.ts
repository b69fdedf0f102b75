import { describe, expect, it } from 'vitest';

import {
  formatBytes,
  formatDuration,
  formatSpeed,
  isLive,
  statusLabel
} from '../../src/util/format';

describe('formatBytes', () => {
  it('writes bytes below 1 KB as whole bytes', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1)).toBe('1 B');
    expect(formatBytes(1023)).toBe('1023 B');
  });

  it('writes larger sizes with one decimal in powers of 1024', () => {
    expect(formatBytes(1024)).toBe('1.0 KB');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(1.5 * 1024 * 1024)).toBe('1.5 MB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.0 GB');
    expect(formatBytes(2 * 1024 ** 4)).toBe('2.0 TB');
    expect(formatBytes(5000 * 1024 ** 4)).toBe('5000.0 TB');
  });

  it('gives ? for negative or non-finite sizes', () => {
    expect(formatBytes(-1)).toBe('?');
    expect(formatBytes(NaN)).toBe('?');
    expect(formatBytes(Infinity)).toBe('?');
  });

  it('formats speeds per second', () => {
    expect(formatSpeed(1536)).toBe('1.5 KB/s');
    expect(formatSpeed(10.4)).toBe('10 B/s');
  });
});

describe('formatDuration', () => {
  it('gives – for a missing duration', () => {
    expect(formatDuration(null)).toBe('–');
    expect(formatDuration(undefined)).toBe('–');
    expect(formatDuration(NaN)).toBe('–');
  });

  it('keeps one decimal under ten seconds', () => {
    expect(formatDuration(0)).toBe('0.0s');
    expect(formatDuration(3.24)).toBe('3.2s');
    expect(formatDuration(9.9)).toBe('9.9s');
    expect(formatDuration(-2)).toBe('0.0s');
  });

  it('gives whole seconds from ten seconds to a minute', () => {
    expect(formatDuration(10)).toBe('10s');
    expect(formatDuration(42.4)).toBe('42s');
    expect(formatDuration(59.4)).toBe('59s');
  });

  it('does not write 10.0s just below ten seconds', () => {
    expect(formatDuration(9.97)).toBe('10s');
  });

  it('gives minutes and two-digit seconds', () => {
    expect(formatDuration(59.6)).toBe('1m 00s');
    expect(formatDuration(75)).toBe('1m 15s');
    expect(formatDuration(75.2)).toBe('1m 15s');
    expect(formatDuration(3599)).toBe('59m 59s');
  });

  it('gives hours and two-digit minutes', () => {
    expect(formatDuration(3600)).toBe('1h 00m');
    expect(formatDuration(3700)).toBe('1h 01m');
    expect(formatDuration(26 * 3600 + 5 * 60)).toBe('26h 05m');
  });
});

describe('isLive and statusLabel', () => {
  it('treats queued, preparing and running as live', () => {
    expect(['queued', 'preparing', 'running'].map(isLive)).toEqual([true, true, true]);
  });

  it('treats finished and unknown statuses as not live', () => {
    expect(
      ['succeeded', 'failed', 'cancelled', 'timed_out', 'error', 'unknown', ''].map(isLive)
    ).toEqual([false, false, false, false, false, false, false]);
  });

  it('writes underscores as spaces', () => {
    expect(statusLabel('timed_out')).toBe('timed out');
    expect(statusLabel('running')).toBe('running');
    expect(statusLabel('a_b_c')).toBe('a b c');
  });
});
