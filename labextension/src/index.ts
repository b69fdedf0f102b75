/**
 * The JupyterLab extension: the Python Runner panel in a side bar, a command in the palette
 * and the launcher, and "Run with Python Runner" in the file browser's context menu.
 */

import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ILauncher } from '@jupyterlab/launcher';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStateDB } from '@jupyterlab/statedb';
import { ReadonlyJSONObject } from '@lumino/coreutils';

import { RunnerPanel } from './components/runnerPanel';
import { RunnerApi } from './util/runnerApi';
import { runnerIcon } from './util/runnerIcon';
import { RunnerModel } from './model/runnerModel';
import { IRunnerHost } from './model/shownRun';

const PLUGIN_ID = 'jupyter-pyrunner:plugin';
const STATE_KEY = 'jupyter-pyrunner:panel';

export namespace CommandIDs {
  export const open = 'jupyter-pyrunner:open';
  export const runSelected = 'jupyter-pyrunner:run-selected';
  export const runPath = 'jupyter-pyrunner:run-path';
}

/** True for what the runner takes from the file browser: a folder or a `.zip`. */
export function isRunnable(item: { type: string; name: string }): boolean {
  return item.type === 'directory' || item.name.toLowerCase().endsWith('.zip');
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Run a zipped Python project in an isolated environment and follow it live.',
  autoStart: true,
  optional: [
    ILayoutRestorer,
    ICommandPalette,
    ILauncher,
    IDefaultFileBrowser,
    ISettingRegistry,
    IStateDB,
    ILabShell
  ],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    launcher: ILauncher | null,
    browser: IDefaultFileBrowser | null,
    settingRegistry: ISettingRegistry | null,
    state: IStateDB | null,
    labShell: ILabShell | null
  ) => {
    const model = new RunnerModel(new RunnerApi(), hostOf(app, browser));
    const panel = new RunnerPanel(model);
    addCommands(app, panel, model, browser);
    app.contextMenu.addItem({
      command: CommandIDs.runSelected,
      selector: '.jp-DirListing-item[data-isdir]',
      rank: 3
    });
    palette?.addItem({ command: CommandIDs.open, category: 'Python Runner' });
    launcher?.add({ command: CommandIDs.open, category: 'Other', rank: 1 });

    app.shell.add(panel, 'left', { rank: 650 });
    restorer?.add(panel, 'jupyter-pyrunner-panel');

    const restore = rememberRunOnShow(model, state);
    if (settingRegistry) {
      followSettings(app, panel, settingRegistry, labShell);
    }
    void app.restored.then(restore);
    // back online: resume the log at once instead of waiting for the next retry
    window.addEventListener('online', () => model.reconnectNow());
  }
};

/** The file browser as the model sees it: where copies go, and showing where they went. */
function hostOf(app: JupyterFrontEnd, browser: IDefaultFileBrowser | null): IRunnerHost {
  return {
    workspaceFolder: () => browser?.model.path.replace(/^[^/:]*:/, '') ?? '',
    reveal: async path => {
      if (browser) {
        await browser.model.cd(`/${path}`);
        app.shell.activateById(browser.id);
      }
    }
  };
}

/** Open the panel; run a path; run the file browser's selection (its context menu). */
function addCommands(
  app: JupyterFrontEnd,
  panel: RunnerPanel,
  model: RunnerModel,
  browser: IDefaultFileBrowser | null
): void {
  const { commands } = app;
  commands.addCommand(CommandIDs.open, {
    label: 'Python Runner',
    caption: 'Run a zipped Python project and follow its log',
    icon: args => (args.isPalette ? undefined : runnerIcon),
    execute: () => {
      app.shell.activateById(panel.id);
    }
  });
  commands.addCommand(CommandIDs.runPath, {
    label: args => `Run ${args.path as string} with Python Runner`,
    execute: async args => {
      await commands.execute(CommandIDs.open);
      await model.runPath(args.path as string);
    }
  });
  commands.addCommand(CommandIDs.runSelected, {
    label: 'Run with Python Runner',
    icon: runnerIcon,
    isVisible: () => {
      const item = browser?.selectedItems().next();
      return !!item && !item.done && isRunnable(item.value);
    },
    execute: async () => {
      const item = browser?.selectedItems().next();
      if (item && !item.done && isRunnable(item.value)) {
        await commands.execute(CommandIDs.runPath, {
          path: item.value.path.replace(/^[^/:]*:/, '')
        });
      }
    }
  });
}

/**
 * Save the id of the run on show whenever it changes, so that it survives a page reload;
 * returns what shows it again after the reload.
 */
function rememberRunOnShow(model: RunnerModel, state: IStateDB | null): () => Promise<void> {
  model.runChanged.connect((_, runId) => {
    void state?.save(STATE_KEY, { runId } as ReadonlyJSONObject);
  });
  return async (): Promise<void> => {
    const saved = (await state?.fetch(STATE_KEY)) as { runId?: string | null } | undefined;
    if (saved?.runId) {
      await model.open(saved.runId, { quietIfGone: true });
    }
  };
}

/** Apply the settings (the log limit, the side bar) now and whenever they change. */
function followSettings(
  app: JupyterFrontEnd,
  panel: RunnerPanel,
  settingRegistry: ISettingRegistry,
  labShell: ILabShell | null
): void {
  let area: 'left' | 'right' = 'left'; // where activate() put the panel
  settingRegistry.load(PLUGIN_ID).then(
    settings => {
      const apply = (): void => {
        panel.model.setMaxLogLines(settings.get('maxLogLines').composite as number);
        const wanted = settings.get('area').composite === 'right' ? 'right' : 'left';
        if (wanted !== area) {
          area = wanted;
          if (labShell) {
            labShell.move(panel, area); // also right after Lab's own "switch side"
          } else {
            app.shell.add(panel, area, { rank: 650 });
          }
        }
      };
      apply();
      settings.changed.connect(apply);
    },
    reason => console.warn('jupyter-pyrunner: settings not loaded', reason)
  );
}

export default plugin;
