import { LabIcon } from '@jupyterlab/ui-components';

/** A play triangle inside a box: "run a project". */
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M4 3h16a1 1 0 0 1 1 1v16a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V4a1 1 0 0 1 1-1zm1 2v14h14V5H5z"/>
    <path d="M9.5 7.8v8.4a.5.5 0 0 0 .77.42l6.4-4.2a.5.5 0 0 0 0-.84l-6.4-4.2a.5.5 0 0 0-.77.42z"/>
  </g>
</svg>`;

export const runnerIcon = new LabIcon({ name: 'jupyter-pyrunner:runner', svgstr: svg });
