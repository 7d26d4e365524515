import type { FleetQueries, IncidentQueries } from '../domain/queries.js';
import { httpShell, json } from './shared/http.js';

/** GET /fleet: the fleet at a glance, from a handful of reads whatever its size. */
export function buildFleetHandler(wiring: {
  fleet: FleetQueries;
  incidents: Pick<IncidentQueries, 'openCount'>;
}) {
  return httpShell(async () => {
    const [counts, openIncidents] = await Promise.all([wiring.fleet.counts(), wiring.incidents.openCount()]);
    return json(200, { ...counts, openIncidents });
  });
}
