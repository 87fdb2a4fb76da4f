// The dashboard's static files, served at /assets/<name>: its stylesheet and its small
// script (a few KB each; no build step, no bundler).
import { DASHBOARD_CSS } from './dashboard-css.ts';
import { DASHBOARD_JS } from './dashboard-js.ts';

export const assets: Record<string, { type: string; body: Buffer | string }> = {
  'dashboard.css': { type: 'text/css; charset=utf-8', body: DASHBOARD_CSS },
  'dashboard.js': { type: 'text/javascript; charset=utf-8', body: DASHBOARD_JS },
};
