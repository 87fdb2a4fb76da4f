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
  provider: z
    .enum(['wireguard', 'tailscale'])
    .default('wireguard')
    .describe(
      'wireguard: Flotilla runs the mesh and hands out its addresses; tailscale: the tailnet does',
    ),
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
    .strictObject({
      user: z.string().default('root').describe('The user Flotilla logs in as over SSH'),
      port: port.default(22).describe("The node's SSH port; its firewall keeps it open"),
    })
    .default({ user: 'root', port: 22 })
    .describe('How Flotilla reaches this node over SSH'),
  labels: z
    .array(name('label'))
    .default([])
    .describe('Services with `labels` run only on nodes carrying all of theirs'),
  gateway: z.boolean().default(false).describe('Runs Caddy and terminates TLS for routes'),
  cost: z.number().min(0).optional().describe('Monthly price of this machine'),
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/, { message: 'an ISO currency code such as USD or EUR' })
    .default('USD')
    .describe('ISO 4217 code of `cost`, e.g. EUR'),
});

export const healthSchema = z
  .strictObject({
    http: z
      .strictObject({
        path: z.string().startsWith('/').default('/').describe('The path to GET'),
        port: z.string().optional().describe('Named port; defaults to the first port'),
        status: z.array(port).optional().describe('Accepted status codes; default 200-399'),
      })
      .optional()
      .describe('Healthy when a GET of the path answers an accepted status'),
    tcp: z
      .strictObject({
        port: z.string().optional().describe('Named port; defaults to the first port'),
      })
      .optional()
      .describe('Healthy when the port accepts a TCP connection'),
    exec: z
      .strictObject({
        command: argv.describe(
          'argv, run as the instance runs (its user, env and working directory)',
        ),
      })
      .optional()
      .describe('Healthy when the command exits 0'),
    postgres: z
      .strictObject({
        port: z.string().optional().describe('Named port; defaults to the first port'),
        user: z.string().optional().describe('The user to log in as; default postgres'),
        database: z.string().optional().describe('The database to connect to; default the user'),
      })
      .optional()
      .describe('Healthy when SELECT 1 runs (a refused login counts as up: no password here)'),
    redis: z
      .strictObject({
        port: z.string().optional().describe('Named port; defaults to the first port'),
      })
      .optional()
      .describe('Healthy when the server answers PING (NOAUTH counts as up)'),
    interval: duration.default('5s'),
    timeout: duration.default('2s'),
    healthy_threshold: z
      .number()
      .int()
      .min(1)
      .default(1)
      .describe('Passed checks in a row before an instance is healthy (and gets traffic)'),
    unhealthy_threshold: z
      .number()
      .int()
      .min(1)
      .default(3)
      .describe('Failed checks in a row before a healthy instance is unhealthy'),
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
      .min(1)
      .describe('Origins allowed to call, e.g. https://app.example.com, or "*" for any'),
    methods: z
      .array(z.string().regex(/^[A-Z]+$/))
      .default(['GET', 'POST', 'OPTIONS'])
      .describe('Methods a preflight allows (Access-Control-Allow-Methods)'),
    headers: z
      .array(z.string().min(1))
      .default(['Authorization', 'Content-Type'])
      .describe('Request headers a preflight allows (Access-Control-Allow-Headers)'),
    credentials: z
      .boolean()
      .default(false)
      .describe('Let browsers send cookies and HTTP auth (Access-Control-Allow-Credentials)'),
    max_age: duration.optional(),
  })
  .refine((cors) => !(cors.credentials && cors.origins.includes('*')), {
    message: 'browsers refuse credentials with origin "*": list the allowed origins instead',
  });

