// The dashboard's one way to write HTML: a tagged template that escapes every interpolated
// value unless it is already SafeHtml (the output of another `html` template). Names of
// services, log lines and error messages come from outside, so nothing reaches a page
// unescaped by accident. Two attribute contexts need more than escaping, and the template
// checks them as it is written: an unquoted attribute value (refused, a quote is the only
// thing escaping can rely on) and a link or form target (only relative, http(s) and mailto
// URLs pass; `javascript:` and the like become a dead link).

/** HTML that is already escaped: inserted as it is. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/** An interpolation written so escaping cannot protect it (a template bug, not user input). */
export class UnsafeTemplateError extends Error {
  override readonly name = 'UnsafeTemplateError';
}

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (character) => ENTITIES[character]!);
}

/** Text trusted as HTML: only for markup built here, never for anything from outside. */
export function raw(markup: string): SafeHtml {
  return new SafeHtml(markup);
}

const UNQUOTED_ATTRIBUTE = /=\s*$/;
const URL_ATTRIBUTE = /\s(?:href|src|action|formaction)\s*=\s*["']$/i;
const SAFE_URL = /^(?:[/?#.]|https?:|mailto:|[^:/?#]*(?:[/?#]|$))/i;
/** What a refused URL becomes: a link to nowhere. */
export const BLOCKED_URL = 'about:invalid';

function render(value: unknown): string {
  if (value instanceof SafeHtml) return value.value;
  if (value === undefined || value === null || value === false) return '';
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/** Escapes every interpolation; arrays are joined; undefined, null and false render nothing. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0]!;
  values.forEach((value, index) => {
    const before = strings[index]!;
    if (UNQUOTED_ATTRIBUTE.test(before))
      throw new UnsafeTemplateError(
        `an interpolation after "${before.slice(-20)}" is an unquoted attribute value: quote it`,
      );
    if (URL_ATTRIBUTE.test(before) && !(value instanceof SafeHtml)) {
      const url = String(value ?? '').trim();
      out += escapeHtml(SAFE_URL.test(url) ? url : BLOCKED_URL);
    } else out += render(value);
    out += strings[index + 1]!;
  });
  return new SafeHtml(out);
}

/** A path segment of a dashboard link: `/services/${segment(name)}`. */
export function segment(text: string): string {
  return encodeURIComponent(text);
}
