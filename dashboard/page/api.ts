/**
 * The page's only way to the service: the public HTTP API routes, same origin. The local stack serves them
 * next to the page; `npm run dashboard` forwards them, signed, to a deployed stage.
 */
import {
  type AlertPage,
  type DeviceDetail,
  type DevicePage,
  type DeviceStatus,
  decodeAlertPage,
  decodeDeviceDetail,
  decodeDevicePage,
  decodeEventPage,
  decodeIncident,
  decodeIncidentPage,
  type EventPage,
  errorMessageOf,
  type IncidentItem,
} from './model.js';

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Largest page the API serves. */
export const MAX_LIMIT = 100;

async function getJson(path: string, signal?: AbortSignal): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(path, { headers: { accept: 'application/json' }, cache: 'no-store', signal });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new ApiError(
      0,
      `the API did not answer (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    body = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, errorMessageOf(body) ?? `HTTP ${response.status} for ${path}`);
  }
  return body;
}

function query(parameters: Record<string, string | number | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(parameters)) {
    if (value !== null && value !== undefined && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

const devicePath = (deviceId: string) => `/devices/${encodeURIComponent(deviceId)}`;

export async function listDevices(
  status: DeviceStatus,
  limit: number,
  cursor: string | null,
  signal?: AbortSignal,
): Promise<DevicePage> {
  return decodeDevicePage(await getJson(`/devices${query({ status, limit, cursor })}`, signal));
}

/** The device, or null for a device never seen (404). */
export async function getDevice(deviceId: string, signal?: AbortSignal): Promise<DeviceDetail | null> {
  try {
    return decodeDeviceDetail(await getJson(devicePath(deviceId), signal));
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

export async function listDeviceEvents(
  deviceId: string,
  limit: number,
  cursor: string | null,
  signal?: AbortSignal,
): Promise<EventPage> {
  return decodeEventPage(await getJson(`${devicePath(deviceId)}/events${query({ limit, cursor })}`, signal));
}

export async function listAlerts(
  options: { deviceId?: string; limit: number; cursor?: string | null },
  signal?: AbortSignal,
): Promise<AlertPage> {
  const path = `/alerts${query({ deviceId: options.deviceId, limit: options.limit, cursor: options.cursor })}`;
  return decodeAlertPage(await getJson(path, signal));
}

/** `GET /fleet`: its raw answer, or null when the API has no such route (404 or 405). */
export async function getFleet(signal?: AbortSignal): Promise<unknown | null> {
  try {
    return await getJson('/fleet', signal);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 405)) return null;
    throw error;
  }
}

/** `GET /incidents?status=`: fleet incidents, newest first. */
export async function listIncidents(
  status: 'open' | 'closed',
  limit: number,
  signal?: AbortSignal,
): Promise<IncidentItem[]> {
  return decodeIncidentPage(await getJson(`/incidents${query({ status, limit })}`, signal)).items;
}

/** `GET /incidents/{id}`: the incident with a first page of its member devices. */
export async function getIncident(
  incidentId: string,
  limit: number,
  signal?: AbortSignal,
): Promise<IncidentItem | null> {
  return decodeIncident(
    await getJson(`/incidents/${encodeURIComponent(incidentId)}${query({ limit })}`, signal),
  );
}