const basicAuthSchema = z.strictObject({
  realm: z.string().optional().describe('The realm the browser shows in its login prompt'),
  users: z
    .array(
      z.strictObject({
        username: z.string().min(1).describe('The login name'),
        password_hash: z
          .string()
          .regex(BCRYPT, {
            message: 'password_hash must be a bcrypt hash: create one with `caddy hash-password`',
          })
          .describe('bcrypt hash of the password, from `caddy hash-password`'),
      }),
    )
    .min(1)
    .refine((users) => new Set(users.map((user) => user.username)).size === users.length, {
      message: 'each basic_auth username may appear once',
    })
    .describe('Who may log in; each username once'),
});

const routeSchema = z.strictObject({
  host: hostname.describe(
    'Host name the gateways serve it at over HTTPS (ACME certificate; a private CA for .localhost, .test, .internal, …)',
  ),
  path: z
    .string()
    .regex(/^\/[A-Za-z0-9._~\-/]*$/, {
      message: 'a path prefix starts with / and has no wildcards',
    })
    .optional()
    .describe('Only requests under this prefix (/api: /api and /api/…, not /apix)'),
  port: z.string().optional().describe('Named port to route to; defaults to the first port'),
  strip_prefix: z
    .boolean()
    .default(false)
    .describe('Remove `path` from the request path before it reaches the service'),
  cors: corsSchema.optional().describe('The gateway answers CORS preflights and adds CORS headers'),
  basic_auth: basicAuthSchema
    .optional()
    .describe('The gateway asks for an HTTP basic login before the service is reached'),
});

export const keepSchema = z.strictObject({
  last: z.number().int().min(0).optional().describe('Keep the newest N snapshots'),
  hourly: z.number().int().min(0).optional().describe('Keep the last snapshot of each of N hours'),
  daily: z.number().int().min(0).optional().describe('Keep the last snapshot of each of N days'),
  weekly: z.number().int().min(0).optional().describe('Keep the last snapshot of each of N weeks'),
  monthly: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe('Keep the last snapshot of each of N months'),
  yearly: z.number().int().min(0).optional().describe('Keep the last snapshot of each of N years'),
});

const backupFields = {
  kind: z
    .enum(['postgres', 'redis', 'files', 'command'])
    .describe('What is saved: a pg_dump, the Redis RDB snapshot, `paths`, or `command` output'),
  schedule: cron.describe(
    'When to back up: a cron expression (minute hour day month weekday), e.g. 0 3 * * *',
  ),
  timezone: timezone
    .default('UTC')
    .describe('IANA zone of schedule and verify; retention counts days and weeks in it'),
  to: z.string().describe('A target from backups.targets'),
  keep: keepSchema
    .default({ daily: 7, weekly: 4, monthly: 6, yearly: 2 })
    .describe('Retention after each backup (restic forget --prune); all unset or 0: keep all'),
  database: z.string().optional().describe('postgres: the database to dump'),
  paths: z.array(z.string().min(1)).optional().describe('files: paths to back up'),
  exclude: z
    .array(z.string().min(1))
    .default([])
    .describe('files: patterns restic skips (--exclude)'),
  command: argv.optional().describe('command: its stdout is the backup'),
  hooks: z
    .strictObject({
      pre: z
        .array(argv)
        .default([])
        .describe('Commands (argv) run before the backup; one failing stops it'),
      post: z
        .array(argv)
        .default([])
        .describe('Commands (argv) run after it, even when it failed; one failing fails it'),
    })
    .optional()
    .describe("Run in the stack file's directory with a plain environment"),
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
  env_files: z
    .array(z.string())
    .default([])
    .describe('KEY=value files, relative to the stack file; `env` wins over them'),
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
      branch: z.string().min(1).default('main').describe('Pushes to this branch deploy'),
    })
    .optional()
    .describe('The repository push-to-deploy fetches from'),
  webhook: z
    .strictObject({
      forge: z
        .enum(['github', 'gitea', 'gitlab'])
        .describe('Which forge sends the webhook (how its signature and payload read)'),
      secret: z.string().min(1).describe('Usually ${secret:NAME}: the secret the forge signs with'),
    })
    .optional()
    .describe('Push-to-deploy: POST https://<gateway.webhooks host>/hooks/<service>'),
});

