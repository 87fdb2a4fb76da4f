// The stack file (`flotilla.yml`) schema. Every object is strict: an unknown key is an
// error (with a "did you mean" hint from the loader), never silently ignored.
// Cross-references (a depends_on naming a real service, …) are checked in validate.ts,
// because they need the whole document.
import { z } from 'zod';
import {
  cidrWithin,
  cronError,
  explainBadCidr,
  explainBadIPv4,
  formatIPv4,
  inetAton,
  isValidTimezone,
  parseCidr,
  parseDuration,
  parseIPv4,
  parseSize,
} from './formats.ts';

/** Stack, node, service, network and target names: DNS-label-like. */
export const NAME = /^[a-z][a-z0-9-]{0,62}$/;
const PORT_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const HOSTNAME =
  /^(?=.{1,253}$)(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
/** A Linux capability as Docker names it, without the CAP_ prefix, or ALL. */
const CAPABILITY = /^(ALL|[A-Z][A-Z_]{1,31})$/;
const BCRYPT = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;
export const SIGNALS = [
  'SIGTERM',
  'SIGINT',
  'SIGQUIT',
  'SIGHUP',
  'SIGUSR1',
  'SIGUSR2',
  'SIGKILL',
] as const;

const name = (what: string) =>
  z.string().regex(NAME, {
    message: `a ${what} name is lowercase letters, digits and hyphens, starting with a letter`,
  });

export const duration = z
  .string()
  .refine((text) => parseDuration(text) !== undefined, {
    message: 'not a duration: write e.g. 500ms, 5s, 2m, 1h30m or 1d',
  })
  .describe('A duration such as 500ms, 5s, 2m, 1h30m or 1d');

export const cidr = z.string().superRefine((text, ctx) => {
  if (!parseCidr(text))
    ctx.addIssue({ code: 'custom', message: `bad CIDR "${text}": ${explainBadCidr(text)}` });
});

/** An IPv4 address in canonical dotted decimal (nft and the kernel read `010` as octal 8). */
const ipv4 = z.string().superRefine((text, ctx) => {
  if (parseIPv4(text) === undefined)
    ctx.addIssue({ code: 'custom', message: `bad address "${text}": ${explainBadIPv4(text)}` });
});

/**
 * A node's public address: a canonical IPv4 address or a DNS name. Text that libc would
 * read as an address (`10.1`, `0x0a000001`, `010.0.0.1`) is an address, so it must be a
 * canonical one.
 */
const nodeAddress = z.string().superRefine((text, ctx) => {
  if (inetAton(text) !== undefined || /^[\d.]+$/.test(text)) {
    if (parseIPv4(text) === undefined)
      ctx.addIssue({ code: 'custom', message: `bad address "${text}": ${explainBadIPv4(text)}` });
  } else if (!/^[a-z0-9.-]+$/i.test(text)) {
    ctx.addIssue({
      code: 'custom',
      message: `bad address "${text}": write an IPv4 address such as 203.0.113.10 or a DNS name`,
    });
  }
});

const cron = z.string().superRefine((text, ctx) => {
  const problem = cronError(text);
  if (problem)
    ctx.addIssue({ code: 'custom', message: `bad cron expression "${text}": ${problem}` });
});

const timezone = z.string().refine(isValidTimezone, {
  message: 'unknown time zone: use an IANA name such as UTC or Europe/Paris',
});

const port = z.number().int().min(1).max(65535);
const argv = z.array(z.string()).min(1, { message: 'a command needs at least the program name' });
const byteSize = z
  .string()
  .refine((text) => (parseSize(text) ?? 0) > 0, {
    message: 'not a size: write e.g. 256m, 512MiB or 1g',
  })
  .describe('A size such as 256m, 512MiB or 1g (binary units)');
const hostname = z
  .string()
  .regex(HOSTNAME, { message: 'not a valid host name (lowercase, e.g. api.example.com)' });
const url = z.url({ protocol: /^https?$/, message: 'not an http(s) URL' });

/** Exactly one of `keys` must be set on the object (health check kinds, alert channels, …). */
function exactlyOne<T extends object>(keys: readonly (keyof T & string)[], what: string) {
  return (value: T, ctx: z.RefinementCtx) => {
    const present = keys.filter((key) => value[key] !== undefined);
    if (present.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message:
          present.length === 0
            ? `${what} needs one of: ${keys.join(', ')}`
            : `${what} takes only one of ${keys.join(', ')}, found ${present.join(' and ')}`,
      });
    }
  };
}

