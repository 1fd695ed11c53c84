// tradedeck dashboard: a read-mostly face over REST API v1.
//
// Everything the API answers is untrusted text (a kill-switch reason, a strategy's error,
// a user name): the page builds its DOM with createElement and textContent only, so such
// a value can never become markup. The token lives in sessionStorage (this tab only) and
// travels in the Authorization header, never in a URL or a cookie. Money arrives as
// decimal strings and is shown exactly as it came: a float would round it.
//
// The one action is the kill switch. Trading stays in Telegram and the REST API, where
// every order has its own confirmation.

const TOKEN_KEY = "tradedeck.token";
const REFRESH_MS = 5000;
const READ_TIMEOUT_MS = 15000;
// Halting cancels every open order, which on a live exchange can take a while.
const ACTION_TIMEOUT_MS = 60000;
const FILLS_SHOWN = 20;
const SCAN_ROWS = 10;

// Every endpoint the page calls, in one place (the tests call each of them).
const PATHS = Object.freeze({
  health: "/healthz",
  killSwitch: "/api/v1/kill-switch",
  balance: "/api/v1/balance",
  pnl: "/api/v1/pnl",
  positions: "/api/v1/positions",
  openOrders: "/api/v1/orders?status=open",
  fills: "/api/v1/fills?limit=20",
  scan: "/api/v1/scans/latest",
  markets: "/api/v1/markets",
  chart: "/api/v1/charts/{symbol}.png",
  system: "/api/v1/system/health",
});

/** A refusal or failure of one call, with the API's own sentence in `detail`. */
class ApiError extends Error {
  constructor(status, code, detail) {
    super(detail);
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

/** The session ended (sign-out, a 401) while the call was out: its answer is dropped. */
class Stale extends Error {}

const state = {
  token: null,
  session: 0, // bumped on every sign-in and sign-out; answers of older sessions are dropped
  refreshing: false,
  timer: null,
  marketsLoaded: false,
  chart: { url: null, etag: null, key: null, ticket: 0 },
};

const $ = (id) => document.getElementById(id);
const ui = {
  signIn: $("sign-in"),
  signInForm: $("sign-in-form"),
  signInError: $("sign-in-error"),
  token: $("token"),
  signOut: $("sign-out"),
  updated: $("updated"),
  dashboard: $("dashboard"),
  haltForm: $("halt-form"),
  haltReason: $("halt-reason"),
  halt: $("halt"),
  resume: $("resume"),
  killMessage: $("kill-message"),
  market: $("chart-market"),
  timeframe: $("chart-timeframe"),
  chart: $("chart-image"),
};

// ---------------------------------------------------------------- storage

function storedToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null; // storage disabled: the token lives in memory for this page only
  }
}

function storeToken(token) {
  try {
    if (token === null) sessionStorage.removeItem(TOKEN_KEY);
    else sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // storage disabled: nothing to keep or clear
  }
}

// ---------------------------------------------------------------- API

async function problem(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: a proxy's error page, say
  }
  const detail =
    body && typeof body.detail === "string"
      ? body.detail
      : `HTTP ${response.status} ${response.statusText}`.trim();
  const code = body && typeof body.error === "string" ? body.error : "http_error";
  return { code, detail };
}

async function api(path, { method = "GET", body, binary = false, timeout = READ_TIMEOUT_MS } = {}) {
  if (state.token === null) throw new Stale();
  const session = state.session;
  const headers = new Headers({
    Authorization: `Bearer ${state.token}`,
    Accept: binary ? "image/png" : "application/json",
  });
  const init = {
    method,
    headers,
    credentials: "omit",
    referrerPolicy: "no-referrer",
    // Figures are never kept by the browser; the chart may be (it has an ETag).
    cache: binary ? "default" : "no-store",
    signal: AbortSignal.timeout(timeout),
  };
  if (body !== undefined) {
    headers.set("Content-Type", "application/json");
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (session !== state.session) throw new Stale();
    const late = error && error.name === "TimeoutError";
    throw new ApiError(
      0,
      late ? "timeout" : "network",
      late ? "The server did not answer in time." : "The server cannot be reached.",
    );
  }
  if (session !== state.session) throw new Stale();
  if (response.status === 401) {
    endSession(); // at once, so the other calls of this refresh see a stale session
    const { detail } = await problem(response);
    if (state.token === null) showSignIn(detail);
    throw new Stale();
  }
  if (!response.ok) {
    const { code, detail } = await problem(response);
    throw new ApiError(response.status, code, detail);
  }
  if (binary) return { blob: await response.blob(), etag: response.headers.get("ETag") };
  return response.json();
}

