// The stack file's monitors, monitoring settings and alert channels: what a user writes is
// kept, what cannot work is refused at its line with a hint, and older files stay valid.
import { describe, expect, it } from 'vitest';
import { planStack } from '../../src/plan/plan.ts';
import { findingLines, loadStackText } from '../helpers/stack-text.ts';

const SERVICE = 'services:\n  api:\n    run: { command: [node, server.js] }\n';

describe('monitoring in the stack file', () => {
  it('keeps declared monitors, channels and windows with their defaults', () => {
    const result = loadStackText(
      `${SERVICE}monitors:
  homepage:
    http: { url: https://example.com/, keyword: Welcome, max_latency: 2s }
    from: local
  nightly:
    heartbeat: { period: 1d, token: "\${secret:NIGHTLY_PING}" }
monitoring:
  push: { host: status.example.com }
  metrics: { token: "\${secret:METRICS_TOKEN}" }
  resend: 1h
  maintenance:
    - { cron: "0 3 * * 0", duration: 1h, monitors: ["route:*", homepage] }
    - { start: "2026-12-05T02:00:00Z", end: "2026-12-05T03:00:00Z" }
alerts:
  - { name: ops, ntfy: { url: "https://ntfy.sh/ops", token: "\${secret:NTFY_TOKEN}" } }
  - discord: { webhook_url: "\${secret:DISCORD_URL}" }
  - email:
      smtp: { host: smtp.example.com, username: ops, password: "\${secret:SMTP_PW}" }
      from: flotilla@example.com
      to: [ops@example.com]
`,
    );
    expect(findingLines(result)).toEqual([]);
    if (!result.ok) return;
    const { stack } = result;
    expect(stack.monitors.homepage!.http!.method).toBe('GET');
    expect(stack.monitors.homepage!.timeout).toBe('10s');
    expect(stack.monitors.nightly!.heartbeat!.grace).toBe('5m');
    expect(stack.monitoring.interval).toBe('30s');
    expect(stack.monitoring.retries).toBe(3);
    expect(stack.monitoring.push!.port).toBe(4282);
    expect(stack.monitoring.metrics!.port).toBe(9464);
    expect(stack.alerts[2]!.email!.smtp).toMatchObject({ security: 'starttls' });
  });

  it('keeps a file written before monitoring existed valid', () => {
    const result = loadStackText(
      `${SERVICE}alerts:\n  - { ntfy: { url: "https://ntfy.sh/t", priority: 4 } }\n  - { slack: { webhook_url: "https://hooks.slack.com/x" } }\n`,
    );
    expect(findingLines(result)).toEqual([]);
  });

  it('refuses what cannot work, each at its line with a hint', () => {
    const monitors = `monitors:
  beat:
    heartbeat: { period: 1h }
  probe:
    tcp: { host: db.internal, port: 5432 }
    from: elsewhere
`;
    const window = `    - { start: "2026-12-05T02:00:00Z", end: "2026-12-05T03:00:00Z", monitors: [prob, "widget:*"] }\n`;
    const channels = `alerts:
  - { name: ops, slack: { webhook_url: "https://hooks.slack.com/x" } }
  - { name: ops, webhook: { url: "https://example.com/hook", secret: "\${api.port}" } }
`;
    const result = loadStackText(
      `${SERVICE}${monitors}  both:
    tcp: { host: a, port: 1 }
    http: { url: https://example.com/ }
monitoring:
  maintenance:
    - { cron: "0 3 * * 0" }
${window}${channels}  - { discord: { webhook_url: "not a url" } }
`,
    );
    const text = findingLines(result).join('\n');
    expect(text).toMatch(
      /12:.*a monitor takes only one of http, tcp, heartbeat, found http and tcp/,
    );
    expect(text).toMatch(/16:.*a recurring maintenance window needs cron and duration/);
    expect(text).toMatch(/21:.*not an http\(s\) URL/);
    // Whole-stack checks run once the document is well-formed: fix the above first.
    const fixed = loadStackText(
      `${SERVICE}${monitors}monitoring:\n  maintenance:\n${window}${channels}`,
    );
    const found = findingLines(fixed).join('\n');
    expect(found).toContain('7:a heartbeat monitor needs the public host jobs ping');
    expect(found).toContain('monitoring: { push: { host: status.example.com } }');
    expect(found).toMatch(/10:unknown node `elsewhere`/);
    expect(found).toMatch(/13:unknown monitor `prob` \(did you mean `probe`\?\)/);
    expect(found).toMatch(/13:unknown kind of monitor `widget:`/);
    expect(found).toMatch(/16:alert channel name `ops` is already channel 1's/);
    expect(found).toMatch(
      /16:only `\$\{secret:NAME\}` references are allowed in alert channel ops/,
    );
  });

  it('refuses a check header the agents would refuse, and one push token for two monitors', () => {
    const result = loadStackText(
      `monitors:
  a:
    http: { url: https://example.com/, headers: { Host: elsewhere.example.com } }
  b:
    heartbeat: { period: 1h, token: "\${secret:T}" }
  c:
    heartbeat: { period: 1h, token: "\${secret:T}" }
monitoring:
  push: { host: status.example.com }
`,
    );
    const found = findingLines(result).join('\n');
    expect(found).toContain('4:header Host is not allowed in a check');
    expect(found).toContain('8:monitor `b` has the same push token');
  });

  it('turns the gateways’ per-route counting on only when asked', () => {
    const plan = (extra: string) => {
      const result = loadStackText(
        `nodes:\n  local: { address: 127.0.0.1, gateway: true }\n${SERVICE}    ports: { http: 3000 }\n    routes: [{ host: api.localhost }]\n${extra}`,
      );
      if (!result.ok) throw new Error(findingLines(result).join('\n'));
      return planStack(result.stack, { stackDir: '/srv', stateDir: '/var/lib/flotilla' });
    };
    const server = (extra: string) => plan(extra).caddy.local!.apps.http.servers['gateway']!;
    expect(server('')).not.toHaveProperty('logs');
    expect(server('monitoring: { route_metrics: true }\n')).toHaveProperty('logs');
  });

  it('refuses an ntfy URL without a topic', () => {
    const result = loadStackText(`alerts:\n  - ntfy: { url: "https://ntfy.sh/" }\n`);
    expect(findingLines(result).join('\n')).toContain(
      '3:`alerts[0].ntfy.url`: the ntfy URL names no topic: write it as https://<server>/<topic>',
    );
  });

  it('claims the hub listeners’ ports on the hub node', () => {
    const result = loadStackText(
      `services:\n  api:\n    run: { command: [node, server.js] }\n    ports: { http: 9464 }\nmonitoring:\n  metrics: { token: "\${secret:M}" }\n`,
    );
    expect(findingLines(result).join('\n')).toContain(
      "port 9464 on node `local` is claimed by both the hub's metrics endpoint (monitoring.metrics.port) and",
    );
  });
});
