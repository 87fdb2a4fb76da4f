// Durations from other tools in the stack file's form: Compose writes Go durations
// (`1m30s`, `500ms`, `1.5s`, `10us`), PM2 milliseconds; a stack file takes ms, s, m, h.

const GO_UNITS_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};
const GO_DURATION = /^((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+$/;
const GO_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g;

/** A Go duration in milliseconds; undefined when the text is not one. A bare 0 is zero. */
export function parseGoDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '0') return 0;
  if (!GO_DURATION.test(trimmed)) return undefined;
  let total = 0;
  for (const [, amount, unit] of trimmed.matchAll(GO_PART))
    total += Number(amount) * GO_UNITS_MS[unit!]!;
  return total;
}

/** Milliseconds as the stack file writes them: `90s` → `1m30s`, `1500` → `1500ms`. */
export function formatDuration(ms: number): string {
  const whole = Math.max(1, Math.round(ms));
  if (whole % 1000 !== 0) return `${whole}ms`;
  let seconds = whole / 1000;
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  return [hours && `${hours}h`, minutes && `${minutes}m`, seconds && `${seconds}s`]
    .filter(Boolean)
    .join('');
}