function describe(error, doing = "see this") {
  if (error instanceof ApiError) {
    if (error.status === 403) return `Your role may not ${doing}: ${error.detail}`;
    if (error.status === 0) return error.detail;
    return `${error.detail} (HTTP ${error.status})`;
  }
  return `Could not show this: ${error && error.message ? error.message : String(error)}`;
}

// ---------------------------------------------------------------- DOM helpers

/** An element with a class and children; strings become text nodes, never markup. */
function el(tag, className, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** A value as the API gave it (a decimal string stays exactly that string). */
function shown(value) {
  return value === null || value === undefined || value === "" ? "—" : String(value);
}

function money(value) {
  return el("span", "num", shown(value));
}

/** Money whose sign matters (PnL), coloured by its text: no float is ever made of it. */
function signed(value) {
  const text = shown(value);
  const nonzero = /[1-9]/.test(text.split(/e/i)[0]); // "0E-8" and "-0.00" are zero
  let tone = "";
  if (nonzero) tone = text.startsWith("-") ? " neg" : " pos";
  return el("span", `num${tone}`, text);
}

function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
}

const LEVELS = new Set(["ok", "warn", "fail"]);

function badge(level, text) {
  return el("span", `badge ${LEVELS.has(level) ? level : "unknown"}`, text);
}

function facts(pairs) {
  const list = el("dl", "facts");
  for (const [name, value] of pairs) list.append(el("dt", null, name), el("dd", null, value));
  return list;
}

/** columns: [heading, cell(row) -> string | Node, className?] */
function table(columns, rows) {
  const head = el("tr", null, ...columns.map(([heading, , cls]) => el("th", cls, heading)));
  const body = rows.map((row) =>
    el("tr", null, ...columns.map(([, cell, cls]) => el("td", cls, cell(row)))),
  );
  const grid = el("table", null, el("thead", null, head), el("tbody", null, ...body));
  return el("div", "table-wrap", grid);
}

function note(text) {
  return el("p", "muted", text);
}

/** A measurement (score, load, CPU), never money: those are floats in the API too. */
function fixed(n, digits) {
  return typeof n === "number" ? n.toFixed(digits) : shown(n);
}

