// The dashboard's HTML template: every interpolation escaped (text and attribute values),
// nested templates kept, unquoted attributes refused, link targets limited to safe schemes.
import { describe, expect, it } from 'vitest';
import {
  BLOCKED_URL,
  escapeHtml,
  html,
  raw,
  UnsafeTemplateError,
} from '../../../src/hub/dashboard/pages/html.ts';

const NASTY = `<script>alert("x")</script>&'\``;

// Prettier formats html`` templates as HTML; these compare exact output, so it keeps off.
// prettier-ignore
describe('html template', () => {
  it('escapes text interpolations', () => {
    expect(html`<p>${NASTY}</p>`.value).toBe(
      '<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;&#96;</p>',
    );
  });

  it('escapes quoted attribute values so they cannot close the attribute', () => {
    const double = `" onmouseover="alert(1)`;
    const single = `' onmouseover='alert(1)`;
    const out = html`<input value="${double}"><input value='${single}'>`.value;
    expect(out).toBe(
      `<input value="&quot; onmouseover=&quot;alert(1)"><input value='&#39; onmouseover=&#39;alert(1)'>`,
    );
  });

  it('keeps nested templates and raw markup, escapes arrays item by item', () => {
    const items = ['<b>', html`<i>${'<i>'}</i>`];
    expect(html`<ul>${items.map((item) => html`<li>${item}</li>`)}</ul>`.value).toBe(
      '<ul><li>&lt;b&gt;</li><li><i>&lt;i&gt;</i></li></ul>',
    );
    expect(html`${raw('<hr>')}`.value).toBe('<hr>');
  });

  it('renders undefined, null and false as nothing, numbers and zero as text', () => {
    expect(html`[${undefined}${null}${false}${0}${12.5}]`.value).toBe('[012.5]');
  });

  it('refuses an interpolation as an unquoted attribute value', () => {
    expect(() => html`<a title=${'x onclick=alert(1)'}>`).toThrow(UnsafeTemplateError);
    expect(() => html`<a title= ${'x'}>`).toThrow(/quote it/);
  });

  it('lets relative, http(s) and mailto links through and blocks other schemes', () => {
    const link = (url: string) => html`<a href="${url}">x</a>`.value;
    expect(link('/services/api?x=1&y=2')).toBe('<a href="/services/api?x=1&amp;y=2">x</a>');
    expect(link('https://api.example.com/')).toBe('<a href="https://api.example.com/">x</a>');
    expect(link('mailto:ops@example.com')).toBe('<a href="mailto:ops@example.com">x</a>');
    expect(link('services/api')).toBe('<a href="services/api">x</a>');
    for (const bad of ['javascript:alert(1)', ' JavaScript:alert(1)', 'java\tscript:x', 'data:text/html,<b>', 'vbscript:x'])
      expect(link(bad)).toBe(`<a href="${BLOCKED_URL}">x</a>`);
    expect(html`<form action='${'javascript:x'}'>`.value).toBe(`<form action='${BLOCKED_URL}'>`);
  });

  it('escapeHtml leaves plain text alone', () => {
    expect(escapeHtml('api-1 | GET / 200')).toBe('api-1 | GET / 200');
  });
});
