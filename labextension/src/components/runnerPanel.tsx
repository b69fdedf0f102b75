/**
 * The Python Runner panel: choose a project (drop, pick, or from the file browser), set
 * inputs, arguments and a timeout, run it, and follow it; below, the run on show and the
 * history of runs.
 */

import { closeIcon, ReactWidget } from '@jupyterlab/ui-components';
import React from 'react';

import { runnerIcon } from '../util/runnerIcon';
import { RunnerModel } from '../model/runnerModel';
import { HistoryList } from './historyList';
import { ProjectForm } from './projectForm';
import { RunView } from './runView';
import { useModel } from './useModel';

export class RunnerPanel extends ReactWidget {
  constructor(readonly model: RunnerModel) {
    super();
    this.id = 'jp-pyrunner-panel';
    this.addClass('jp-PyRunner');
    this.title.icon = runnerIcon;
    this.title.caption = 'Python Runner';
  }

  protected onAfterShow(): void {
    window.clearInterval(this._timer);
    void this.model.refreshHistory();
    this._timer = window.setInterval(() => void this.model.refreshHistory(), 5000);
  }

  protected onBeforeHide(): void {
    window.clearInterval(this._timer); // no polling while nobody looks
  }

  dispose(): void {
    window.clearInterval(this._timer);
    this.model.dispose();
    super.dispose();
  }

  render(): JSX.Element {
    return <RunnerComponent model={this.model} />;
  }

  private _timer = 0;
}

/** The whole panel; it is the one component that follows the model (the others get props). */
function RunnerComponent({ model }: { model: RunnerModel }): JSX.Element {
  useModel(model);
  return (
    <div className="jp-PyRunner-body">
      <header className="jp-PyRunner-header">
        <runnerIcon.react tag="span" className="jp-PyRunner-headerIcon" />
        <h2>Python Runner</h2>
      </header>
      {model.error && <ErrorAlert message={model.error} onDismiss={() => model.showError(null)} />}
      <ProjectForm model={model} />
      {model.run && <RunView model={model} />}
      <HistoryList model={model} />
    </div>
  );
}

/** The last failure, until it is dismissed or the next action clears it. */
function ErrorAlert(props: { message: string; onDismiss: () => void }): JSX.Element {
  return (
    <div className="jp-PyRunner-error" role="alert">
      <span className="jp-PyRunner-errorText">{props.message}</span>
      <button
        className="jp-PyRunner-iconButton"
        title="Dismiss"
        aria-label="Dismiss the message"
        onClick={props.onDismiss}
      >
        <closeIcon.react tag="span" />
      </button>
    </div>
  );
}