function bytes(n) {
  if (typeof n !== "number") return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function duration(seconds) {
  if (typeof seconds !== "number") return "—";
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return `${d} d ${h} h`;
  if (h) return `${h} h ${m} min`;
  return `${m} min ${s % 60} s`;
}

/** One panel: an error line and a body, either of which the refresh fills. */
class Panel {
  constructor(id) {
    const root = $(id);
    this.error = root.querySelector(".panel-error");
    this.body = root.querySelector(".panel-body");
  }

  show(...nodes) {
    this.error.hidden = true;
    this.error.textContent = "";
    this.body.replaceChildren(...nodes);
  }

  fail(message) {
    this.error.textContent = message;
    this.error.hidden = false;
    this.body.replaceChildren();
  }

  reset() {
    this.error.hidden = true;
    this.error.textContent = "";
    this.body.replaceChildren();
  }
}

const panels = {
  health: new Panel("panel-health"),
  kill: new Panel("panel-kill"),
  balance: new Panel("panel-balance"),
  pnl: new Panel("panel-pnl"),
  positions: new Panel("panel-positions"),
  orders: new Panel("panel-orders"),
  fills: new Panel("panel-fills"),
  chart: new Panel("panel-chart"),
  scan: new Panel("panel-scan"),
  system: new Panel("panel-system"),
};

// ---------------------------------------------------------------- panels

async function loadHealth() {
  const h = await api(PATHS.health);
  const watchdog = h.watchdog || {};
  let guard;
  const seen = watchdog.last_seen_seconds;
  if (watchdog.alive) guard = badge("ok", `alive, seen ${shown(seen)} s ago`);
  else if (seen === null || seen === undefined) guard = badge("warn", "none running");
  else guard = badge("warn", `silent for ${shown(seen)} s`);
  const rows = [
    ["Version", shown(h.version)],
    ["Exchange", h.market_type ? `${shown(h.exchange)} (${h.market_type})` : shown(h.exchange)],
    ["Markets", shown(h.markets)],
    ["Trading", h.kill_switch_active ? badge("fail", "halted") : badge("ok", "running")],
    ["Watchdog", guard],
  ];
  if (h.exchange_circuit !== undefined) rows.push(["Circuit breaker", shown(h.exchange_circuit)]);
  if (h.last_reconcile_differences !== undefined) {
    const differences = h.last_reconcile_differences;
    rows.push(["Reconciled", differences === null ? "not yet" : `${differences} difference(s)`]);
  }
  panels.health.show(facts(rows));
}

function showKillSwitch(k) {
  const active = Boolean(k.active);
  ui.haltForm.hidden = active;
  ui.resume.hidden = !active;
  const rows = active
    ? [
        ["State", badge("fail", "ACTIVE: trading halted")],
        ["Reason", shown(k.reason)],
        ["By", shown(k.actor)],
        ["Since", when(k.changed_at)],
      ]
    : [["State", badge("ok", "off")]];
  if (!active && k.changed_at) {
    rows.push(["Last change", `${when(k.changed_at)} by ${shown(k.actor)}`]);
  }
  panels.kill.show(facts(rows));
}

async function loadKillSwitch() {
  try {
    showKillSwitch(await api(PATHS.killSwitch));
  } catch (error) {
    // State unknown: the halt button stays within reach.
    if (!(error instanceof Stale)) {
      ui.haltForm.hidden = false;
      ui.resume.hidden = true;
    }
    throw error;
  }
}

async function loadBalance() {
  const b = await api(PATHS.balance);
  const currency = shown(b.currency);
  const nodes = [el("p", "headline", "Equity ", money(b.equity), ` ${currency}`)];
  const balances = Array.isArray(b.balances) ? b.balances : [];
  nodes.push(
    balances.length
      ? table(
          [
            ["Asset", (r) => shown(r.asset)],
            ["Free", (r) => money(r.free), "num"],
            ["Reserved", (r) => money(r.reserved), "num"],
            ["Total", (r) => money(r.total), "num"],
            [`Value (${currency})`, (r) => money(r.value), "num"],
          ],
          balances,
        )
      : note("No balances."),
  );
  if (Array.isArray(b.unvalued) && b.unvalued.length) {
    nodes.push(note(`Not valued (no price yet): ${b.unvalued.map(shown).join(", ")}`));
  }
  panels.balance.show(...nodes);
}

async function loadPnl() {
  const p = await api(PATHS.pnl);
  panels.pnl.show(
    facts([
      ["Currency", shown(p.currency)],
      ["Realized", signed(p.realized)],
      ["Unrealized", signed(p.unrealized)],
      ["Total", signed(p.total)],
      ["Today", signed(p.today)],
      ["Today realized", signed(p.today_realized)],
      ["Fees today", money(p.fees_today)],
      ["Equity", money(p.equity)],
      ["Equity at day start", money(p.day_start_equity)],
    ]),
  );
}

function marketOf(position) {
  const kind = position.market_type;
  return kind && kind !== "spot" ? `${shown(position.symbol)} · ${kind}` : shown(position.symbol);
}

function withUnit(value, unit) {
  if (value === null || value === undefined) return "—";
  return el("span", "num", unit ? `${value} ${unit}` : String(value));
}

async function loadPositions() {
  const positions = await api(PATHS.positions);
  if (!positions.length) {
    panels.positions.show(note("No open positions."));
    return;
  }
  panels.positions.show(
    table(
      [
        ["Market", (r) => marketOf(r)],
        ["Side", (r) => shown(r.side)],
        ["Amount", (r) => money(r.amount), "num"],
        ["Entry", (r) => money(r.average_entry), "num"],
        ["Last", (r) => money(r.mark_price ?? r.last_price), "num"],
        ["Unrealized", (r) => signed(r.unrealized_pnl), "num"],
        ["Value", (r) => withUnit(r.value, r.quote), "num"],
      ],
      positions,
    ),
  );
}

async function loadOrders() {
  const orders = await api(PATHS.openOrders);
  if (!orders.length) {
    panels.orders.show(note("No open orders."));
    return;
  }
  panels.orders.show(
    table(
      [
        ["Placed", (r) => when(r.created_at)],
        ["Market", (r) => shown(r.symbol)],
        ["Side", (r) => shown(r.side)],
        ["Type", (r) => shown(r.type)],
        ["Amount", (r) => money(r.amount), "num"],
        ["Filled", (r) => money(r.filled), "num"],
        ["Price", (r) => money(r.price ?? r.stop_price), "num"],
        ["Status", (r) => shown(r.status)],
      ],
      orders,
    ),
  );
}

async function loadFills() {
  const fills = (await api(PATHS.fills)).slice(0, FILLS_SHOWN);
  if (!fills.length) {
    panels.fills.show(note("No fills yet."));
    return;
  }
  panels.fills.show(
    table(
      [
        ["Time", (r) => when(r.timestamp)],
        ["Market", (r) => shown(r.symbol)],
        ["Side", (r) => shown(r.side)],
        ["Amount", (r) => money(r.amount), "num"],
        ["Price", (r) => money(r.price), "num"],
        ["Fee", (r) => withUnit(r.fee, r.fee_currency), "num"],
        ["Realized", (r) => signed(r.realized_pnl), "num"],
      ],
      fills,
    ),
  );
}

const SIGNAL_LEVELS = { buy: "ok", sell: "warn", failed: "fail" };

async function loadScan() {
  const latest = await api(PATHS.scan);
  const run = latest.scan;
  if (!run) {
    panels.scan.show(note("No scan has run yet."));
    return;
  }
  const parts = [
    `${shown(run.kind)} scan #${shown(run.id)}`,
    when(run.finished_at || run.started_at),
    `${shown(run.markets)} markets`,
  ];
  if (Array.isArray(run.timeframes) && run.timeframes.length) {
    parts.push(run.timeframes.map(shown).join(", "));
  }
  if (latest.failures) parts.push(`${latest.failures} failed`);
  const rows = (Array.isArray(latest.results) ? latest.results : []).slice(0, SCAN_ROWS);
  const signal = (r) => {
    const tag = badge(SIGNAL_LEVELS[r.signal] || "unknown", shown(r.signal));
    if (r.error) tag.title = String(r.error);
    return tag;
  };
  panels.scan.show(
    note(parts.join(" · ")),
    rows.length
      ? table(
          [
            ["#", (r) => shown(r.rank), "num"],
            ["Market", (r) => shown(r.symbol)],
            ["TF", (r) => shown(r.timeframe)],
            ["Signal", signal],
            ["Score", (r) => fixed(r.score, 2), "num"],
            ["Strategy", (r) => shown(r.strategy)],
            ["Last close", (r) => shown(r.last_close), "num"],
          ],
          rows,
        )
      : note("The scan found no markets."),
  );
}

async function loadMarkets() {
  const markets = await api(PATHS.markets);
  const current = ui.market.value;
  const options = markets.map((m) => {
    const option = el("option", null, shown(m.symbol));
    option.value = `${m.base}-${m.quote}`;
    return option;
  });
  ui.market.replaceChildren(...options);
  if (options.some((o) => o.value === current)) ui.market.value = current;
  state.marketsLoaded = true;
}

function clearChart() {
  if (state.chart.url) URL.revokeObjectURL(state.chart.url);
  state.chart.url = null;
  state.chart.etag = null;
  state.chart.key = null;
  ui.chart.hidden = true;
  ui.chart.removeAttribute("src");
  ui.chart.alt = "";
}

async function loadChart() {
  const ticket = ++state.chart.ticket; // a newer pick outdates this call
  try {
    if (!state.marketsLoaded) await loadMarkets();
    const market = ui.market.value;
    if (!market) {
      clearChart();
      panels.chart.show(note("No markets."));
      return;
    }
    const timeframe = ui.timeframe.value;
    const key = `${market}|${timeframe}`;
    let path = PATHS.chart.replace("{symbol}", encodeURIComponent(market));
    if (timeframe) path += `?${new URLSearchParams({ timeframe })}`;
    const { blob, etag } = await api(path, { binary: true });
    if (ticket !== state.chart.ticket) return;
    panels.chart.show();
    if (etag && etag === state.chart.etag && key === state.chart.key && state.chart.url) return;
    const previous = state.chart.url;
    const url = URL.createObjectURL(blob);
    Object.assign(state.chart, { url, etag, key });
    ui.chart.src = url;
    const label = market.replace("-", "/");
    ui.chart.alt = `Candle chart of ${timeframe ? `${label}, ${timeframe}` : label}`;
    ui.chart.hidden = false;
    if (previous) URL.revokeObjectURL(previous); // one blob alive at a time
  } catch (error) {
    if (ticket !== state.chart.ticket) return; // a newer call answers for the panel
    if (!(error instanceof Stale)) clearChart();
    throw error;
  }
}

async function loadSystem() {
  let h;
  try {
    h = await api(PATHS.system);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      panels.system.show(note("System health is unavailable on this server."));
      return;
    }
    if (error instanceof ApiError && error.status === 403) {
      panels.system.fail(`Admins only: ${error.detail}`);
      return;
    }
    throw error;
  }
  const checks = el(
    "ul",
    "checks",
    ...(Array.isArray(h.checks) ? h.checks : []).map((c) =>
      el("li", null, badge(c.state, shown(c.state)), " ", el("strong", null, shown(c.name)), " ",
        shown(c.detail)),
    ),
  );
  const r = h.resources || {};
  const load = Array.isArray(r.load) ? r.load.map((n) => fixed(n, 2)).join(" ") : "—";
  panels.system.show(
    facts([
      ["Overall", badge(h.state, shown(h.state))],
      ["Version", shown(h.version)],
      ["Up", duration(h.uptime_seconds)],
      ["Errors, last hour", shown(h.errors_last_hour)],
    ]),
    checks,
    facts([
      ["CPUs", shown(r.cpus)],
      ["Load", load],
      ["Process CPU", `${fixed(r.cpu_percent, 1)} %`],
      ["Process memory", bytes(r.rss_bytes)],
      ["Memory free", `${bytes(r.memory_available)} of ${bytes(r.memory_total)}`],
      ["Disk free", `${bytes(r.disk_free)} of ${bytes(r.disk_total)}`],
    ]),
  );
}

