/** Small formatting helpers shared by the status bar and the panel. */
import { IDeviceUsage, INpuUsage } from './api';

const GiB = 2 ** 30;

/** Bytes as GiB with one decimal, "32" rather than "32.0". */
export function gib(bytes: number | null): string {
  if (bytes === null) {
    return '∞';
  }
  const text = (bytes / GiB).toFixed(1);
  return text.endsWith('.0') ? text.slice(0, -2) : text;
}

/** Bytes in the largest binary unit that keeps the number >= 1: "1.5 MiB". */
export function bytes(n: number | null): string {
  if (n === null) {
    return '∞';
  }
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  const text = i === 0 || n >= 100 ? n.toFixed(0) : n.toFixed(1);
  return `${text.endsWith('.0') ? text.slice(0, -2) : text} ${units[i]}`;
}

/** Milliseconds with three decimals. */
export function ms(seconds: number): string {
  return (seconds * 1e3).toFixed(3);
}

/** The device a notebook's kernel computes on by default. */
export function defaultDevice(npu: INpuUsage): IDeviceUsage | undefined {
  return npu.devices[npu.default] ?? Object.values(npu.devices)[0];
}

/** "NPU 0 · 1.2/32 GiB · 37%" (the same text as npukernel.notebook.usage.status_text). */
export function statusText(npu: INpuUsage | null): string {
  const dev = npu ? defaultDevice(npu) : undefined;
  if (!dev) {
    return 'no NPU';
  }
  const label = dev.kind === 'cpu' ? 'CPU' : `NPU ${dev.device.split(':')[1] ?? '0'}`;
  // "1.2/32 GiB"; below 0.1 GiB the used part gets its own unit ("919 KiB/32 GiB"),
  // so a small model does not read as "0.0".
  const used = dev.memory.used;
  const usedText = used >= 0.1 * GiB ? (used / GiB).toFixed(1) : bytes(used);
  const util = Math.round(dev.utilization * 100);
  return `${label} · ${usedText}/${gib(dev.memory.total)} GiB · ${util}%`;
}

/** Escape text for innerHTML. */
export function esc(text: unknown): string {
  return String(text).replace(
    /[&<>"']/g,
    c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!
  );
}

/** An inline SVG sparkline of values in [0, 1] (newest on the right). */
export function sparkline(values: number[], width = 120, height = 24): string {
  if (values.length === 0) {
    return `<svg class="npk-spark" width="${width}" height="${height}"></svg>`;
  }
  const n = Math.max(values.length - 1, 1);
  const points = values
    .map((v, i) => {
      const x = (i / n) * width;
      const y = height - 1 - Math.min(Math.max(v, 0), 1) * (height - 2);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(' ');
  return (
    `<svg class="npk-spark" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}"><polyline points="${points}" /></svg>`
  );
}