const meshSchema = z.strictObject({
  provider: z.enum(['wireguard', 'tailscale']).default('wireguard'),
  cidr: cidr.default('100.96.0.0/16').describe('Mesh addresses are allocated from this block'),
  port: port.default(51820).describe('WireGuard UDP listen port'),
});

/** The private ranges (RFC 1918) a container pool must lie in. */
const PRIVATE_IPV4 = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'] as const;

/**
 * A node's container pool: a private block of at least one /24 (each segment takes a /24).
 * What it must not overlap needs the whole stack (plan/container-pool.ts).
 */
const containerPool = cidr.superRefine((text, ctx) => {
  const block = parseCidr(text);
  if (!block) return; // cidr said why
  if (block.prefix > 24)
    ctx.addIssue({
      code: 'custom',
      message: `container_pool ${text} is smaller than one /24, and each segment on the node takes a /24: write e.g. ${formatIPv4(block.network - (block.network % 2 ** 16))}/16`,
    });
  else if (!PRIVATE_IPV4.some((range) => cidrWithin(block, parseCidr(range)!)))
    ctx.addIssue({
      code: 'custom',
      message: `container_pool ${text} is not a private block: containers' addresses must stay inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 (e.g. 10.213.0.0/16), or they shadow real hosts on the internet`,
    });
});

const nodeSchema = z.strictObject({
  address: nodeAddress.describe('Public address (IPv4 or DNS name) the other nodes and SSH use'),
  mesh_address: ipv4.optional().describe('Pin this node to a mesh address inside mesh.cidr'),
  container_pool: containerPool
    .optional()
    .describe(
      "Private block this node's container segments take their /24 subnets from (default 10.213.0.0/16); outside mesh.cidr, firewall.allow blocks and node addresses",
    ),
  ssh: z
    .strictObject({ user: z.string().default('root'), port: port.default(22) })
    .default({ user: 'root', port: 22 }),
  labels: z.array(name('label')).default([]),
  gateway: z.boolean().default(false).describe('Runs Caddy and terminates TLS for routes'),
  cost: z.number().min(0).optional().describe('Monthly price of this machine'),
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/, { message: 'an ISO currency code such as USD or EUR' })
    .default('USD'),
});

export const healthSchema = z
  .strictObject({
    http: z
      .strictObject({
        path: z.string().startsWith('/').default('/'),
        port: z.string().optional().describe('Named port; defaults to the first port'),
        status: z.array(port).optional().describe('Accepted status codes; default 200-399'),
      })
      .optional(),
    tcp: z.strictObject({ port: z.string().optional() }).optional(),
    exec: z.strictObject({ command: argv }).optional(),
    postgres: z
      .strictObject({
        port: z.string().optional(),
        user: z.string().optional(),
        database: z.string().optional(),
      })
      .optional(),
    redis: z.strictObject({ port: z.string().optional() }).optional(),
    interval: duration.default('5s'),
    timeout: duration.default('2s'),
    healthy_threshold: z.number().int().min(1).default(1),
    unhealthy_threshold: z.number().int().min(1).default(3),
  })
  .superRefine(exactlyOne(['http', 'tcp', 'exec', 'postgres', 'redis'], 'a health check'));

const corsSchema = z
  .strictObject({
    origins: z
      .array(
        z.string().regex(/^(\*|https?:\/\/[^*\s/]+)$/, {
          message: 'an origin is "*" or scheme://host[:port], e.g. https://app.example.com',
        }),
      )
      .min(1),
    methods: z.array(z.string().regex(/^[A-Z]+$/)).default(['GET', 'POST', 'OPTIONS']),
    headers: z.array(z.string().min(1)).default(['Authorization', 'Content-Type']),
    credentials: z.boolean().default(false),
    max_age: duration.optional(),
  })
  .refine((cors) => !(cors.credentials && cors.origins.includes('*')), {
    message: 'browsers refuse credentials with origin "*": list the allowed origins instead',
  });

const basicAuthSchema = z.strictObject({
  realm: z.string().optional(),
  users: z
    .array(
      z.strictObject({
        username: z.string().min(1),
        password_hash: z.string().regex(BCRYPT, {
          message: 'password_hash must be a bcrypt hash: create one with `caddy hash-password`',
        }),
      }),
    )
    .min(1)
    .refine((users) => new Set(users.map((user) => user.username)).size === users.length, {
      message: 'each basic_auth username may appear once',
    }),
});