// ---------------------------------------------------------------- refresh

const LOADERS = [
  [panels.health, loadHealth],
  [panels.kill, loadKillSwitch],
  [panels.balance, loadBalance],
  [panels.pnl, loadPnl],
  [panels.positions, loadPositions],
  [panels.orders, loadOrders],
  [panels.fills, loadFills],
  [panels.chart, loadChart],
  [panels.scan, loadScan],
  [panels.system, loadSystem],
];

async function guarded(panel, load) {
  const session = state.session;
  try {
    await load();
  } catch (error) {
    if (!(error instanceof Stale) && session === state.session) panel.fail(describe(error));
  }
}

async function refresh() {
  if (state.token === null || state.refreshing) return;
  state.refreshing = true;
  const session = state.session;
  try {
    await Promise.all(LOADERS.map(([panel, load]) => guarded(panel, load)));
    if (session === state.session) {
      ui.updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    }
  } finally {
    if (session === state.session) state.refreshing = false;
  }
}

function startTimer() {
  stopTimer();
  state.timer = setInterval(() => {
    if (document.visibilityState === "visible") refresh();
  }, REFRESH_MS);
}

function stopTimer() {
  if (state.timer !== null) clearInterval(state.timer);
  state.timer = null;
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && state.token !== null) refresh();
});

