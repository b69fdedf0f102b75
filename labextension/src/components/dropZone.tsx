/**
 * A region that takes drops of files, folders and file browser items, highlighted while
 * something hovers over it.
 */

import React, { useEffect, useRef, useState } from 'react';

import { Source } from '../model/runForm';
import { installDropTarget } from './dropTarget';

export interface IDropZoneProps {
  className: string;
  label: string;
  /** Drops are ignored (a run is being started). */
  disabled: boolean;
  onSources: (sources: Promise<Source[]>) => void;
  children: React.ReactNode;
}

export function DropZone(props: IDropZoneProps): JSX.Element {
  const node = useRef<HTMLDivElement>(null);
  const [hover, setHover] = useState(false);
  const { onSources, disabled } = props;
  // the listeners are installed once; they read the latest props through this ref
  const latest = useRef({ onSources, disabled });
  latest.current = { onSources, disabled };
  useEffect(() => {
    if (!node.current) {
      return;
    }
    return installDropTarget(
      node.current,
      sources => {
        if (!latest.current.disabled) {
          latest.current.onSources(sources);
        }
      },
      setHover
    );
  }, []);
  return (
    <div
      ref={node}
      className={`${props.className}${hover ? ' jp-mod-dropTarget' : ''}`}
      aria-label={props.label}
      role="group"
    >
      {props.children}
    </div>
  );
}