const routeSchema = z.strictObject({
  host: hostname,
  path: z
    .string()
    .regex(/^\/[A-Za-z0-9._~\-/]*$/, {
      message: 'a path prefix starts with / and has no wildcards',
    })
    .optional(),
  port: z.string().optional().describe('Named port to route to; defaults to the first port'),
  strip_prefix: z.boolean().default(false),
  cors: corsSchema.optional(),
  basic_auth: basicAuthSchema.optional(),
});

export const keepSchema = z.strictObject({
  last: z.number().int().min(0).optional(),
  hourly: z.number().int().min(0).optional(),
  daily: z.number().int().min(0).optional(),
  weekly: z.number().int().min(0).optional(),
  monthly: z.number().int().min(0).optional(),
  yearly: z.number().int().min(0).optional(),
});

const backupFields = {
  kind: z.enum(['postgres', 'redis', 'files', 'command']),
  schedule: cron,
  timezone: timezone.default('UTC'),
  to: z.string().describe('A target from backups.targets'),
  keep: keepSchema.default({ daily: 7, weekly: 4, monthly: 6, yearly: 2 }),
  database: z.string().optional().describe('postgres: the database to dump'),
  paths: z.array(z.string().min(1)).optional().describe('files: paths to back up'),
  exclude: z.array(z.string().min(1)).default([]),
  command: argv.optional().describe('command: its stdout is the backup'),
  hooks: z
    .strictObject({ pre: z.array(argv).default([]), post: z.array(argv).default([]) })
    .optional(),
  verify: cron
    .default('0 4 * * 0')
    .describe(
      'When to check the repository (restic check on a 10% sample of the data) and restore the latest snapshot into a scratch server to check it; default Sundays 04:00',
    ),
  heartbeat: url.optional().describe('Pinged (GET) after each successful backup'),
};

function backupKindNeeds(
  backup: { kind: string; paths?: unknown; command?: unknown },
  ctx: z.RefinementCtx,
) {
  if (backup.kind === 'files' && backup.paths === undefined) {
    ctx.addIssue({ code: 'custom', message: 'a files backup needs `paths`', path: ['paths'] });
  }
  if (backup.kind === 'command' && backup.command === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: 'a command backup needs `command`',
      path: ['command'],
    });
  }
}

const serviceBackupSchema = z.strictObject(backupFields).superRefine(backupKindNeeds);

const backupJobSchema = z
  .strictObject({
    ...backupFields,
    service: z.string().optional().describe('The service whose data this job saves'),
    node: z.string().optional().describe('The node the job runs on, when no service is named'),
  })
  .superRefine(backupKindNeeds)
  .superRefine((job, ctx) => {
    if ((job.service === undefined) === (job.node === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'a backup job names either `service` or `node`' });
    }
  });

const runSchema = z.strictObject({
  command: argv.describe('argv array; ${port}, ${data} and ${svc.host} are interpolated'),
  cwd: z.string().optional().describe('Relative to the stack file'),
  env_files: z.array(z.string()).default([]),
  user: z.string().optional().describe('Run as this system user (e.g. postgres)'),
});

const envValue = z.union([z.string(), z.number(), z.boolean()]);

/** How `flotilla deploy` ships a new release of a process service (docs/deploys.md). */
const deploySchema = z.strictObject({
  build: argv
    .optional()
    .describe(
      'Run in each new release directory on each node before it starts, e.g. [npm, ci, --omit=dev]',
    ),
  release_command: argv
    .optional()
    .describe('Run once per deploy, on one node, before any instance switches (migrations)'),
  keep: z.number().int().min(1).max(50).default(5).describe('Releases kept for rollback'),
  drain: duration
    .default('2s')
    .describe('How long a replaced instance keeps serving its in-flight requests before it stops'),
  health_timeout: duration
    .default('60s')
    .describe('How long a new instance may take to turn healthy before the deploy stops'),
  git: z
    .strictObject({
      url: z.string().min(1).describe('Where push-to-deploy fetches the pushed commit'),
      branch: z.string().min(1).default('main'),
    })
    .optional(),
  webhook: z
    .strictObject({
      forge: z.enum(['github', 'gitea', 'gitlab']),
      secret: z.string().min(1).describe('Usually ${secret:NAME}: the secret the forge signs with'),
    })
    .optional()
    .describe('Push-to-deploy: POST https://<gateway.webhooks host>/hooks/<service>'),
});

