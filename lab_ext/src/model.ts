/**
 * The panel's state: the current kernel's latest usage and a short history per device,
 * polled once a second while there is a kernel.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { fetchDeployments, fetchUsage, IDeployment, IKernelUsage } from './api';

/** How many samples a sparkline shows (one a second). */
export const HISTORY = 60;

/** One device's recent samples, oldest first. */
export interface IHistory {
  memory: number[]; // used / total
  utilization: number[];
}

export class UsageModel {
  constructor(readonly intervalMs = 1000) {}

  /** Emitted after each poll (whether or not it succeeded). */
  get changed(): ISignal<UsageModel, void> {
    return this._changed;
  }

  get kernelId(): string | null {
    return this._kernelId;
  }

  get kernelName(): string {
    return this._kernelName;
  }

  get usage(): IKernelUsage | null {
    return this._usage;
  }

  get error(): string {
    return this._error;
  }

  get deployments(): IDeployment[] {
    return this._deployments;
  }

  history(device: string): IHistory {
    return this._history.get(device) ?? { memory: [], utilization: [] };
  }

  /** Follow another kernel (null: none); the history starts afresh. */
  setKernel(id: string | null, name = ''): void {
    if (id === this._kernelId) {
      return;
    }
    this._kernelId = id;
    this._kernelName = name;
    this._usage = null;
    this._error = '';
    this._history.clear();
    this._changed.emit();
    if (id) {
      void this.poll();
    }
  }

  start(): void {
    if (this._timer === null) {
      this._timer = window.setInterval(() => void this.poll(), this.intervalMs);
    }
  }

  dispose(): void {
    if (this._timer !== null) {
      window.clearInterval(this._timer);
      this._timer = null;
    }
  }

  /** Fetch once; skipped while a request is still out or the page is hidden. */
  async poll(): Promise<void> {
    const id = this._kernelId;
    if (!id || this._busy || document.hidden) {
      return;
    }
    this._busy = true;
    try {
      const usage = await fetchUsage(id, this.intervalMs / 1000, 5);
      if (id !== this._kernelId) {
        return; // the user switched notebooks meanwhile
      }
      this._usage = usage;
      this._error = '';
      this._record(usage);
      this._deployments = await fetchDeployments().catch(() => this._deployments);
    } catch (reason) {
      this._error = String(reason);
    } finally {
      this._busy = false;
      this._changed.emit();
    }
  }

  private _record(usage: IKernelUsage): void {
    for (const [name, dev] of Object.entries(usage.npu?.devices ?? {})) {
      const h = this._history.get(name) ?? { memory: [], utilization: [] };
      const total = dev.memory.total;
      h.memory.push(total ? dev.memory.used / total : 0);
      h.utilization.push(dev.utilization);
      if (h.memory.length > HISTORY) {
        h.memory.shift();
        h.utilization.shift();
      }
      this._history.set(name, h);
    }
  }

  private _changed = new Signal<UsageModel, void>(this);
  private _kernelId: string | null = null;
  private _kernelName = '';
  private _usage: IKernelUsage | null = null;
  private _error = '';
  private _deployments: IDeployment[] = [];
  private _history = new Map<string, IHistory>();
  private _busy = false;
  private _timer: number | null = null;
}
