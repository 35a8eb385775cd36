/**
 * npukernel-lab: NPU status-bar item and side panel for JupyterLab 4.
 *
 * Both follow the current notebook's kernel and poll the server extension once a
 * second (GET /npukernel/kernels/<id>/usage); the kernel answers on its control
 * thread, so the numbers move while a cell runs.
 */
import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IStatusBar } from '@jupyterlab/statusbar';

import { UsageModel } from './model';
import { NpuPanel } from './panel';
import { NpuStatus } from './status';

const OPEN_PANEL = 'npukernel:open-panel';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'npukernel-lab:plugin',
  description: 'NPU status bar and side panel for npukernel kernels.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ILabShell, IStatusBar, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    notebooks: INotebookTracker,
    labShell: ILabShell | null,
    statusBar: IStatusBar | null,
    palette: ICommandPalette | null
  ) => {
    const model = new UsageModel(1000);
    const panel = new NpuPanel(model);
    app.shell.add(panel, 'right', { rank: 900 });

    app.commands.addCommand(OPEN_PANEL, {
      label: 'Show the NPU panel',
      execute: () => app.shell.activateById(panel.id)
    });
    palette?.addItem({ command: OPEN_PANEL, category: 'NPU' });

    if (statusBar) {
      const item = new NpuStatus(model, () => void app.commands.execute(OPEN_PANEL));
      statusBar.registerStatusItem('npukernel-lab:status', {
        item,
        align: 'left',
        rank: 4,
        isActive: () => model.kernelId !== null
      });
    }

    // Follow the current notebook's kernel (it changes on restart and on a kernel switch).
    let watched: NotebookPanel | null = null;
    const follow = () => {
      const session = watched?.sessionContext.session;
      model.setKernel(session?.kernel?.id ?? null, session?.kernel?.name ?? '');
    };
    const onNotebook = (_: unknown, nb: NotebookPanel | null) => {
      watched?.sessionContext.kernelChanged.disconnect(follow);
      watched = nb;
      nb?.sessionContext.kernelChanged.connect(follow);
      void nb?.sessionContext.ready.then(follow);
      follow();
    };
    notebooks.currentChanged.connect(onNotebook);
    onNotebook(null, notebooks.currentWidget);
    model.start();
    if (labShell === null) {
      console.debug('npukernel-lab: no ILabShell; the panel stays where it was added');
    }
  }
};

export default plugin;
