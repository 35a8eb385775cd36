/**
 * The "NPU" side panel: every device of the current kernel with memory and utilisation
 * history, top ops by measured and estimated time, and running deployments.
 */
import { Widget } from '@lumino/widgets';

import { IDeviceUsage, IOpTotal } from './api';
import { bytes, esc, ms, sparkline } from './format';
import { UsageModel } from './model';

export class NpuPanel extends Widget {
  constructor(private readonly _model: UsageModel) {
    super();
    this.id = 'npukernel-panel';
    this.addClass('npk-panel');
    this.title.label = 'NPU';
    this.title.caption = 'npukernel: devices, top ops, deployments';
    _model.changed.connect(this._render, this);
    this._render();
  }

  private _render(): void {
    if (!this.isVisible && this.node.childElementCount > 0) {
      return; // nothing to redraw for nobody; the next poll after showing will
    }
    const m = this._model;
    const parts: string[] = [`<h2>NPU</h2>`];
    if (!m.kernelId) {
      parts.push('<p class="npk-note">Open a notebook to see its kernel’s devices.</p>');
    } else if (m.error && !m.usage) {
      parts.push(`<p class="npk-note">Waiting for the kernel… (${esc(m.error)})</p>`);
    } else if (!m.usage) {
      parts.push('<p class="npk-note">Asking the kernel…</p>');
    } else if (!m.usage.npu) {
      parts.push(
        `<p class="npk-note">Kernel <b>${esc(m.kernelName)}</b>: no NPU. ` +
          'Choose the “Python 3 (NPU)” kernel, or run <code>%load_ext npukernel</code>.</p>'
      );
    } else {
      const npu = m.usage.npu;
      parts.push(`<p class="npk-note">Kernel <b>${esc(m.kernelName)}</b></p>`);
      parts.push('<h3>Devices</h3><div class="npk-devices">');
      for (const dev of Object.values(npu.devices)) {
        parts.push(this._device(dev, dev.device === npu.default));
      }
      parts.push('</div>');
      const dev = npu.devices[npu.default];
      if (dev) {
        parts.push(`<h3>Top ops on ${esc(dev.device)}</h3>`);
        parts.push(opsTable(dev.top_ops, 'measured (CPU)', 'cpu_time_s'));
        parts.push(opsTable(dev.top_ops_npu, 'estimated (NPU)', 'npu_time_s'));
      }
    }
    parts.push('<h3>Deployments</h3>');
    parts.push(
      m.deployments.length === 0
        ? '<p class="npk-note npk-deployments">No running deployments.</p>'
        : '<ul class="npk-deployments">' +
            m.deployments
              .map(
                d =>
                  `<li><b>${esc(d.name)}</b> ${esc(d.status ?? '')} ` +
                  `<code>${esc(d.url ?? '')}</code></li>`
              )
              .join('') +
            '</ul>'
    );
    this.node.innerHTML = parts.join('');
  }

  private _device(dev: IDeviceUsage, isDefault: boolean): string {
    const h = this._model.history(dev.device);
    const mem = dev.memory;
    const pct = (v: number) => `${Math.round(v * 100)}%`;
    return (
      `<div class="npk-device" data-device="${esc(dev.device)}">` +
      `<div class="npk-device-name">${esc(dev.device)}${isDefault ? ' (default)' : ''}` +
      ` <span class="npk-chip">${esc(dev.profile)}</span></div>` +
      `<div class="npk-row"><span>memory ${bytes(mem.used)} / ${bytes(mem.total)}` +
      ` (peak ${bytes(mem.peak)})</span>${sparkline(h.memory)}</div>` +
      `<div class="npk-row"><span>util ${pct(dev.utilization)}` +
      ` · NPU est ${pct(dev.npu_utilization)}</span>${sparkline(h.utilization)}</div>` +
      `<div class="npk-row"><span>${dev.launches.toLocaleString()} launches</span></div>` +
      '</div>'
    );
  }
}

function opsTable(ops: IOpTotal[], title: string, key: 'cpu_time_s' | 'npu_time_s'): string {
  if (ops.length === 0) {
    return `<p class="npk-note">No kernel launches yet.</p>`;
  }
  const rows = ops
    .map(
      t =>
        `<tr><td>${esc(t.op)}</td><td class="npk-unit npk-unit-${esc(t.unit)}">` +
        `${esc(t.unit)}</td><td>${t.calls.toLocaleString()}</td>` +
        `<td>${ms(t.cpu_time_s)}</td><td>${ms(t.npu_time_s)}</td></tr>`
    )
    .join('');
  return (
    `<table class="npk-ops" data-sort="${key}"><caption>by ${esc(title)} time</caption>` +
    '<thead><tr><th>op</th><th>unit</th><th>calls</th><th title="measured">CPU ms</th>' +
    `<th title="estimated">NPU ms</th></tr></thead><tbody>${rows}</tbody></table>`
  );
}