export const serviceSchema = z
  .strictObject({
    node: z.string().optional().describe('Run on this node'),
    labels: z.array(z.string()).optional().describe('Run on nodes carrying all these labels'),
    replicas: z.number().int().min(1).max(100).default(1),
    run: runSchema.optional(),
    image: z
      .string()
      .regex(
        /^(?:[a-z0-9.-]+(?::\d+)?\/)?[^\s:@]+(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/,
        {
          message:
            'an image is [registry/]name[:tag][@sha256:digest], e.g. postgres:16 or ghcr.io/acme/api:1.4',
        },
      )
      .optional()
      .describe('Container image'),
    command: argv
      .optional()
      .describe("Container command (image services): replaces the image's CMD"),
    entrypoint: argv.optional().describe("Replaces the image's ENTRYPOINT (image services)"),
    user: z
      .string()
      .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$/, {
        message: 'a user is name, uid, or user:group, e.g. 1000:1000',
      })
      .optional()
      .describe('Run the container as this user (image services); processes use run.user'),
    env_files: z
      .array(z.string())
      .default([])
      .describe(
        'Env files for an image service, relative to the stack file; processes use run.env_files',
      ),
    memory: byteSize.optional().describe('Memory limit of each container, e.g. 512m'),
    cpus: z
      .number()
      .positive()
      .max(256)
      .optional()
      .describe('CPU limit of each container, e.g. 0.5'),
    read_only: z
      .boolean()
      .default(false)
      .describe("Mount the container's root filesystem read-only"),
    cap_drop: z
      .array(z.string().regex(CAPABILITY, { message: 'a capability such as NET_RAW, or ALL' }))
      .default([])
      .describe('Linux capabilities to drop, e.g. [ALL]'),
    volumes: z
      .array(
        z.string().regex(/^[^:]+:\/[^:]*(:(ro|rw))?$/, {
          message: 'a volume is "source:/container/path" with an optional ":ro"',
        }),
      )
      .default([]),
    ports: z
      .record(z.string().regex(PORT_NAME, { message: 'a port name is lowercase, e.g. http' }), port)
      .default({}),
    container_ports: z
      .record(z.string(), port)
      .default({})
      .describe(
        'Image services: the port inside the container for a named port, when it differs (e.g. http: 80 behind ports.http: 8080)',
      ),
    health: healthSchema.optional(),
    depends_on: z.array(z.string()).default([]),
    env: z
      .record(z.string().regex(ENV_NAME, { message: 'not a valid variable name' }), envValue)
      .default({}),
    networks: z
      .array(z.string())
      .optional()
      .describe('Network segments; default: the default segment'),
    routes: z.array(routeSchema).default([]),
    restart: z.enum(['always', 'on-failure', 'never']).default('always'),
    stop: z
      .strictObject({
        signal: z.enum(SIGNALS).default('SIGTERM'),
        timeout: duration.default('10s'),
      })
      .default({ signal: 'SIGTERM', timeout: '10s' }),
    backup: serviceBackupSchema.optional(),
    deploy: deploySchema.optional(),
    secret_files: z
      .array(z.string().regex(ENV_NAME, { message: 'a secret name, e.g. PG_PASSWORD' }))
      .default([])
      .describe('Secrets mounted as 0400 files; NAME_FILE in the env holds the path'),
  })
  .superRefine((service, ctx) => {
    if ((service.run === undefined) === (service.image === undefined)) {
      ctx.addIssue({
        code: 'custom',
        message:
          service.run === undefined
            ? 'a service needs `run` (a process) or `image` (a container)'
            : 'a service is either `run` (a process) or `image` (a container), not both',
      });
    }
    if (service.deploy !== undefined && service.run === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['deploy'],
        message:
          '`deploy` ships release bundles of process (`run`) services: an image service gets a new release by a new `image` tag or digest and `flotilla apply`',
      });
    if (service.deploy?.webhook !== undefined && service.deploy.git === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['deploy', 'webhook'],
        message: 'a webhook deploys the pushed commit of `deploy.git`: add deploy.git.url',
      });
    for (const name of Object.keys(service.container_ports)) {
      if (!Object.hasOwn(service.ports, name))
        ctx.addIssue({
          code: 'custom',
          path: ['container_ports', name],
          message: `container_ports.${name} names no port: declare it under ports first`,
        });
    }
    if (service.node !== undefined && service.labels !== undefined) {
      ctx.addIssue({
        code: 'custom',
        message: 'place a service with `node` or `labels`, not both',
      });
    }
    if (service.run !== undefined) {
      const containerOnly = Object.entries({
        command: service.command !== undefined,
        entrypoint: service.entrypoint !== undefined,
        volumes: service.volumes.length > 0,
        user: service.user !== undefined,
        env_files: service.env_files.length > 0,
        memory: service.memory !== undefined,
        cpus: service.cpus !== undefined,
        read_only: service.read_only,
        cap_drop: service.cap_drop.length > 0,
        container_ports: Object.keys(service.container_ports).length > 0,
      }).filter(([, set]) => set);
      const underRun: Record<string, string> = {
        command: 'run.command',
        entrypoint: 'run.command',
        user: 'run.user',
        env_files: 'run.env_files',
      };
      for (const [key] of containerOnly) {
        const instead = underRun[key];
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message:
            instead === undefined
              ? `\`${key}\` applies to image services only`
              : `\`${key}\` is for image services; a process uses ${instead}`,
        });
      }
    }
  });

