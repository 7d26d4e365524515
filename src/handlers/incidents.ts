import { IncidentNotFoundError } from '../domain/errors.js';
import type { Incident } from '../domain/fleet-incidents.js';
import type { IncidentQueries } from '../domain/queries.js';
import * as z from '../shared/zod.js';
import { httpShell, isoTime, json, parseOrThrow, wholeSeconds } from './shared/http.js';
import { type CursorCodec, pageQuerySchema, pageRequest, responseCursor } from './shared/paging.js';

const statusQuery = z.extend(pageQuerySchema, {
  status: z._default(z.enum(['open', 'closed'], { error: 'status must be open or closed' }), 'open'),
});
const incidentIdSchema = z
  .string({ error: 'incidentId is required' })
  .check(z.regex(/^[0-9TZ]{15,24}-[0-9a-f]{8}$/, 'incidentId is not the id of an incident'));

function incidentBody(incident: Incident) {
  return {
    incidentId: incident.incidentId,
    status: incident.status,
    startedAt: isoTime(incident.startedAt),
    closedAt: isoTime(incident.closedAt),
    durationSeconds:
      incident.closedAt === undefined ? null : wholeSeconds(incident.closedAt - incident.startedAt),
    devices: incident.devices,
    recovered: incident.recovered,
    stillOffline: incident.devices - incident.recovered,
    reasons: incident.reasons,
    sampleDeviceIds: incident.sampleDeviceIds,
  };
}

/** GET /incidents?status=open|closed: fleet incidents, newest first. */
export function buildListIncidentsHandler(wiring: { incidents: IncidentQueries; cursors: CursorCodec }) {
  return httpShell(async (event) => {
    const query = parseOrThrow(statusQuery, event.queryStringParameters ?? {}, 'query');
    const scope = `incidents:${query.status}`;
    const page = await wiring.incidents.listIncidents(
      query.status,
      pageRequest(wiring.cursors, query, scope),
    );
    return json(200, {
      items: page.items.map(incidentBody),
      cursor: responseCursor(wiring.cursors, page, scope),
    });
  });
}

/** GET /incidents/{incidentId}: its counts and reasons, and a page of its devices. */
export function buildGetIncidentHandler(wiring: { incidents: IncidentQueries; cursors: CursorCodec }) {
  return httpShell(async (event) => {
    const incidentId = parseOrThrow(incidentIdSchema, event.pathParameters?.incidentId, 'incidentId');
    const query = parseOrThrow(pageQuerySchema, event.queryStringParameters ?? {}, 'query');
    const scope = `incident:${incidentId}`;
    const request = pageRequest(wiring.cursors, query, scope);
    const [incident, members] = await Promise.all([
      wiring.incidents.getIncident(incidentId),
      wiring.incidents.listIncidentDevices(incidentId, request),
    ]);
    if (!incident) throw new IncidentNotFoundError(incidentId);
    return json(200, {
      ...incidentBody(incident),
      deviceList: {
        items: members.items.map((m) => ({ ...m, since: isoTime(m.since) })),
        cursor: responseCursor(wiring.cursors, members, scope),
      },
    });
  });
}
