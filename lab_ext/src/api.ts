/**
 * REST client for the server extension (npukernel_lab.handlers).
 *
 * GET /npukernel/kernels/<id>/usage forwards a control-channel `usage_request` to the
 * kernel; the "Python 3 (NPU)" kernel answers with an `npu` field (every device's
 * memory, utilisation, launches and top ops), any other kernel with `npu: null`.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** One op's totals, as `Device.usage()` lists them. */
export interface IOpTotal {
  op: string;
  unit: string;
  calls: number;
  cpu_time_s: number;
  npu_time_s: number;
  flops: number;
  bytes: number;
}

/** One device's counters (`npukernel.device.Device.usage`). */
export interface IDeviceUsage {
  device: string;
  kind: string;
  profile: string;
  memory: { used: number; total: number | null; peak: number; live_buffers: number };
  launches: number;
  launches_in_interval: number;
  utilization: number;
  npu_utilization: number;
  top_ops: IOpTotal[];
  top_ops_npu: IOpTotal[];
  timestamp: number;
}

/** The `npu` field of a usage reply. */
export interface INpuUsage {
  version: number;
  default: string;
  devices: { [name: string]: IDeviceUsage };
}

/** What the server returns for a kernel. */
export interface IKernelUsage {
  kernel_id: string;
  npu: INpuUsage | null;
  message: string;
  host: { [key: string]: unknown };
}

/** A running deployment (fields as `npukernel.deploy.list_deployments()` gives them). */
export interface IDeployment {
  name: string;
  url?: string;
  status?: string;
  [key: string]: unknown;
}

async function getJSON<T>(path: string): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, path);
  const response = await ServerConnection.makeRequest(url, {}, settings);
  if (!response.ok) {
    throw new ServerConnection.ResponseError(response);
  }
  return (await response.json()) as T;
}

/** Ask one kernel for its usage (utilisation measured over `intervalS`). */
export function fetchUsage(
  kernelId: string,
  intervalS = 1,
  top = 5
): Promise<IKernelUsage> {
  const id = encodeURIComponent(kernelId);
  return getJSON<IKernelUsage>(
    `npukernel/kernels/${id}/usage?interval_s=${intervalS}&top=${top}`
  );
}

/** List running deployments. */
export async function fetchDeployments(): Promise<IDeployment[]> {
  const found = await getJSON<{ deployments: IDeployment[] }>('npukernel/deployments');
  return found.deployments;
}
