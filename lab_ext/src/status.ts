/** The status-bar item: "NPU 0 · 1.2/32 GiB · 37%" for the current notebook's kernel. */
import { Widget } from '@lumino/widgets';

import { defaultDevice, statusText } from './format';
import { UsageModel } from './model';

export class NpuStatus extends Widget {
  constructor(
    private readonly _model: UsageModel,
    onClick: () => void
  ) {
    super();
    this.addClass('npk-status');
    this.node.title = 'NPU of this notebook’s kernel (click for the NPU panel)';
    this.node.addEventListener('click', onClick);
    _model.changed.connect(this._update, this);
    this._update();
  }

  private _update(): void {
    const usage = this._model.usage;
    const npu = usage?.npu ?? null;
    this.node.textContent = this._model.kernelId ? statusText(npu) : '';
    const dev = npu ? defaultDevice(npu) : undefined;
    // For tests and styling: the bytes in use and whether there is an NPU at all.
    this.node.dataset.npuUsed = String(dev?.memory.used ?? 0);
    this.node.dataset.npu = npu ? 'yes' : 'no';
  }
}