// ---------------------------------------------------------------- kill switch

function say(message, tone) {
  ui.killMessage.textContent = message;
  ui.killMessage.className = `notice ${tone}`;
  ui.killMessage.hidden = !message;
}

async function act(action) {
  const session = state.session;
  ui.halt.disabled = true;
  ui.resume.disabled = true;
  try {
    await action();
  } catch (error) {
    if (!(error instanceof Stale) && session === state.session) {
      say(describe(error, "do this"), "error");
    }
  } finally {
    ui.halt.disabled = false;
    ui.resume.disabled = false;
  }
  if (session === state.session) refresh();
}

function halt(event) {
  event.preventDefault();
  const reason = ui.haltReason.value.trim();
  if (!reason) {
    say("Type a reason first: it is kept with the switch and sent to the admins.", "error");
    ui.haltReason.focus();
    return;
  }
  const question =
    "Halt all trading?\n\nEvery open order is canceled and no new order is accepted " +
    `until an admin resumes.\n\nReason: ${reason}`;
  if (!window.confirm(question)) return;
  act(async () => {
    const k = await api(PATHS.killSwitch, {
      method: "POST",
      body: { reason },
      timeout: ACTION_TIMEOUT_MS,
    });
    ui.haltReason.value = "";
    showKillSwitch(k);
    say(`Trading halted; ${shown(k.canceled_orders ?? 0)} open order(s) canceled.`, "ok");
  });
}

