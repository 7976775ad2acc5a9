// Hookflash web page: the agent desktop (GET /) and the wallboard (GET /wallboard).
//
// Plain browser JavaScript, no build step and no external resources. Everything the page shows
// comes from the bridge's REST API (/v1/me, /v1/calls, /v1/agents, /v1/queues) and its event
// stream (/v1/events, one JSON text per normalized event). The stream is resumed with
// since=<last seq seen> after a disconnect; events at or below the last seen sequence number are
// ignored, so a replay never applies an event twice.
//
// Text from the PBX, the CRM lookup or the URL is only ever put into the page with textContent.
//
// Copyright the Hookflash authors. Licensed under the Apache License, Version 2.0.
'use strict';

(function () {
  // ---------------------------------------------------------------- common plumbing

  const params = new URLSearchParams(window.location.search);
  const TOKEN_KEY = 'hookflash.token';
  let token = params.get('token') || '';
  try {
    if (token) {
      window.sessionStorage.setItem(TOKEN_KEY, token);
    } else {
      token = window.sessionStorage.getItem(TOKEN_KEY) || '';
    }
  } catch (_) {
    // Storage may be disabled; the token from the URL still works for this page view.
  }

  const $ = (id) => document.getElementById(id);

  /** An error the API answered with: HTTP status, the typed error code and its detail. */
  class ApiError extends Error {
    constructor(status, code, detail) {
      super(code + (detail ? ': ' + detail : '') + ' (HTTP ' + status + ')');
      this.status = status;
      this.code = code;
      this.detail = detail;
    }
  }

  /** Calls the bridge's REST API with the page's bearer token; resolves to the JSON body. */
  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (token) headers.Authorization = 'Bearer ' + token;
    const init = { method, headers, cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    const text = await res.text();
    let json = null;
    if (text) {
      try {
        json = JSON.parse(text);
      } catch (_) {
        json = null;
      }
    }
    if (!res.ok) {
      const code = json && typeof json.error === 'string' ? json.error : 'http' + res.status;
      const detail = json && json.detail != null ? String(json.detail) : '';
      throw new ApiError(res.status, code, detail);
    }
    return json;
  }

  function say(text, kind) {
    const el = $('message');
    if (!el) return;
    el.textContent = text || '';
    el.dataset.kind = kind || 'info';
  }

  function sayError(what, err) {
    say(what + ': ' + (err && err.message ? err.message : String(err)), 'error');
  }

  /** A number as the model serializes it ({raw, e164}), a plain string, or nothing. */
  function numberText(n) {
    if (n == null) return '';
    if (typeof n === 'string') return n;
    return n.e164 || n.raw || '';
  }

  /** A leg's connection state name: {"state":"alerting"}, {"state":"unknown","raw":..} or a string. */
  function legState(leg) {
    const s = leg && leg.state;
    if (s == null) return 'null';
    if (typeof s === 'string') return s;
    if (s.state === 'unknown' && s.raw) return 'unknown:' + s.raw;
    return s.state || 'null';
  }

  function statusOf(agent) {
    const s = agent && agent.status;
    if (s == null) return { status: 'loggedOut', reason: null };
    if (typeof s === 'string') return { status: s, reason: agent.reason || null };
    return { status: s.status || 'loggedOut', reason: s.reason == null ? null : String(s.reason) };
  }

  function activityOf(agent) {
    const a = agent && agent.activity;
    if (a == null) return 'idle';
    if (typeof a === 'string') return a;
    return a.activity || 'idle';
  }

  /** The availability rule table of the normalized model (the server's value wins if sent). */
  function availabilityOf(agent) {
    if (agent && typeof agent.availability === 'string') return agent.availability;
    const status = statusOf(agent).status;
    const activity = activityOf(agent);
    if (status === 'loggedOut') return 'offline';
    if (activity === 'onAcdCall' || activity === 'onOtherCall') return 'busy';
    if (activity === 'reserved') return 'reserved';
    if (status === 'ready') return 'available';
    if (status === 'notReady') return 'away';
    if (status === 'workingAfterCall') return 'wrap-up';
    return 'offline';
  }

  /**
   * The agents of a GET /v1/agents snapshot asked for when `from` was the last event seen; an
   * agent an event changed after that keeps what the event said (the snapshot may predate it).
   */
  function mergeAgents(known, snapshot, from) {
    const out = new Map();
    for (const a of snapshot) {
      if (a == null || a.id == null) continue;
      const mine = known.get(a.id);
      out.set(a.id, mine && mine.seq > from ? mine : a);
    }
    return out;
  }

  function duration(ms) {
    if (!(ms >= 0)) return '—';
    const s = Math.floor(ms / 1000);
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const ss = String(s % 60).padStart(2, '0');
    return h > 0 ? h + ':' + String(m).padStart(2, '0') + ':' + ss : m + ':' + ss;
  }

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    if (attrs) {
      for (const k of Object.keys(attrs)) {
        if (k.startsWith('data-') || k === 'class' || k === 'type' || k === 'role' || k === 'aria-label') {
          e.setAttribute(k, attrs[k]);
        } else {
          e[k] = attrs[k];
        }
      }
    }
    if (text != null) e.textContent = text;
    return e;
  }

  // ---------------------------------------------------------------- the event stream

  /**
   * A WebSocket to /v1/events that reconnects with backoff and resumes with since=lastSeq.
   * `onEvent(ev)` gets each event once, in order; `onOpen()` runs after every (re)connect, so the
   * page can refresh what it shows from the REST snapshot.
   */
  function eventStream(filter, onEvent, onOpen) {
    const stream = { lastSeq: 0, connects: 0, socket: null, delay: 500, timer: null };
    const conn = $('conn-state');

    function setConn(state) {
      if (!conn) return;
      conn.dataset.state = state;
      conn.textContent = state === 'open' ? 'live' : state;
    }

    function url() {
      const q = new URLSearchParams();
      if (token) q.set('token', token);
      for (const k of Object.keys(filter)) {
        if (filter[k]) q.set(k, filter[k]);
      }
      if (stream.lastSeq > 0) q.set('since', String(stream.lastSeq));
      const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
      return scheme + '//' + window.location.host + '/v1/events?' + q.toString();
    }

    function connect() {
      stream.timer = null;
      setConn('connecting');
      let ws;
      try {
        ws = new WebSocket(url());
      } catch (err) {
        sayError('event stream', err);
        retry();
        return;
      }
      stream.socket = ws;
      ws.onopen = () => {
        stream.connects += 1;
        stream.delay = 500;
        setConn('open');
        if (stream.lastSeq > 0) checkJournal(stream.lastSeq);
        onOpen();
      };
      ws.onmessage = (msg) => {
        if (typeof msg.data !== 'string') return;
        let ev;
        try {
          ev = JSON.parse(msg.data);
        } catch (_) {
          return;
        }
        if (ev == null || typeof ev !== 'object') return;
        if (typeof ev.seq === 'number') {
          if (ev.seq <= stream.lastSeq) return; // already seen (replay overlap)
          stream.lastSeq = ev.seq;
        }
        try {
          onEvent(ev);
        } catch (err) {
          sayError('event ' + ev.type, err);
        }
      };
      ws.onclose = () => {
        if (stream.socket === ws) stream.socket = null;
        setConn('closed');
        retry();
      };
      ws.onerror = () => {
        // onclose follows and schedules the reconnect.
      };
    }

    // A bridge whose journal was reset numbers from 1 again: everything it sends would look
    // already seen. /healthz tells the newest number; when it is below ours, start over from it.
    async function checkJournal(asked) {
      try {
        const h = await api('GET', '/healthz');
        if (h && typeof h.lastSeq === 'number' && h.lastSeq < asked && stream.lastSeq === asked) {
          stream.lastSeq = h.lastSeq;
          stream.resets = (stream.resets || 0) + 1;
          onOpen();
        }
      } catch (_) {
        // Without /healthz the numbers are trusted.
      }
    }

    function retry() {
      if (stream.timer) return;
      const wait = stream.delay + Math.floor(Math.random() * 250);
      stream.delay = Math.min(stream.delay * 2, 10000);
      stream.timer = window.setTimeout(connect, wait);
    }

    stream.start = connect;
    return stream;
  }

  // ---------------------------------------------------------------- agent desktop

  // Verbs in the order the softphone bar shows them; names as the core's Verbs::names.
  const VERBS = [
    ['answer', 'Answer'],
    ['clear', 'Hang up'],
    ['hold', 'Hold'],
    ['retrieve', 'Retrieve'],
    ['consult', 'Consult'],
    ['transfer', 'Transfer'],
    ['conference', 'Conference'],
    ['singleStepTransfer', 'Blind transfer'],
    ['singleStepConference', 'Add party'],
    ['deflect', 'Deflect'],
    ['alternate', 'Alternate'],
    ['reconnect', 'Reconnect'],
    ['sendDigits', 'Send digits'],
  ];
  // The softphone bar shows at most this many calls (an admin watching a large site).
  const MAX_SHOWN_CALLS = 200;
  // Calls learned from events and not (yet) confirmed by a snapshot are kept up to this many.
  const MAX_KNOWN_CALLS = 5000;
  const CALL_EVENTS = new Set(['partyLeft', 'connectionStateChanged', 'screenPop']);
  const NEEDS_NUMBER = new Set(['consult', 'singleStepTransfer', 'singleStepConference', 'deflect']);
  const NEEDS_OTHER = new Set(['transfer', 'conference', 'alternate']);

  /** The REST path segment of a verb: singleStepTransfer -> single-step-transfer. */
  function verbPath(verb) {
    return verb.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
  }

  function desktop() {
    const st = {
      me: null,
      agent: params.get('agent') || '',
      device: params.get('device') || '',
      agents: new Map(),
      calls: new Map(),
      pop: null,
      refreshTimer: null,
      stream: null,
      links: new Map(),
    };
    window.hookflash = st;

    const wb = $('wallboard-link');
    if (wb && token) wb.href = '/wallboard?token=' + encodeURIComponent(token);

    function myDevice() {
      if (st.device) return st.device;
      const a = st.agents.get(st.agent);
      if (a && a.device) return a.device;
      if (st.me && Array.isArray(st.me.devices) && st.me.devices.length > 0) return st.me.devices[0];
      return '';
    }

    // ---- agent state

    function renderAgent() {
      const a = st.agents.get(st.agent);
      const { status, reason } = statusOf(a);
      const avail = a ? availabilityOf(a) : st.agent ? 'unknown' : 'offline';
      const av = $('agent-availability');
      av.dataset.availability = avail;
      av.textContent = avail;
      const s = $('agent-status');
      s.dataset.status = a ? status : '';
      s.textContent = st.agent ? st.agent + (a && a.device ? ' @ ' + a.device : '') + ' — ' + (a ? status : 'unknown') : 'no agent selected';
      const r = $('agent-reason');
      r.dataset.reason = reason || '';
      r.textContent = reason ? 'reason ' + reason : '';
      const commands = !!st.agent && (!st.me || st.me.scope !== 'supervisor');
      // An agent the bridge has not heard of yet may be in any state: every button is offered.
      const known = !!a;
      const loggedOut = known && status === 'loggedOut';
      $('btn-login').disabled = !commands || (known && !loggedOut);
      $('btn-ready').disabled = !commands || loggedOut || (known && status === 'ready');
      $('btn-not-ready').disabled = !commands || loggedOut;
      $('not-ready-reason').disabled = !commands || loggedOut;
      $('btn-acw').disabled = !commands || loggedOut || (known && status === 'workingAfterCall');
      $('btn-logout').disabled = !commands || loggedOut;
      const dev = $('device-input');
      if (document.activeElement !== dev) dev.value = myDevice();
    }

    function renderAgentSelect() {
      const sel = $('agent-select');
      const ids = Array.from(st.agents.keys()).sort();
      if (st.agent && !ids.includes(st.agent)) ids.unshift(st.agent);
      const current = Array.from(sel.options).map((o) => o.value).join('\n');
      const wanted = [''].concat(ids).join('\n');
      if (current !== wanted) {
        sel.textContent = '';
        sel.appendChild(el('option', { value: '' }, '(none)'));
        for (const id of ids) sel.appendChild(el('option', { value: id }, id));
      }
      sel.value = st.agent;
      sel.disabled = !!(st.me && st.me.scope === 'agent');
    }

    async function setState(state) {
      if (!st.agent) return;
      const body = { state };
      if (state === 'notReady') {
        const reason = $('not-ready-reason').value;
        if (reason) body.reason = reason;
      }
      const dev = myDevice();
      if (dev) body.device = dev;
      say('');
      try {
        await api('PUT', '/v1/agents/' + encodeURIComponent(st.agent) + '/state', body);
        say('Agent state: ' + state);
      } catch (err) {
        sayError('agent state', err);
      }
      refreshAgents();
    }

    for (const id of ['btn-login', 'btn-ready', 'btn-not-ready', 'btn-acw', 'btn-logout']) {
      const b = $(id);
      b.addEventListener('click', () => setState(b.dataset.state));
    }
    $('agent-select').addEventListener('change', (e) => {
      st.agent = e.target.value;
      st.device = '';
      renderAgent();
      renderCalls();
    });
    $('device-input').addEventListener('change', (e) => {
      st.device = e.target.value.trim();
      renderAgent();
      renderCalls();
    });

    // ---- calls

    function visibleCalls() {
      const dev = myDevice();
      const out = [];
      for (const c of st.calls.values()) {
        if (c.endedAt != null || c.ended) continue;
        const legs = Array.isArray(c.legs) ? c.legs : [];
        if (!dev || legs.some((l) => l.device === dev && legState(l) !== 'null')) out.push(c);
      }
      out.sort((a, b) => a.id - b.id);
      return out.length > MAX_SHOWN_CALLS ? out.slice(0, MAX_SHOWN_CALLS) : out;
    }

    function callParties(c) {
      const d = c.data || {};
      const ani = numberText(d.ani) || '?';
      const dnis = numberText(d.dnis) || '?';
      return ani + ' → ' + dnis;
    }

    function permittedAt(c, dev) {
      const p = c.permitted;
      if (!p || typeof p !== 'object') return [];
      const list = dev ? p[dev] : Object.values(p).flat();
      return Array.isArray(list) ? list : [];
    }

    // The device a call's buttons act at: the page's device, or (an admin or supervisor watching
    // every call) the call's party that may do most: ringing first, then talking, then held.
    const LEG_RANK = { alerting: 0, connected: 1, held: 2 };
    function actingDevice(c) {
      const dev = myDevice();
      if (dev) return dev;
      const legs = Array.isArray(c.legs) ? c.legs : [];
      let best = '';
      let rank = 99;
      for (const l of legs) {
        if (permittedAt(c, l.device).length === 0) continue;
        const r = LEG_RANK[legState(l)] ?? 9;
        if (r < rank) {
          best = l.device;
          rank = r;
        }
      }
      return best;
    }

    function renderCalls() {
      const list = $('calls');
      const pageDev = myDevice();
      const calls = visibleCalls();
      $('no-calls').hidden = calls.length > 0;
      const keep = new Set();
      for (const c of calls) {
        const key = String(c.id);
        keep.add(key);
        let li = list.querySelector('li[data-call="' + CSS.escape(key) + '"]');
        if (!li) {
          li = el('li', { class: 'call', 'data-call': key });
          li.appendChild(el('span', { class: 'call-id' }, '#' + key));
          li.appendChild(el('span', { class: 'call-parties' }));
          li.appendChild(el('span', { class: 'call-state' }));
          li.appendChild(el('span', { class: 'call-timer', 'aria-label': 'time in this state' }));
          li.appendChild(el('span', { class: 'call-queue' }));
          const bar = el('span', { class: 'verbs', role: 'group' });
          bar.setAttribute('aria-label', 'Call ' + key + ' controls');
          for (const [verb, label] of VERBS) {
            const b = el('button', { type: 'button', 'data-verb': verb, disabled: true }, label);
            b.addEventListener('click', () => runVerb(c.id, verb));
            bar.appendChild(b);
          }
          li.appendChild(bar);
          list.appendChild(li);
        }
        const legs = Array.isArray(c.legs) ? c.legs : [];
        const dev = actingDevice(c);
        const mine = legs.find((l) => l.device === dev);
        const state = mine ? legState(mine) : legs.map((l) => l.device + ':' + legState(l)).join(' ');
        li.dataset.state = mine ? state : '';
        li.dataset.device = dev;
        li.querySelector('.call-parties').textContent = callParties(c);
        li.querySelector('.call-state').textContent = mine && !pageDev ? state + ' at ' + dev : state;
        if (mine && typeof mine.since === 'number') li.dataset.since = String(mine.since);
        else if (li.dataset.state !== li.dataset.shownState) li.dataset.since = String(Date.now());
        li.dataset.shownState = li.dataset.state;
        li.querySelector('.call-queue').textContent = c.queue ? 'queue ' + c.queue : '';
        const allowed = new Set(permittedAt(c, dev));
        for (const b of li.querySelectorAll('button[data-verb]')) {
          const ok = allowed.has(b.dataset.verb) && !!dev && !(st.me && st.me.scope === 'supervisor');
          b.disabled = !ok;
          b.hidden = !ok && !['answer', 'clear', 'hold', 'retrieve'].includes(b.dataset.verb);
        }
      }
      for (const li of Array.from(list.children)) {
        if (!keep.has(li.dataset.call)) li.remove();
      }
      tickTimers();
      maybePopFromCall(calls, pageDev);
    }

    async function runVerb(callId, verb) {
      const call = st.calls.get(callId);
      const dev = call ? actingDevice(call) : myDevice();
      if (!dev) return;
      const body = { device: dev };
      const number = $('dial-number').value.trim();
      if (NEEDS_NUMBER.has(verb)) {
        if (!number) {
          say('Enter the number in the dial box first.', 'error');
          return;
        }
        body.to = number;
      }
      if (verb === 'sendDigits') {
        if (!number) {
          say('Enter the digits in the dial box first.', 'error');
          return;
        }
        body.digits = number;
      }
      if (NEEDS_OTHER.has(verb) || verb === 'reconnect') {
        const other = visibleCalls().find(
          (c) => c.id !== callId && (c.legs || []).some((l) => l.device === dev && legState(l) !== 'null'),
        );
        if (other) body.other = other.id;
        else if (verb !== 'reconnect') {
          say('This needs a second call at ' + dev + '.', 'error');
          return;
        }
      }
      say('');
      try {
        await api('POST', '/v1/calls/' + encodeURIComponent(callId) + '/' + verbPath(verb), body);
        say(verb + ' sent for call ' + callId);
      } catch (err) {
        sayError(verb, err);
      }
      scheduleRefresh(0);
    }

    $('dial-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      const to = $('dial-number').value.trim();
      const from = myDevice();
      if (!to || !from) {
        say(from ? 'Enter a number.' : 'No device to call from.', 'error');
        return;
      }
      say('');
      try {
        const r = await api('POST', '/v1/calls', { from, to });
        say('Calling ' + to + (r && r.call != null ? ' (call ' + r.call + ')' : ''));
      } catch (err) {
        sayError('make call', err);
      }
      scheduleRefresh(0);
    });

    function tickTimers() {
      const now = Date.now();
      for (const li of document.querySelectorAll('#calls li.call')) {
        const since = Number(li.dataset.since);
        const t = li.querySelector('.call-timer');
        if (t) t.textContent = since > 0 ? duration(Math.max(0, now - since)) : '';
      }
    }

    // ---- screen pop

    function showPop(pop) {
      st.pop = pop;
      const card = $('screen-pop');
      card.hidden = false;
      card.dataset.call = String(pop.call);
      $('pop-call').textContent = '#' + pop.call + (pop.device ? ' at ' + pop.device : '');
      $('pop-ani').textContent = numberText(pop.ani) || '—';
      $('pop-dnis').textContent = numberText(pop.dnis) || '—';
      const data = pop.data || {};
      const path = Array.isArray(data.queuePath) ? data.queuePath : [];
      $('pop-queue').textContent = path.length ? path.join(' → ') : pop.queue || '—';
      const dl = $('pop-data');
      dl.textContent = '';
      const attached = data.attached && typeof data.attached === 'object' ? data.attached : {};
      const rows = Object.entries(attached);
      if (data.correlator) rows.unshift(['correlator', data.correlator]);
      if (data.uui) rows.unshift(['uui', data.uui]);
      for (const [k, v] of rows) {
        dl.appendChild(el('dt', null, k));
        dl.appendChild(el('dd', { 'data-key': k }, String(v)));
      }
      if (rows.length === 0) dl.appendChild(el('dd', { class: 'muted' }, 'none'));
      renderCustomer(pop.customer);
    }

    $('pop-close').addEventListener('click', () => {
      $('screen-pop').hidden = true;
    });

    function renderCustomer(customer) {
      const box = $('pop-customer');
      box.textContent = '';
      if (customer === undefined) {
        box.dataset.found = 'unknown';
        box.appendChild(el('p', { class: 'muted' }, 'No lookup result.'));
        return;
      }
      if (customer === null || typeof customer !== 'object') {
        box.dataset.found = 'no';
        box.appendChild(el('p', { class: 'muted' }, 'Unknown caller.'));
        return;
      }
      box.dataset.found = 'yes';
      const name = customer.name || customer.displayName || customer.company;
      if (name) box.appendChild(el('p', { class: 'customer-name' }, String(name)));
      const dl = el('dl', { class: 'kv' });
      for (const [k, v] of Object.entries(customer)) {
        dl.appendChild(el('dt', null, k));
        dl.appendChild(el('dd', { 'data-key': k }, v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v)));
      }
      box.appendChild(dl);
    }

    // A call that rings here while no screen pop event was seen for it (the page was opened while
    // it rang): show what the call itself knows.
    function maybePopFromCall(calls, dev) {
      if (!dev) return;
      for (const c of calls) {
        const leg = (c.legs || []).find((l) => l.device === dev);
        if (!leg || legState(leg) !== 'alerting') continue;
        if (st.pop && st.pop.call === c.id) return;
        const d = c.data || {};
        showPop({ call: c.id, device: dev, ani: d.ani, dnis: d.dnis, data: d, queue: c.queue });
        return;
      }
    }

    // ---- links

    function renderLinks() {
      const b = $('link-state');
      const states = Array.from(st.links.values());
      const down = Array.from(st.links.entries()).filter(([, s]) => s !== 'up').map(([n]) => n);
      b.dataset.state = states.length === 0 ? '' : down.length === 0 ? 'up' : 'down';
      b.textContent = states.length === 0 ? '' : down.length === 0 ? 'PBX up' : 'PBX ' + down.join(', ') + ' not up';
    }

    async function refreshLinks() {
      try {
        const links = await api('GET', '/v1/links');
        if (Array.isArray(links)) {
          st.links = new Map(links.filter((l) => l && l.name != null).map((l) => [String(l.name), l.state]));
        }
        renderLinks();
      } catch (_) {
        // Links are a hint; the page works without them.
      }
    }

    // ---- snapshot refresh

    async function refreshCalls() {
      try {
        const calls = await api('GET', '/v1/calls');
        if (Array.isArray(calls)) {
          st.calls = new Map(calls.map((c) => [c.id, c]));
        }
        renderCalls();
      } catch (err) {
        sayError('calls', err);
      }
    }

    async function refreshAgents() {
      try {
        const from = st.stream ? st.stream.lastSeq : 0;
        const agents = await api('GET', '/v1/agents');
        if (Array.isArray(agents)) st.agents = mergeAgents(st.agents, agents, from);
        renderAgentSelect();
        renderAgent();
      } catch (err) {
        sayError('agents', err);
      }
    }

    function scheduleRefresh(delay) {
      if (st.refreshTimer) return;
      st.refreshTimer = window.setTimeout(() => {
        st.refreshTimer = null;
        refreshCalls();
      }, delay);
    }

    // ---- live events

    function touchLeg(callId, device, state) {
      if (typeof device !== 'string' || typeof state !== 'string') return;
      let c = st.calls.get(callId);
      if (!c) {
        if (st.calls.size >= MAX_KNOWN_CALLS) st.calls.delete(st.calls.keys().next().value);
        c = { id: callId, legs: [], data: {}, permitted: {} };
        st.calls.set(callId, c);
      }
      if (!Array.isArray(c.legs)) c.legs = [];
      const leg = c.legs.find((l) => l.device === device);
      if (leg) {
        leg.state = { state };
        leg.since = Date.now();
      } else c.legs.push({ device, state: { state }, since: Date.now() });
      // What the PBX permits changes with the state; until the snapshot says, allow nothing.
      if (c.permitted) delete c.permitted[device];
    }

    function onEvent(ev) {
      const dev = myDevice();
      // An event about a call names it by number and its device by name; anything else is not
      // something this page can place, and is dropped.
      const aboutCall =
        'call' in ev || /^call[A-Z]/.test(String(ev.type)) || CALL_EVENTS.has(ev.type);
      if (aboutCall && !Number.isSafeInteger(ev.call)) return;
      if ('device' in ev && ev.device != null && typeof ev.device !== 'string') return;
      if ('agent' in ev && ev.agent != null && typeof ev.agent !== 'string') return;
      switch (ev.type) {
        case 'callOffered': {
          if (!st.calls.has(ev.call) && st.calls.size >= MAX_KNOWN_CALLS) {
            st.calls.delete(st.calls.keys().next().value);
          }
          const c = st.calls.get(ev.call) || { id: ev.call, legs: [], permitted: {} };
          c.data = Object.assign({}, c.data, { ani: ev.ani, dnis: ev.dnis, direction: ev.direction });
          st.calls.set(ev.call, c);
          break;
        }
        case 'callAlerting':
          touchLeg(ev.call, ev.device, 'alerting');
          break;
        case 'callAnswered':
        case 'callRetrieved':
          touchLeg(ev.call, ev.device, 'connected');
          break;
        case 'callHeld':
          touchLeg(ev.call, ev.device, 'held');
          break;
        case 'callFailed':
          touchLeg(ev.call, ev.device, 'failed');
          break;
        case 'partyLeft':
          touchLeg(ev.call, ev.device, 'null');
          break;
        case 'connectionStateChanged':
          if (ev.state) touchLeg(ev.call, ev.device, typeof ev.state === 'string' ? ev.state : ev.state.state);
          break;
        case 'callDataChanged': {
          const c = st.calls.get(ev.call);
          if (c && ev.data) c.data = ev.data;
          if (st.pop && st.pop.call === ev.call && ev.data) showPop(Object.assign({}, st.pop, { data: ev.data }));
          break;
        }
        case 'callQueued':
        case 'callDiverted':
        case 'callTransferred':
        case 'callConferenced':
          // Who is where now is the snapshot's to say.
          break;
        case 'callEnded':
          st.calls.delete(ev.call);
          if (st.pop && st.pop.call === ev.call) $('screen-pop').dataset.ended = 'true';
          break;
        case 'screenPop':
          if ((dev && ev.device === dev) || (st.agent && ev.agent === st.agent) || !dev) {
            $('screen-pop').dataset.ended = 'false';
            showPop(ev);
          }
          break;
        case 'linkStateChanged':
          if (ev.link != null) st.links.set(String(ev.link), ev.state);
          renderLinks();
          return;
        case 'agentStateChanged': {
          if (typeof ev.agent !== 'string') return;
          const a = st.agents.get(ev.agent) || { id: ev.agent, queues: {} };
          a.device = ev.device;
          a.status = ev.status;
          a.activity = ev.activity;
          a.availability = ev.availability;
          a.seq = ev.seq;
          st.agents.set(ev.agent, a);
          if (!st.agents.has(st.agent) || ev.agent === st.agent) renderAgentSelect();
          renderAgent();
          return;
        }
        default:
          return;
      }
      renderCalls();
      scheduleRefresh(150);
    }

    async function start() {
      try {
        st.me = await api('GET', '/v1/me');
      } catch (err) {
        sayError('sign-in', err);
        const c = $('conn-state');
        c.dataset.state = 'unauthorized';
        c.textContent = err && err.status === 401 ? 'bad or missing token' : 'error';
        return;
      }
      const scope = $('me-scope');
      scope.dataset.scope = st.me.scope || '';
      scope.textContent = st.me.scope || '';
      if (st.me.agent) st.agent = st.me.agent;
      await refreshAgents();
      st.stream = eventStream({}, onEvent, () => {
        refreshCalls();
        refreshAgents();
        refreshLinks();
      });
      st.stream.start();
      // A slow safety net: what the stream says is authoritative, the snapshot fills gaps.
      window.setInterval(() => {
        refreshCalls();
        refreshAgents();
        refreshLinks();
      }, 30000);
      window.setInterval(tickTimers, 1000);
    }

    renderAgent();
    renderCalls();
    start();
  }

  // ---------------------------------------------------------------- wallboard

  const AVAILABILITIES = ['available', 'reserved', 'busy', 'wrap-up', 'away', 'offline'];

  /** Normalizes one entry of GET /v1/queues or a queueStatsChanged event to {id, stats}. */
  function queueEntry(q) {
    if (q == null || typeof q !== 'object') return null;
    const id = q.id != null ? q.id : q.queue;
    if (id == null) return null;
    const stats = q.stats && typeof q.stats === 'object' ? q.stats : q;
    return { id: String(id), stats };
  }

  function wallboard() {
    const st = { queues: new Map(), agents: new Map(), stream: null };
    window.hookflash = st;

    function setQueue(entry, seq) {
      if (!entry) return;
      st.queues.set(entry.id, { stats: entry.stats, receivedAt: Date.now(), seq: seq || 0 });
    }

    function cell(row, field, text) {
      let td = row.querySelector('td[data-field="' + field + '"]');
      if (!td) {
        td = el('td', { 'data-field': field });
        row.appendChild(td);
      }
      td.textContent = text;
      return td;
    }

    function renderQueues() {
      const body = $('queue-rows');
      const ids = Array.from(st.queues.keys()).sort();
      $('no-queues').hidden = ids.length > 0;
      const now = Date.now();
      for (const id of ids) {
        const { stats, receivedAt } = st.queues.get(id);
        let row = body.querySelector('tr[data-queue="' + CSS.escape(id) + '"]');
        if (!row) {
          row = el('tr', { 'data-queue': id });
          row.appendChild(el('th', { scope: 'row' }, id));
          body.appendChild(row);
        }
        const waiting = Number(stats.waiting) || 0;
        const longest = Number(stats.longestWaitMs != null ? stats.longestWaitMs : stats.longest_wait_ms) || 0;
        const sl = stats.serviceLevelPermille != null ? stats.serviceLevelPermille : stats.service_level_permille;
        const answered = Number(stats.answered) || 0;
        cell(row, 'waiting', String(waiting));
        const lw = cell(row, 'longest-wait', waiting > 0 ? duration(longest + (now - receivedAt)) : '—');
        lw.dataset.ms = String(longest);
        const slCell = cell(row, 'service-level', sl != null && answered > 0 ? (Number(sl) / 10).toFixed(1) + ' %' : '—');
        slCell.dataset.permille = sl != null ? String(sl) : '';
        cell(row, 'offered', String(stats.offered != null ? stats.offered : 0));
        cell(row, 'answered', String(answered));
        cell(row, 'abandoned', String(stats.abandoned != null ? stats.abandoned : 0));
        cell(row, 'agents-available', String(stats.agentsAvailable != null ? stats.agentsAvailable : 0));
        cell(row, 'agents-busy', String(stats.agentsBusy != null ? stats.agentsBusy : 0));
        cell(row, 'agents-away', String(stats.agentsAway != null ? stats.agentsAway : 0));
        row.dataset.alert = waiting > 0 ? 'waiting' : '';
      }
      for (const row of Array.from(body.children)) {
        if (!st.queues.has(row.dataset.queue)) row.remove();
      }
    }

    function renderAgents() {
      const counts = Object.fromEntries(AVAILABILITIES.map((a) => [a, 0]));
      const body = $('agent-rows');
      const ids = Array.from(st.agents.keys()).sort();
      for (const id of ids) {
        const a = st.agents.get(id);
        const avail = availabilityOf(a);
        counts[avail] = (counts[avail] || 0) + 1;
        let row = body.querySelector('tr[data-agent="' + CSS.escape(id) + '"]');
        if (!row) {
          row = el('tr', { 'data-agent': id });
          row.appendChild(el('th', { scope: 'row' }, id));
          body.appendChild(row);
        }
        const { reason } = statusOf(a);
        row.dataset.availability = avail;
        cell(row, 'device', a.device || '—');
        cell(row, 'state', avail);
        cell(row, 'reason', reason || '');
        cell(row, 'since', typeof a.since === 'number' ? new Date(a.since).toLocaleTimeString() : '');
      }
      for (const row of Array.from(body.children)) {
        if (!st.agents.has(row.dataset.agent)) row.remove();
      }
      for (const a of AVAILABILITIES) {
        const n = $('count-' + a);
        if (n) n.textContent = String(counts[a] || 0);
      }
    }

    function stamp() {
      const u = $('updated');
      if (u) u.textContent = 'updated ' + new Date().toLocaleTimeString();
    }

    async function refresh() {
      try {
        const from = st.stream ? st.stream.lastSeq : 0;
        const [queues, agents] = await Promise.all([api('GET', '/v1/queues'), api('GET', '/v1/agents')]);
        const list = Array.isArray(queues)
          ? queues
          : queues && typeof queues === 'object'
            ? Object.entries(queues).map(([id, stats]) => ({ id, stats }))
            : [];
        const fresh = new Map();
        for (const q of list) {
          const e = queueEntry(q);
          if (!e) continue;
          const known = st.queues.get(e.id);
          // A queue an event updated after the snapshot was asked for keeps the newer numbers.
          if (known && known.seq > from) fresh.set(e.id, known);
          else fresh.set(e.id, { stats: e.stats, receivedAt: Date.now(), seq: 0 });
        }
        st.queues = fresh;
        if (Array.isArray(agents)) st.agents = mergeAgents(st.agents, agents, from);
        renderQueues();
        renderAgents();
        stamp();
        say('');
      } catch (err) {
        sayError('refresh', err);
      }
    }

    function onEvent(ev) {
      if (ev.type === 'queueStatsChanged') {
        if (typeof ev.queue !== 'string' || ev.stats == null || typeof ev.stats !== 'object') return;
        setQueue(queueEntry({ id: ev.queue, stats: ev.stats }), ev.seq);
        renderQueues();
        stamp();
      } else if (ev.type === 'agentStateChanged') {
        if (typeof ev.agent !== 'string') return;
        const a = st.agents.get(ev.agent) || { id: ev.agent };
        a.device = ev.device;
        a.status = ev.status;
        a.activity = ev.activity;
        a.availability = ev.availability;
        a.since = ev.at;
        a.seq = ev.seq;
        st.agents.set(ev.agent, a);
        renderAgents();
        stamp();
      }
    }

    st.stream = eventStream({ type: 'queueStatsChanged,agentStateChanged' }, onEvent, refresh);
    refresh().then(() => st.stream.start());
    // Longest wait keeps ticking between updates; the snapshot is re-read now and then.
    window.setInterval(renderQueues, 1000);
    window.setInterval(refresh, 15000);
  }

  if (document.body.dataset.page === 'wallboard') wallboard();
  else desktop();
})();
