/**
 * A run's status as a coloured badge (the run on show and each row of the history).
 */

import React from 'react';

import { statusLabel } from '../util/format';

export function StatusBadge({ status }: { status: string }): JSX.Element {
  return (
    <span className={`jp-PyRunner-badge jp-PyRunner-status-${status}`}>{statusLabel(status)}</span>
  );
}
