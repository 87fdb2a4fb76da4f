// The one HTTP request behind the webhook, ntfy, Slack and Discord channels: POST a JSON
// body, read the answer, say what happened. A redirect is not followed (it would carry a
// signed body or a bearer token to another address): it fails like any other non-2xx.
import { failureReason, redact, type DeliveryResult } from './delivery.ts';

/** How much of a refusal's body a detail quotes (Slack's "no_service", ntfy's JSON error). */
const QUOTED_CHARS = 200;
/** Path segments this long are taken for tokens (Slack's, Discord's), short ones for words. */
const TOKEN_SEGMENT_CHARS = 16;

export interface JsonPost {
  url: string;
  /** The exact bytes to send (a signature may cover them). */
  body: string;
  /** Header layers, a later one replacing an earlier one's header of the same name (any case). */
  headers?: readonly Record<string, string>[];
  /** Strings the detail must never show: tokens, header values; the URL's path always is. */
  secrets?: readonly (string | undefined)[];
  signal: AbortSignal;
}

/** POSTs `body` as JSON; never throws. The detail names the host, never the path or query. */
export async function postJson(post: JsonPost): Promise<DeliveryResult> {
  let url: URL;
  try {
    url = new URL(post.url);
  } catch {
    return { ok: false, detail: 'the channel URL is not an http(s) URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return { ok: false, detail: 'the channel URL is not an http(s) URL' };
  const secrets = [
    post.url,
    url.pathname.length > 1 ? url.pathname : undefined,
    // A receiver's answer may quote a part alone: the query, a value, a token segment.
    url.search.slice(1),
    ...url.searchParams.values(),
    ...url.pathname.split('/').filter((segment) => segment.length >= TOKEN_SEGMENT_CHARS),
    url.password,
    ...(post.secrets ?? []),
  ];
  try {
    const headers = new Headers();
    for (const layer of post.headers ?? [])
      for (const [name, value] of Object.entries(layer)) headers.set(name, value);
    headers.set('content-type', 'application/json');
    const response = await fetch(url, {
      method: 'POST',
      headers,
      body: post.body,
      redirect: 'manual',
      signal: post.signal,
    });
    const answer = `HTTP ${response.status} from ${url.host}`;
    if (response.ok) {
      await response.body?.cancel();
      return { ok: true, detail: answer };
    }
    const quoted = (await response.text()).replace(/\s+/g, ' ').trim().slice(0, QUOTED_CHARS);
    return { ok: false, detail: redact(quoted ? `${answer}: ${quoted}` : answer, secrets) };
  } catch (error) {
    // fetch rejects with "fetch failed"; the cause says why ("connect ECONNREFUSED
    // 127.0.0.1:25", "getaddrinfo ENOTFOUND hooks.example.com"), naming a host, not a path.
    const cause = (error as { cause?: unknown }).cause;
    return {
      ok: false,
      detail: redact(
        `no answer from ${url.host}: ${failureReason(cause ?? error, post.signal)}`,
        secrets,
      ),
    };
  }
}
