// The dashboard's script, served at /assets/dashboard.js. A TypeScript constant, not a .js
// file read at run time: the compiled build (dist/) bundles the code into chunks and would
// not carry a file beside this module. The browser test runs it in Chromium.
export const DASHBOARD_JS = String.raw`// The dashboard's progressive enhancement; every page reads and works without it. It
// collapses the navigation behind a Menu button on narrow screens, asks before a button
// with data-confirm posts, follows a service's logs live, and keeps the overview and
// service pages current from the API's event stream (/api/v1/events, then /api/v1/status).
// Loaded from /assets (the Content-Security-Policy forbids inline script).
/* global document, window, EventSource, CSS, fetch */
'use strict';
(function () {
  document.documentElement.classList.add('js');
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || '';

  // Navigation: a Menu button on narrow screens (CSS shows it only there).
  var menu = document.querySelector('.menu-button');
  var nav = document.getElementById('nav-links');
  if (menu && nav) {
    menu.hidden = false;
    menu.addEventListener('click', function () {
      var open = menu.getAttribute('aria-expanded') !== 'true';
      menu.setAttribute('aria-expanded', String(open));
      nav.classList.toggle('open', open);
    });
  }

  // Buttons that change things ask first; a form whose token went stale gets the page's.
  document.addEventListener('submit', function (event) {
    var form = event.target;
    var question = form.getAttribute('data-confirm');
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    var token = form.querySelector('input[name="csrf"]');
    if (token && csrf) token.value = csrf;
  });

  // Logs: new lines as they are written, the view kept at the bottom unless scrolled up.
  // Each instance's stream opens with its last lines, most of them on the page already:
  // those are left out of its first batch.
  var MAX_LOG_LINES = 2000;
  var logs = document.querySelector('pre[data-follow]');
  if (logs && window.EventSource) {
    var shown = new Set(logs.textContent.split('\n'));
    var opened = {};
    var follow = new EventSource(logs.getAttribute('data-follow'));
    follow.addEventListener('lines', function (message) {
      var batch = JSON.parse(message.data);
      var instance = String(batch[0]).split(' | ')[0];
      if (!opened[instance]) {
        opened[instance] = true;
        batch = batch.filter(function (line) {
          return !shown.has(line);
        });
      }
      if (batch.length === 0) return;
      var atBottom = logs.scrollTop + logs.clientHeight >= logs.scrollHeight - 4;
      var text = logs.textContent + (logs.textContent ? '\n' : '') + batch.join('\n');
      logs.textContent = text.split('\n').slice(-MAX_LOG_LINES).join('\n');
      if (atBottom) logs.scrollTop = logs.scrollHeight;
    });
  }

  var GOOD = ['up', 'running', 'healthy', 'ok', 'succeeded', 'verified', 'in sync'];
  var BAD = ['down', 'failed', 'unhealthy', 'backoff', 'exited', 'stopped', 'verify failed'];
  function badge(state) {
    var span = document.createElement('span');
    var tone = GOOD.indexOf(state) >= 0 ? 'good' : BAD.indexOf(state) >= 0 ? 'bad' : 'neutral';
    span.className = 'badge badge-' + tone;
    span.textContent = state;
    return span;
  }
  function muted(text) {
    var span = document.createElement('span');
    span.className = 'muted';
    span.textContent = text;
    return span;
  }
  function fill(cell, parts) {
    if (!cell) return;
    cell.textContent = '';
    parts.forEach(function (part, index) {
      if (index > 0) cell.appendChild(document.createTextNode(' '));
      cell.appendChild(typeof part === 'string' ? document.createTextNode(part) : part);
    });
  }
  function setText(element, text) {
    if (element && element.textContent !== text) element.textContent = text;
  }

  // Status: the instance rows of a service page and the service rows of the overview.
  function showStatus(status) {
    if (!status) return;
    var services = {};
    status.instances.forEach(function (instance) {
      var count =
        services[instance.service] || (services[instance.service] = { healthy: 0, total: 0 });
      count.total += 1;
      if (instance.healthy) count.healthy += 1;
      var row = document.querySelector('tr[data-instance="' + CSS.escape(instance.id) + '"]');
      if (!row) return;
      fill(
        row.querySelector('[data-field="state"]'),
        instance.reason ? [badge(instance.state), muted(instance.reason)] : [badge(instance.state)],
      );
      fill(row.querySelector('[data-field="health"]'), [
        badge(instance.healthy ? 'healthy' : 'unhealthy'),
        muted(instance.health_detail),
      ]);
      setText(row.querySelector('[data-field="restarts"]'), String(instance.restarts));
      setText(row.querySelector('[data-field="pid"]'), instance.pid ? String(instance.pid) : '–');
    });
    Object.keys(services).forEach(function (name) {
      var count = services[name];
      var row = document.querySelector('tr[data-service="' + CSS.escape(name) + '"]');
      if (row)
        setText(row.querySelector('[data-field="healthy"]'), count.healthy + '/' + count.total);
      var summary = document.querySelector(
        '[data-live="service-health"][data-service="' + CSS.escape(name) + '"]',
      );
      setText(summary, count.healthy + ' of ' + count.total + ' instances healthy');
    });
  }

  var refreshing = false;
  var again = false;
  function refreshStatus() {
    if (refreshing) {
      again = true;
      return;
    }
    refreshing = true;
    fetch('/api/v1/status', { credentials: 'same-origin', headers: { accept: 'application/json' } })
      .then(function (response) {
        return response.ok ? response.json() : undefined;
      })
      .then(showStatus, function () {})
      .then(function () {
        refreshing = false;
        if (again) {
          again = false;
          refreshStatus();
        }
      });
  }

  var MAX_EVENTS = 50;
  var eventList = document.querySelector('ol[data-live="events"]');
  if (
    window.EventSource &&
    (eventList || document.querySelector('tr[data-instance], tr[data-service]'))
  ) {
    var stream = new EventSource('/api/v1/events');
    stream.addEventListener('event', function (message) {
      var event = JSON.parse(message.data);
      if (eventList) {
        var item = document.createElement('li');
        var type = document.createElement('span');
        type.className = 'event-type';
        type.textContent = event.type;
        var when = document.createElement('time');
        when.dateTime = new Date(event.at).toISOString();
        when.textContent = 'just now';
        item.append(type, ' ', when, document.createElement('br'), event.message);
        eventList.insertBefore(item, eventList.firstChild);
        while (eventList.children.length > MAX_EVENTS) eventList.removeChild(eventList.lastChild);
        var none = document.querySelector('[data-live="no-events"]');
        if (none) none.remove();
      }
      refreshStatus();
    });
  }
})();
`;