const segmentSchema = z
  .strictObject({
    internal: z
      .boolean()
      .default(false)
      .describe('Nothing outside the mesh may reach or be reached'),
    egress: z.boolean().default(false).describe('Members may open connections to the internet'),
  })
  .refine((segment) => !(segment.internal && segment.egress), {
    message: 'a segment cannot be both internal and egress',
  });

const allowRuleSchema = z.strictObject({
  from: z
    .array(z.string().min(1))
    .min(1)
    .describe('CIDRs, node names or service names that may connect'),
  to: z.string().describe('A service, or service.port for one named port'),
  comment: z.string().optional(),
});

/** A URL, or a `${secret:NAME}` holding one (Slack and Discord webhook URLs are credentials). */
const urlOrSecret = z
  .string()
  .refine((text) => /^\$\{secret:[^}]+\}$/.test(text) || z.url().safeParse(text).success, {
    message: 'not an http(s) URL (or a ${secret:NAME} holding one)',
  });
const secretText = z.string().min(1).describe('Usually ${secret:NAME}');
const email = z.email({ message: 'not an email address' });

export const ALERT_CHANNEL_KINDS = ['ntfy', 'webhook', 'slack', 'discord', 'email'] as const;

const alertSchema = z
  .strictObject({
    name: name('alert channel')
      .optional()
      .describe('For `flotilla alerts test <name>`; by default the kind, numbered when repeated'),
    ntfy: z
      .strictObject({
        url: urlOrSecret
          .refine((text) => !URL.canParse(text) || new URL(text).pathname.length > 1, {
            message: 'the ntfy URL names no topic: write it as https://<server>/<topic>',
          })
          .describe('The topic URL, e.g. https://ntfy.sh/my-topic'),
        priority: z.number().int().min(1).max(5).optional(),
        token: secretText.optional().describe('An access token (Bearer); usually ${secret:NAME}'),
      })
      .optional(),
    webhook: z
      .strictObject({
        url: urlOrSecret,
        headers: z.record(z.string(), z.string()).default({}),
        secret: secretText
          .optional()
          .describe('Signs each body: X-Flotilla-Signature: sha256=<HMAC-SHA256 hex>'),
      })
      .optional(),
    slack: z.strictObject({ webhook_url: urlOrSecret }).optional(),
    discord: z.strictObject({ webhook_url: urlOrSecret }).optional(),
    email: z
      .strictObject({
        smtp: z.strictObject({
          host: z.string().min(1),
          port: port.optional().describe('Default 587, or 465 with security: tls'),
          security: z
            .enum(['starttls', 'tls', 'none'])
            .default('starttls')
            .describe('starttls (587; required, never skipped), tls (465), none (a local relay)'),
          username: z.string().min(1).optional(),
          password: secretText.optional(),
          cacert: z
            .string()
            .min(1)
            .optional()
            .describe(
              "PEM file of the CA that signs the server's certificate; relative to the stack file",
            ),
        }),
        from: email,
        to: z.array(email).min(1),
      })
      .optional(),
  })
  .superRefine(exactlyOne(ALERT_CHANNEL_KINDS, 'an alert channel'));

