// The dead man's switch: after each successful backup, GET the job's heartbeat URL. An
// Uptime Kuma push URL gets its query (`?status=up&msg=OK&ping=<ms>`) unless the URL
// already carries one. A failed ping is reported but does not fail the backup. The URL
// usually holds a push token, so it never appears in a message.
const TIMEOUT_MS = 10_000;

export function heartbeatUrl(url: string, durationMs: number): string {
  const parsed = new URL(url);
  if (parsed.search !== '') return url;
  parsed.search = new URLSearchParams({
    status: 'up',
    msg: 'OK',
    ping: String(Math.round(durationMs)),
  }).toString();
  return parsed.toString();
}

/** "ok", or why the ping failed. */
export async function sendHeartbeat(url: string, durationMs: number): Promise<string> {
  try {
    const response = await fetch(heartbeatUrl(url, durationMs), {
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    await response.body?.cancel();
    return response.ok ? 'ok' : `failed: HTTP ${response.status}`;
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return `failed: ${cause ?? (error as Error).name}`;
  }
}
