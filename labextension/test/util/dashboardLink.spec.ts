import { describe, expect, it } from 'vitest';

import { dashboardHref } from '../../src/util/dashboardLink';

describe('dashboardHref', () => {
  it('links a web address', () => {
    expect(dashboardHref('http://sched:8787/status')).toBe('http://sched:8787/status');
    expect(dashboardHref('HTTPS://sched/status')).toBe('HTTPS://sched/status');
  });

  it("links a path on this server, as a hub's proxy serves the dashboard", () => {
    expect(dashboardHref('/user/ada/proxy/8787/status')).toBe('/user/ada/proxy/8787/status');
  });

  it('never links another scheme, a path to another host, or nothing', () => {
    for (const address of [
      'javascript:alert(1)',
      'data:text/html,x',
      '//evil/x',
      'sched:8787',
      ''
    ]) {
      expect(dashboardHref(address)).toBeNull();
    }
    expect(dashboardHref(null)).toBeNull();
    expect(dashboardHref(undefined)).toBeNull();
  });
});