const monitorSchema = z
  .strictObject({
    http: z
      .strictObject({
        url,
        method: z.enum(['GET', 'HEAD', 'POST']).default('GET'),
        status: z
          .array(z.number().int().min(100).max(599))
          .default([])
          .describe('The status codes that count as up; by default any 2xx or 3xx'),
        keyword: z.string().min(1).optional().describe('The body must contain this text'),
        max_latency: duration.optional().describe('Slower answers count as failures'),
        headers: z.record(z.string(), z.string()).default({}),
      })
      .optional(),
    tcp: z.strictObject({ host: z.string().min(1), port }).optional(),
    heartbeat: z
      .strictObject({
        period: duration.describe('How often the job pings'),
        grace: duration.default('5m').describe('How late a ping may be before the monitor is down'),
        token: secretText
          .optional()
          .describe(
            'The push token in the URL (an existing Uptime Kuma or Healthchecks client keeps its own); by default the hub makes one',
          ),
      })
      .optional(),
    from: name('node')
      .optional()
      .describe(
        'The node the check runs on (external URLs from where users are); default: the hub node',
      ),
    interval: duration.optional().describe('Between checks; default monitoring.interval'),
    timeout: duration.default('10s'),
    retries: z
      .number()
      .int()
      .min(1)
      .max(100)
      .optional()
      .describe('Failed checks in a row before the monitor is down; default monitoring.retries'),
  })
  .superRefine(exactlyOne(['http', 'tcp', 'heartbeat'], 'a monitor'));

const maintenanceSchema = z
  .strictObject({
    start: z.iso.datetime({ offset: true }).optional().describe('A one-off window: ISO 8601 start'),
    end: z.iso.datetime({ offset: true }).optional(),
    cron: cron.optional().describe('A recurring window: when it opens'),
    duration: duration.optional().describe('How long a recurring window lasts'),
    timezone: timezone.default('UTC'),
    monitors: z
      .array(z.string().min(1))
      .default([])
      .describe('Monitor names or prefixes ending in *, e.g. route:*; empty: every monitor'),
    comment: z.string().optional(),
  })
  .superRefine((window, ctx) => {
    const oneOff = window.start !== undefined || window.end !== undefined;
    const recurring = window.cron !== undefined || window.duration !== undefined;
    if (oneOff === recurring)
      ctx.addIssue({
        code: 'custom',
        message: 'a maintenance window is either { start, end } or { cron, duration }',
      });
    else if (oneOff && (window.start === undefined || window.end === undefined))
      ctx.addIssue({ code: 'custom', message: 'a one-off maintenance window needs start and end' });
    else if (recurring && (window.cron === undefined || window.duration === undefined))
      ctx.addIssue({
        code: 'custom',
        message: 'a recurring maintenance window needs cron and duration',
      });
  });

const monitoringSchema = z.strictObject({
  interval: duration.default('30s').describe('Between checks of every monitor that sets none'),
  retries: z.number().int().min(1).max(100).default(3),
  resend: duration
    .optional()
    .describe('While a monitor stays down, alert again at this interval; by default once'),
  flapping: z
    .strictObject({
      changes: z.number().int().min(2).default(6),
      window: duration.default('30m'),
    })
    .default({ changes: 6, window: '30m' })
    .describe(
      'This many state changes within the window: one "flapping" alert, then quiet until it settles',
    ),
  certificate_expiry: duration
    .default('14d')
    .describe("A route's certificate expiring within this is down"),
  route_metrics: z
    .boolean()
    .default(false)
    .describe(
      "Count each route's requests at the gateways (Caddy's access log, about 30 % of a trivial app's gateway throughput)",
    ),
  disk_alert: z
    .number()
    .min(1)
    .max(100)
    .default(90)
    .describe("A node's disk fuller than this percentage is down"),
  maintenance: z.array(maintenanceSchema).default([]),
  push: z
    .strictObject({
      host: hostname.describe('Jobs ping https://<host>/ping/<token> or /api/push/<token>'),
      port: port.default(4282).describe("The hub's push listener, on the hub node's loopback"),
    })
    .optional()
    .describe('Heartbeat monitors: the public host the hub node gateway takes pings on'),
  metrics: z
    .strictObject({
      port: port.default(9464),
      token: secretText.describe('Prometheus sends it as a bearer token'),
    })
    .optional()
    .describe("The hub's Prometheus endpoint, on the hub node's loopback and mesh address"),
});