function resume() {
  if (!window.confirm("Resume trading?\n\nNew orders will be accepted again.")) return;
  act(async () => {
    const k = await api(PATHS.killSwitch, { method: "DELETE", timeout: ACTION_TIMEOUT_MS });
    showKillSwitch(k);
    say("Trading resumed.", "ok");
  });
}

// ---------------------------------------------------------------- session

function showSignIn(detail) {
  ui.dashboard.hidden = true;
  ui.signOut.hidden = true;
  ui.signIn.hidden = false;
  ui.updated.textContent = "";
  ui.signInError.textContent = detail || "";
  ui.signInError.hidden = !detail;
  ui.token.focus();
}

function startSession(token) {
  state.token = token;
  state.session += 1;
  state.refreshing = false;
  storeToken(token);
  ui.signIn.hidden = true;
  ui.signInError.hidden = true;
  ui.dashboard.hidden = false;
  ui.signOut.hidden = false;
  refresh();
  startTimer();
}

function endSession() {
  state.token = null;
  state.session += 1;
  state.refreshing = false;
  state.marketsLoaded = false;
  state.chart.ticket += 1;
  storeToken(null);
  stopTimer();
  clearChart();
  for (const panel of Object.values(panels)) panel.reset();
  ui.market.replaceChildren();
  ui.haltReason.value = "";
  ui.haltForm.hidden = false;
  ui.resume.hidden = true;
  say("", "");
}

ui.signInForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const token = ui.token.value.trim();
  ui.token.value = "";
  if (token) startSession(token);
});

ui.signOut.addEventListener("click", () => {
  endSession();
  showSignIn("");
});

ui.haltForm.addEventListener("submit", halt);
ui.resume.addEventListener("click", resume);
ui.market.addEventListener("change", () => guarded(panels.chart, loadChart));
ui.timeframe.addEventListener("change", () => guarded(panels.chart, loadChart));

const saved = storedToken();
if (saved) startSession(saved);
else showSignIn("");