export const serviceSchema = z
  .strictObject({
    node: z.string().optional().describe('Run on this node'),
    labels: z.array(z.string()).optional().describe('Run on nodes carrying all these labels'),
    replicas: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(1)
      .describe(
        'Instances of this service; placed round-robin over the nodes `node` or `labels` allow',
      ),
    run: runSchema.optional().describe('A process the agent runs on the node (not `image`)'),
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
      .default([])
      .describe(
        "Image services: source:/path[:ro]; a source starting with / or . is a host path (. is the stack file's directory), else a named volume",
      ),
    ports: z
      .record(z.string().regex(PORT_NAME, { message: 'a port name is lowercase, e.g. http' }), port)
      .default({})
      .describe(
        'Named ports on the node, e.g. http: 8080 (replicas sharing a node take 8081, …); ${port.<name>}, or ${port} for the first',
      ),
    container_ports: z
      .record(z.string(), port)
      .default({})
      .describe(
        'Image services: the port inside the container for a named port, when it differs (e.g. http: 80 behind ports.http: 8080)',
      ),
    health: healthSchema
      .optional()
      .describe(
        "How the agent tells an instance is healthy; without it, the image's HEALTHCHECK or running",
      ),
    depends_on: z
      .array(z.string())
      .default([])
      .describe('Services that must have a healthy instance before this one starts'),
    env: z
      .record(z.string().regex(ENV_NAME, { message: 'not a valid variable name' }), envValue)
      .default({})
      .describe('Environment variables; values may use ${secret:NAME}, ${port}, ${svc.host}, …'),
    networks: z
      .array(z.string())
      .optional()
      .describe('Network segments; default: the default segment'),
    routes: z
      .array(routeSchema)
      .default([])
      .describe("Public HTTPS entries the gateways proxy to this service's healthy instances"),
    restart: z
      .enum(['always', 'on-failure', 'never'])
      .default('always')
      .describe('When an exited instance is started again (on-failure: a non-zero exit)'),
    stop: z
      .strictObject({
        signal: z.enum(SIGNALS).default('SIGTERM').describe('Sent to stop an instance'),
        timeout: duration.default('10s'),
      })
      .default({ signal: 'SIGTERM', timeout: '10s' })
      .describe('How an instance stops: the signal, then SIGKILL after the timeout'),
    backup: serviceBackupSchema.optional().describe("A backup job for this service's data"),
    deploy: deploySchema
      .optional()
      .describe('Release bundles for `flotilla deploy` (process services)'),
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
  comment: z.string().optional().describe('A note for readers; Flotilla does not use it'),
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
        priority: z
          .number()
          .int()
          .min(1)
          .max(5)
          .optional()
          .describe('ntfy priority for every alert; by default 5 when down, 3 when up again'),
        token: secretText.optional().describe('An access token (Bearer); usually ${secret:NAME}'),
      })
      .optional()
      .describe('Publish to an ntfy topic (push to phones)'),
    webhook: z
      .strictObject({
        url: urlOrSecret.describe('Where each alert is POSTed as a JSON document'),
        headers: z
          .record(z.string(), z.string())
          .default({})
          .describe('Headers sent with each POST, e.g. Authorization'),
        secret: secretText
          .optional()
          .describe('Signs each body: X-Flotilla-Signature: sha256=<HMAC-SHA256 hex>'),
      })
      .optional()
      .describe('POST each alert as JSON to your own endpoint'),
    slack: z
      .strictObject({
        webhook_url: urlOrSecret.describe('A Slack incoming-webhook URL; usually ${secret:NAME}'),
      })
      .optional()
      .describe('Post to a Slack channel'),
    discord: z
      .strictObject({
        webhook_url: urlOrSecret.describe('A Discord webhook URL; usually ${secret:NAME}'),
      })
      .optional()
      .describe('Post to a Discord channel'),
    email: z
      .strictObject({
        smtp: z
          .strictObject({
            host: z.string().min(1).describe('The SMTP server'),
            port: port.optional().describe('Default 587, or 465 with security: tls'),
            security: z
              .enum(['starttls', 'tls', 'none'])
              .default('starttls')
              .describe('starttls (587; required, never skipped), tls (465), none (a local relay)'),
            username: z.string().min(1).optional().describe('Log in (AUTH) with this and password'),
            password: secretText.optional(),
            cacert: z
              .string()
              .min(1)
              .optional()
              .describe(
                "PEM file of the CA that signs the server's certificate; relative to the stack file",
              ),
          })
          .describe('The SMTP server alerts are sent through'),
        from: email.describe('The sender address'),
        to: z.array(email).min(1).describe('The recipient addresses'),
      })
      .optional()
      .describe('Send each alert as an email over SMTP'),
  })
  .superRefine(exactlyOne(ALERT_CHANNEL_KINDS, 'an alert channel'));

