// The one HTTP request behind the webhook, ntfy, Slack and Discord channels: POST a JSON
// body, read the answer, say what happened. A redirect is not followed (it would carry a
// signed body or a bearer token to another address): it fails like any other non-2xx.
import { failureReason, redact, type DeliveryResult } from './delivery.ts';

/** How much of a refusal's body a detail quotes (Slack's "no_service", ntfy's JSON error). */
const QUOTED_CHARS = 200;

export interface JsonPost {
  url: string;
  /** The exact bytes to send (a signature may cover them). */
  body: string;
  headers?: Record<string, string>;
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
    url.search,
    url.password,
    ...(post.secrets ?? []),
  ];
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { ...post.headers, 'content-type': 'application/json' },
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
    return {
      ok: false,
      detail: redact(`no answer from ${url.host}: ${failureReason(error, post.signal)}`, secrets),
    };
  }
}