export type AlertChannel = z.output<typeof alertSchema>;
export type MonitorSpec = z.output<typeof monitorSchema>;
export type Monitoring = z.output<typeof monitoringSchema>;
export type MaintenanceWindow = z.output<typeof maintenanceSchema>;
export type Dashboard = z.output<typeof dashboardSchema>;

const backupTargetSchema = z.strictObject({
  repository: z.string().regex(/^(s3:https?:\/\/|\/|\.\.?\/|local:)/, {
    message: 'a restic repository: s3:https://host/bucket/path or a local path',
  }),
  password: z.string().describe('Usually ${secret:NAME}'),
  env: z.record(z.string().regex(ENV_NAME), z.string()).default({}),
  cacert: z
    .string()
    .min(1)
    .optional()
    .describe(
      "PEM file of the CA that signs the endpoint's certificate (a self-hosted MinIO, …); relative to the stack file",
    ),
});

const dashboardSchema = z
  .strictObject({
    host: hostname.describe(
      'The dashboard at https://<host>/ and the remote API at https://<host>/api/v1',
    ),
    port: port.default(4283).describe("The hub's dashboard listener, on the hub node's loopback"),
    basic_auth: basicAuthSchema
      .optional()
      .describe('A second login the gateway asks for before the dashboard is reached'),
    allow: z
      .array(cidr)
      .min(1)
      .optional()
      .describe(
        'Only clients from these blocks reach the dashboard; the gateway answers others 403',
      ),
  })
  .describe("The web dashboard and remote API, served by the hub node's gateway");

export const stackSchema = z.strictObject({
  $schema: z.string().optional(),
  name: name('stack'),
  domain: hostname.optional(),
  mesh: meshSchema.default({ provider: 'wireguard', cidr: '100.96.0.0/16', port: 51820 }),
  gateway: z
    .strictObject({
      http_port: port.default(80),
      https_port: port.default(443),
      acme_email: z.email().optional(),
      webhooks: z
        .strictObject({
          host: hostname.describe('Forges post to https://<host>/hooks/<service>'),
          port: port
            .default(4281)
            .describe("The hub's webhook listener, on the hub node's loopback"),
        })
        .optional()
        .describe("Push-to-deploy: the public host the hub node's gateway takes webhooks on"),
      admin_port: port
        .optional()
        .describe(
          "Ignored: Caddy's admin API is a unix socket in the gateway's state directory. Kept so older files stay valid",
        ),
    })
    .default({ http_port: 80, https_port: 443 }),
  nodes: z
    .record(name('node'), nodeSchema)
    .default({
      local: {
        address: '127.0.0.1',
        ssh: { user: 'root', port: 22 },
        labels: [],
        gateway: true,
        currency: 'USD',
      },
    })
    .describe('Machines; when omitted, one gateway node "local" at 127.0.0.1'),
  networks: z.record(name('network'), segmentSchema).default({}),
  services: z.record(name('service'), serviceSchema).default({}),
  firewall: z.strictObject({ allow: z.array(allowRuleSchema).default([]) }).default({ allow: [] }),
  backups: z
    .strictObject({
      targets: z.record(name('target'), backupTargetSchema).default({}),
      jobs: z.record(name('job'), backupJobSchema).default({}),
    })
    .default({ targets: {}, jobs: {} }),
  registries: z
    .record(
      z.string().regex(/^[a-z0-9.-]+(:\d+)?$/, { message: 'a registry host, e.g. ghcr.io' }),
      z.strictObject({
        username: z.string().min(1),
        password: z.string().min(1).describe('Usually ${secret:NAME}'),
      }),
    )
    .default({})
    .describe('Credentials for pulling images, by registry host'),
  monitors: z
    .record(name('monitor'), monitorSchema)
    .default({})
    .describe('Checks beyond the ones Flotilla derives from routes, instances, nodes and backups'),
  monitoring: monitoringSchema.default({
    interval: '30s',
    retries: 3,
    flapping: { changes: 6, window: '30m' },
    certificate_expiry: '14d',
    route_metrics: false,
    disk_alert: 90,
    maintenance: [],
  }),
  alerts: z.array(alertSchema).default([]),
  dashboard: dashboardSchema.optional(),
});

export type Stack = z.output<typeof stackSchema>;
export type Service = Stack['services'][string];
export type StackNode = Stack['nodes'][string];
export type Route = Service['routes'][number];
export type HealthCheck = NonNullable<Service['health']>;
export type BackupJob = Stack['backups']['jobs'][string];
