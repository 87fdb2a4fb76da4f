// An error in the few words a status line or an alert has room for: the common socket
// failures by name ("connection refused", not "connect ECONNREFUSED 127.0.0.1:5432"), anything
// else by its message. Shared by the agent's health probes and the monitors' checks.

const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  EPIPE: 'connection closed',
};

/** The error's message, or the thrown value as text when it is not an Error. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A socket failure by name, anything else by its message. */
export function describeError(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && NETWORK_ERRORS[code] !== undefined) return NETWORK_ERRORS[code];
  return errorMessage(error);
}
