/**
 * What is about to run, as a form: the project, the options (inputs, arguments, timeout),
 * the upload under way and the Run button. The state is the model's `RunForm`.
 */

import React from 'react';

import { RunnerModel } from '../model/runnerModel';
import { ProjectChooser } from './projectChooser';
import { RunButton } from './runButton';
import { RunOptions } from './runOptions';
import { UploadProgress } from './uploadProgress';

export function ProjectForm({ model }: { model: RunnerModel }): JSX.Element {
  const form = model.form;
  // while a run is being started, what it is made of cannot change
  const busy = form.starting;
  return (
    <section className="jp-PyRunner-section jp-PyRunner-project" aria-label="Project">
      <ProjectChooser model={model} busy={busy} />
      <RunOptions form={form} onError={message => model.showError(message)} busy={busy} />
      {form.upload && <UploadProgress upload={form.upload} onStop={() => form.abortUpload()} />}
      <RunButton ready={!!form.source} busy={busy} onRun={() => void model.start()} />
    </section>
  );
}
