/**
 * Which Dask dashboard addresses become links. The address is written by a relay into the
 * run's record: only a web address (http or https), or a path on this server (a dashboard
 * behind the Jupyter server's proxy, as on JupyterHub or Binder), may be opened.
 */

/** The address to link to, or `null` for one that must be shown as text at most. */
export function dashboardHref(address: string | null | undefined): string | null {
  if (!address) {
    return null;
  }
  return /^(https?:\/\/|\/(?!\/))/i.test(address) ? address : null;
}
