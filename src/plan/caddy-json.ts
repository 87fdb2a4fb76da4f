// The slice of Caddy 2.6's JSON config that Flotilla generates, typed loosely enough to
// stay plain JSON (handlers carry module-specific fields) but tightly enough to catch
// a misplaced route or matcher.

export type JsonValue = string | number | boolean | JsonValue[] | { [key: string]: JsonValue };

export type CaddyHandler = { handler: string } & { [field: string]: JsonValue };

export type CaddyMatcher = {
  host?: string[];
  path?: string[];
  method?: string[];
  /** Field → accepted values; an empty list means "the field is present". */
  header?: Record<string, string[]>;
  not?: CaddyMatcher[];
};

export type CaddyRoute = {
  match?: CaddyMatcher[];
  handle: CaddyHandler[];
  terminal?: boolean;
};

export type CaddyServer = {
  listen: string[];
  routes: CaddyRoute[];
  /** Access logging: every request goes to the logger `http.log.access.<name>`. */
  logs?: { default_logger_name: string };
};

export type CaddyIssuer =
  | { module: 'internal' }
  | {
      module: 'acme';
      email?: string;
      challenges: {
        http: { alternate_port: number };
        'tls-alpn': { alternate_port: number };
      };
    };

/** No `admin` nor `storage`: the gateway node's agent adds its own. */
export type CaddyConfig = {
  apps: {
    http: {
      http_port: number;
      https_port: number;
      servers: Record<string, CaddyServer>;
    };
    tls: { automation: { policies: { subjects: string[]; issuers: CaddyIssuer[] }[] } };
    pki?: { certificate_authorities: { local: { install_trust: boolean } } };
  };
  logging?: { logs: Record<string, JsonValue> };
};