const monitorSchema = z
  .strictObject({
    http: z
      .strictObject({
        url: url.describe('The http(s) URL to request'),
        method: z.enum(['GET', 'HEAD', 'POST']).default('GET').describe('The request method'),
        status: z
          .array(z.number().int().min(100).max(599))
          .default([])
          .describe('The status codes that count as up; by default any 2xx or 3xx'),
        keyword: z.string().min(1).optional().describe('The body must contain this text'),
        max_latency: duration.optional().describe('Slower answers count as failures'),
        headers: z
          .record(z.string(), z.string())
          .default({})
          .describe('Request headers to send, e.g. Authorization'),
      })
      .optional()
      .describe('Up when the URL answers an accepted status (in time, with the keyword)'),
    tcp: z
      .strictObject({
        host: z.string().min(1).describe('Host name or address to connect to'),
        port: port.describe('TCP port that must accept a connection'),
      })
      .optional()
      .describe('Up when host:port accepts a TCP connection'),
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
      .optional()
      .describe('Up while a job pings monitoring.push.host in time (a push, not a check)'),
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
    end: z.iso.datetime({ offset: true }).optional().describe('A one-off window: ISO 8601 end'),
    cron: cron.optional().describe('A recurring window: when it opens'),
    duration: duration.optional().describe('How long a recurring window lasts'),
    timezone: timezone.default('UTC').describe("IANA zone of a recurring window's cron"),
    monitors: z
      .array(z.string().min(1))
      .default([])
      .describe('Monitor names or prefixes ending in *, e.g. route:*; empty: every monitor'),
    comment: z.string().optional().describe('A note for readers; Flotilla does not use it'),
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
  retries: z
    .number()
    .int()
    .min(1)
    .max(100)
    .default(3)
    .describe('Failed checks in a row before a monitor that sets none is down'),
  resend: duration
    .optional()
    .describe('While a monitor stays down, alert again at this interval; by default once'),
  flapping: z
    .strictObject({
      changes: z.number().int().min(2).default(6).describe('State changes that count as flapping'),
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
  maintenance: z
    .array(maintenanceSchema)
    .default([])
    .describe('Windows in which the monitors they name stay quiet: no alert starts or repeats'),
  push: z
    .strictObject({
      host: hostname.describe('Jobs ping https://<host>/ping/<token> or /api/push/<token>'),
      port: port.default(4282).describe("The hub's push listener, on the hub node's loopback"),
    })
    .optional()
    .describe('Heartbeat monitors: the public host the hub node gateway takes pings on'),
  metrics: z
    .strictObject({
      port: port.default(9464).describe('The port of the /metrics listener'),
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
  repository: z
    .string()
    .regex(/^(s3:https?:\/\/|\/|\.\.?\/|local:)/, {
      message: 'a restic repository: s3:https://host/bucket/path or a local path',
    })
    .describe('The restic repository: s3:https://host/bucket/path or a local path'),
  password: z.string().describe('Usually ${secret:NAME}'),
  env: z
    .record(z.string().regex(ENV_NAME), z.string())
    .default({})
    .describe('Environment for restic, e.g. AWS_ACCESS_KEY_ID; values may use ${secret:NAME}'),
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
  $schema: z
    .string()
    .optional()
    .describe('For editors: where the JSON Schema is (`flotilla schema`); Flotilla ignores it'),
  name: name('stack').describe(
    'Names the stack: its local state and secrets are kept under it; alerts and status show it',
  ),
  domain: hostname
    .optional()
    .describe("The stack's domain. Not used yet: nothing reads it; write each route host in full"),
  mesh: meshSchema
    .default({ provider: 'wireguard', cidr: '100.96.0.0/16', port: 51820 })
    .describe('The private network between the nodes'),
  gateway: z
    .strictObject({
      http_port: port
        .default(80)
        .describe('Where gateways redirect HTTP to HTTPS and answer ACME HTTP challenges'),
      https_port: port.default(443).describe('Where gateways serve routes over HTTPS'),
      acme_email: z
        .email()
        .optional()
        .describe(
          'Contact address given to the ACME CA for the certificates of public route hosts',
        ),
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
    .default({ http_port: 80, https_port: 443 })
    .describe('The Caddy gateways on nodes with gateway: true, shared by every route'),
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
  networks: z
    .record(name('network'), segmentSchema)
    .default({})
    .describe(
      'Network segments: services reach only those sharing one (a service naming none is in `default`)',
    ),
  services: z
    .record(name('service'), serviceSchema)
    .default({})
    .describe('What runs: processes (`run`) or containers (`image`)'),
  firewall: z
    .strictObject({
      allow: z
        .array(allowRuleSchema)
        .default([])
        .describe('Connections to service ports beyond what segments and routes grant'),
    })
    .default({ allow: [] })
    .describe("Added to the nodes' nftables firewalls, which refuse what is not granted"),
  backups: z
    .strictObject({
      targets: z
        .record(name('target'), backupTargetSchema)
        .default({})
        .describe('restic repositories backups go to'),
      jobs: z
        .record(name('job'), backupJobSchema)
        .default({})
        .describe('Jobs named apart from a service block: for a `service`, or on a `node`'),
    })
    .default({ targets: {}, jobs: {} })
    .describe('Encrypted, deduplicated backups with restic'),
  registries: z
    .record(
      z.string().regex(/^[a-z0-9.-]+(:\d+)?$/, { message: 'a registry host, e.g. ghcr.io' }),
      z.strictObject({
        username: z.string().min(1).describe('The registry login'),
        password: z.string().min(1).describe('Usually ${secret:NAME}'),
      }),
    )
    .default({})
    .describe('Credentials for pulling images, by registry host'),
  monitors: z
    .record(name('monitor'), monitorSchema)
    .default({})
    .describe('Checks beyond the ones Flotilla derives from routes, instances, nodes and backups'),
  monitoring: monitoringSchema
    .default({
      interval: '30s',
      retries: 3,
      flapping: { changes: 6, window: '30m' },
      certificate_expiry: '14d',
      route_metrics: false,
      disk_alert: 90,
      maintenance: [],
    })
    .describe(
      'How the hub monitors: defaults of every monitor, alert repeats, maintenance, endpoints',
    ),
  alerts: z
    .array(alertSchema)
    .default([])
    .describe('Where the hub sends alerts; each item one channel'),
  dashboard: dashboardSchema.optional(),
});

export type Stack = z.output<typeof stackSchema>;
export type Service = Stack['services'][string];
export type StackNode = Stack['nodes'][string];
export type Route = Service['routes'][number];
export type HealthCheck = NonNullable<Service['health']>;
export type BackupJob = Stack['backups']['jobs'][string];
