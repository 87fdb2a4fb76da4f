// The audit entry of one mutating API call, and how it goes into the audit log (the bus
// `events` stream, where deploys, alerts and node changes are filed too): who called (the
// principal's kind and name, never its token), what (method, the route's path template and
// its parameters; never the body, which may hold a secret's value), and how it ended.
import type { BusEvent } from '../../protocol/events.ts';
import type { ApiMethod, Principal } from './api-route.ts';

export interface AuditEntry {
  at: number;
  principal: Principal;
  method: ApiMethod;
  /** The route's template, e.g. /api/v1/services/:name/restart. */
  path: string;
  params: Record<string, string>;
  /** The HTTP status answered (200 for a stream that started). */
  status: number;
}

export const API_AUDIT_EVENT = 'api.call';

function who(principal: Principal): string {
  if (principal.kind === 'local') return 'the CLI on the hub';
  return `${principal.kind} ${principal.name} (${principal.scope})`;
}

export function auditEvent(entry: AuditEntry): BusEvent {
  const { principal, method, path, params, status } = entry;
  const where = Object.entries(params)
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');
  return {
    type: API_AUDIT_EVENT,
    at: entry.at,
    message: `${who(principal)}: ${method} ${path}${where ? ` ${where}` : ''} → ${status}`,
    data: {
      principal: { kind: principal.kind, name: principal.name, scope: principal.scope },
      method,
      path,
      params,
      status,
    },
  };
}
