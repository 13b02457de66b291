// The dashboard's script: plain JavaScript, no framework, no build step.
//
// Two views, chosen by the URL's hash: the overview (`#/`: counts, throughput, runs) and
// one run (`#/runs/<id>`). Everything the API returns is untrusted: it reaches the page
// only as text nodes and attribute values, never as HTML.
"use strict";

(function () {
  // The page may be mounted under any prefix (`/jobs` or `/jobs/`): API paths are
  // relative to the page's own path.
  const base = location.pathname.endsWith("/") ? location.pathname : location.pathname + "/";

  const STATUSES = ["scheduled", "queued", "running", "retrying", "succeeded", "cancelled", "dead_lettered"];
  const KNOWN_STATUSES = new Set(STATUSES);
  const FINAL = new Set(["succeeded", "cancelled", "dead_lettered"]);
  // Text longer than this is folded, with a button to show it all: payloads to about a
  // dozen lines, errors to five (app.css sets the heights).
  const FOLD = { payload: { chars: 2000, lines: 20 }, error: { chars: 600, lines: 6 } };
  const OUTCOMES = new Set(["running", "succeeded", "failed", "cancelled", "lease_expired", "interrupted", "snoozed"]);
  const REFRESH_MS = 5000;
  const DEFAULT_REASON = "replayed from the dashboard";

  const state = {
    task: "",
    status: "",
    limit: 50,
    cursors: [null], // the cursor of every page visited; the last one is shown
    nextCursor: null,
    runId: null, // the run shown on the run page, if any
    confirming: null, // "cancel" or "replay" while the confirmation form is open
    rendered: "", // what the run page shows, to redraw it only when it changed
    taskOptions: "", // the task filter's options, to redraw them only when they changed
    throughput: null, // the chart's data, to redraw it when the window is resized
    unfolded: new Set(), // the long texts of the run page shown whole, by key
  };

  // ---- Small helpers -------------------------------------------------------------------

  const $ = (id) => document.getElementById(id);

  /** `h("td", {class: "num"}, "text", node)`: an element; strings become text nodes. */
  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    setAttrs(node, attrs);
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  /** An SVG element. */
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    setAttrs(node, attrs);
    node.append(...children);
    return node;
  }

  function setAttrs(node, attrs) {
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, String(value));
    }
  }

  const label = (status) => String(status).replace(/_/g, "-");
  const runHash = (id) => "#/runs/" + encodeURIComponent(id);

  /** A colored badge; the class comes from a known list, never from the API as is. */
  function badge(value, known) {
    const cls = known.has(value) ? value : "unknown";
    return h("span", { class: "badge " + cls, "data-status": value }, label(value));
  }

  // Times show in UTC, as the API and the `jobs` command give them, with the zone named;
  // the browser's local time shows on hover.

  /** "2026-12-04 18:10:30 UTC". */
  function absolute(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    return isNaN(date) ? String(iso) : date.toISOString().slice(0, 19).replace("T", " ") + " UTC";
  }

  /** The same time in the browser's zone, named: "Dec 4, 2026, 7:10:30 PM GMT+1". */
  function local(iso) {
    const date = new Date(iso);
    return isNaN(date) ? "" : date.toLocaleString([], { dateStyle: "medium", timeStyle: "long" });
  }

  /** A tooltip for a time: "2026-12-04 18:10:30 UTC (local: Dec 4, 2026, 7:10:30 PM GMT+1)". */
  function tooltip(iso) {
    return iso ? absolute(iso) + " (local: " + local(iso) + ")" : null;
  }

  /** "3 min ago", "in 20 s". */
  // Attempts made, and the failed ones against the budget when any failed: "3 (1/3 failed)".
  function attemptsCell(run) {
    return run.failures ? run.attempt + " (" + run.failures + "/" + run.max_attempts + " failed)" : String(run.attempt);
  }

  // Attempts made and what became of them: "4: failed 1 of 3 allowed, snoozed 2, handed back 1".
  function attemptsDetail(run) {
    let text = run.attempt + ": failed " + run.failures + " of " + run.max_attempts + " allowed";
    if (run.snoozes) text += ", snoozed " + run.snoozes;
    if (run.handbacks) text += ", handed back " + run.handbacks;
    return text;
  }

  function ago(iso) {
    if (!iso) return "";
    const seconds = Math.round((Date.now() - Date.parse(iso)) / 1000);
    const abs = Math.abs(seconds);
    if (abs < 5) return "just now";
    const text = abs < 60 ? abs + " s" : abs < 3600 ? Math.round(abs / 60) + " min" : abs < 86400 ? Math.round(abs / 3600) + " h" : Math.round(abs / 86400) + " d";
    return seconds >= 0 ? text + " ago" : "in " + text;
  }

  function duration(fromIso, toIso) {
    if (!fromIso || !toIso) return "";
    const ms = Date.parse(toIso) - Date.parse(fromIso);
    if (ms < 1000) return ms + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
    return Math.floor(ms / 60000) + " min " + Math.round((ms % 60000) / 1000) + " s";
  }

  /** Hours and minutes in UTC: "18:10". */
  function clock(date) {
    return date.toISOString().slice(11, 16);
  }

  // ---- The API ---------------------------------------------------------------------------

  /** An error answer: `{"error": {"code", "message", "field"}}`, or a network failure. */
  class ApiError extends Error {
    constructor(status, code, message, field) {
      super(message);
      this.status = status;
      this.code = code;
      this.field = field || null;
    }
  }

  async function api(path, options = {}) {
    let response;
    try {
      response = await fetch(base + path, {
        ...options,
        headers: { Accept: "application/json", ...(options.headers || {}) },
      });
    } catch (err) {
      throw new ApiError(0, "network", "cannot reach the API: " + err.message);
    }
    const text = await response.text();
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // Not JSON: reported below if the status is an error.
    }
    if (!response.ok) {
      const error = body && body.error;
      if (error) throw new ApiError(response.status, error.code, error.message, error.field);
      throw new ApiError(response.status, "http_" + response.status, text.slice(0, 300) || response.statusText);
    }
    return body;
  }

  function post(path, body) {
    return api(path, {
      method: "POST",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  // The task names the serving binary knows, asked for once.
  let tasksPromise = null;
  function knownTasks() {
    tasksPromise ||= api("tasks").then(
      (answer) => answer.tasks.map((t) => t.name),
      () => {
        tasksPromise = null;
        return [];
      },
    );
    return tasksPromise;
  }

  // ---- Messages --------------------------------------------------------------------------

  let errorSource = null;

  /** Shows an error; `source` says which kind of request failed, so a later success of the same kind clears it. */
  function showError(err, source) {
    let text = String((err && err.message) || err);
    if (err instanceof ApiError) {
      text = err.code + ": " + text;
      if (err.field) text += " (field: " + err.field + ")";
      if (err.status === 401) text += ". Reload the page to sign in.";
    }
    $("error-text").textContent = text;
    $("error").hidden = false;
    errorSource = source;
  }

  function clearError(source) {
    if (source && errorSource !== source) return;
    $("error").hidden = true;
    errorSource = null;
  }

  let flashTimer = null;
  function flash(text) {
    $("flash").textContent = text;
    $("flash").hidden = false;
    clearTimeout(flashTimer);
    flashTimer = setTimeout(() => ($("flash").hidden = true), 8000);
  }

  // ---- Loading ---------------------------------------------------------------------------

  // Every load has a number; only the latest one draws, so a slow answer never
  // overwrites a newer view.
  let loadSeq = 0;
  let loading = false;

  async function load() {
    const seq = ++loadSeq;
    const current = () => seq === loadSeq;
    loading = true;
    try {
      if (state.runId) await loadRun(current);
      else await loadOverview(current);
      if (current()) {
        const now = new Date().toISOString();
        $("updated").textContent = "Updated " + absolute(now).slice(11);
        $("updated").title = "local: " + local(now);
        clearError("load");
      }
    } catch (err) {
      if (current()) showError(err, "load");
    } finally {
      if (current()) loading = false;
    }
  }

  async function loadOverview(current) {
    const params = new URLSearchParams({ limit: state.limit });
    if (state.task) params.set("task", state.task);
    if (state.status) params.set("status", state.status);
    const cursor = state.cursors[state.cursors.length - 1];
    if (cursor) params.set("cursor", cursor);
    // Each part draws on its own: runs still show when stats fail, and the other way round.
    const [stats, page, tasks] = await Promise.allSettled([api("stats?minutes=60"), api("runs?" + params), knownTasks()]);
    if (!current()) return;
    if (stats.status === "fulfilled") {
      renderTiles(stats.value.counts);
      renderCounts(stats.value.counts);
      renderChart(stats.value.throughput);
    } else {
      renderStatsError(stats.reason);
    }
    if (page.status === "fulfilled") renderRuns(page.value);
    renderTaskOptions(tasks.value || [], stats.status === "fulfilled" ? stats.value.counts : []);
    // A stats failure shows in place of the counts and the chart; a runs failure up top.
    if (page.status === "rejected") throw page.reason;
  }

  async function loadRun(current) {
    const id = encodeURIComponent(state.runId);
    const [run, attempts] = await Promise.all([api("runs/" + id), api("runs/" + id + "/attempts")]);
    if (!current()) return;
    renderRun(run, attempts.attempts);
  }

  // ---- The overview ----------------------------------------------------------------------

  /** One tile per status with its total over all tasks; a click filters the runs. */
  function renderTiles(counts) {
    const totals = {};
    for (const c of counts) totals[c.status] = (totals[c.status] || 0) + c.count;
    $("tiles").replaceChildren(
      ...STATUSES.map((s) =>
        h(
          "button",
          { type: "button", class: "tile " + s, "data-testid": "tile", "data-status": s, title: "Show " + label(s) + " runs", onclick: () => setFilter("", s) },
          h("span", { class: "tile-count" }, (totals[s] || 0).toLocaleString()),
          h("span", { class: "tile-label" }, label(s)),
        ),
      ),
    );
  }

  /** The task x status table; each count links to the runs it counts. */
  function renderCounts(counts) {
    const byTask = new Map();
    for (const c of counts) {
      if (!byTask.has(c.task)) byTask.set(c.task, {});
      byTask.get(c.task)[c.status] = c.count;
    }
    $("counts-head").replaceChildren(
      h("tr", {}, h("th", {}, "Task"), STATUSES.map((s) => h("th", { class: "num" }, label(s))), h("th", { class: "num" }, "Total")),
    );
    const totals = {};
    const cell = (task, status, n) =>
      n
        ? h("td", { class: "num" }, h("a", { href: "#/", title: "Show these runs", onclick: (e) => (e.preventDefault(), setFilter(task, status)) }, n.toLocaleString()))
        : h("td", { class: "num zero" }, "0");
    const rows = [...byTask].map(([task, row]) => {
      let total = 0;
      const cells = STATUSES.map((s) => {
        const n = row[s] || 0;
        total += n;
        totals[s] = (totals[s] || 0) + n;
        return cell(task, s, n);
      });
      return h("tr", { "data-testid": "count-row", "data-task": task }, h("td", {}, task), cells, cell(task, "", total));
    });
    if (rows.length === 0) {
      rows.push(h("tr", {}, h("td", { class: "empty", colspan: STATUSES.length + 2 }, "No runs yet.")));
    } else if (byTask.size > 1) {
      const all = STATUSES.reduce((sum, s) => sum + (totals[s] || 0), 0);
      rows.push(h("tr", { class: "total" }, h("th", {}, "All"), STATUSES.map((s) => cell("", s, totals[s] || 0)), cell("", "", all)));
    }
    $("counts-body").replaceChildren(...rows);
  }

  /** In place of the counts and the chart when stats cannot be had. */
  function renderStatsError(err) {
    const text = "Stats unavailable: " + String((err && err.message) || err);
    $("tiles").replaceChildren();
    $("counts-head").replaceChildren();
    $("counts-body").replaceChildren(h("tr", {}, h("td", { class: "empty" }, text)));
    $("chart").replaceChildren(h("p", { class: "empty muted" }, text));
    $("chart-note").textContent = "";
    $("chart-legend").hidden = true;
    state.throughput = null;
  }

  /** Runs finished per minute as stacked bars: succeeded, dead-lettered, cancelled. */
  function renderChart(throughput) {
    state.throughput = throughput;
    const box = $("chart");
    const width = Math.max(box.clientWidth, 200);
    const height = 190;
    const kinds = ["succeeded", "dead_lettered", "cancelled"];
    const totals = throughput.map((m) => kinds.reduce((sum, k) => sum + m[k], 0));
    const finished = totals.reduce((a, b) => a + b, 0);
    // A round top for the y axis: 1, 2, 5, 10, 20, 50, ...
    const top = niceTop(Math.max(...totals, 1));

    // In the page first, so labels can be measured as they will be drawn.
    const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "Runs finished per minute" });
    box.replaceChildren(chart);
    const measure = (text) => {
      const probe = chart.appendChild(svg("text", {}, document.createTextNode(text)));
      const w = probe.getComputedTextLength();
      probe.remove();
      return w || text.length * 7;
    };
    const gap = 10;
    const zoneW = measure("UTC");
    // Room on the left for the counts (and, below them, the zone of the times).
    const pad = { left: Math.ceil(Math.max(measure(String(top)), zoneW) + 10), right: 4, top: 8, bottom: 24 };
    const plotW = width - pad.left - pad.right;
    const plotH = height - pad.top - pad.bottom;
    const y = (v) => pad.top + plotH - (v / top) * plotH;
    const slot = plotW / Math.max(throughput.length, 1);
    const barW = Math.max(slot * 0.72, 1);

    for (const v of [0, top / 2, top]) {
      chart.append(
        svg("line", { class: v ? "grid-line" : "axis", x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v) }),
        svg("text", { x: pad.left - 6, y: y(v) + 4, "text-anchor": "end" }, document.createTextNode(String(v))),
      );
    }
    throughput.forEach((minute, i) => {
      const x = pad.left + i * slot;
      const start = new Date(minute.start);
      const group = svg("g", {});
      const tip = `${clock(start)} UTC: ${minute.succeeded} succeeded, ${minute.dead_lettered} dead-lettered, ${minute.cancelled} cancelled`;
      // A full-height invisible target, so every minute has a tooltip.
      group.append(svg("rect", { x, y: pad.top, width: slot, height: plotH, fill: "transparent" }, svg("title", {}, document.createTextNode(tip))));
      let stacked = 0;
      for (const kind of kinds) {
        if (!minute[kind]) continue;
        const y0 = y(stacked);
        stacked += minute[kind];
        group.append(svg("rect", { class: kind, x: x + (slot - barW) / 2, y: y(stacked), width: barW, height: Math.max(y0 - y(stacked), 1) }, svg("title", {}, document.createTextNode(tip))));
      }
      chart.append(group);
    });

    // The time axis: a label every `step` minutes (UTC), as many as fit without touching.
    // Placed from the newest minute back, each under its bar but never past the right
    // edge; one that would touch its right neighbour or the zone's label is left out.
    const step = [1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 360, 720].find((m) => m * slot >= measure("00:00") + gap) || 1440;
    let free = width - 1; // x up to which the axis is free
    const times = [];
    for (let i = throughput.length - 1; i >= 0; i--) {
      const start = new Date(throughput[i].start);
      if ((start.getUTCHours() * 60 + start.getUTCMinutes()) % step !== 0) continue;
      const text = clock(start);
      const half = measure(text) / 2;
      const center = Math.min(pad.left + (i + 0.5) * slot, free - half);
      if (center - half < zoneW + gap) break;
      if (center + half > free) continue;
      times.unshift(svg("text", { x: center, y: height - 4, "text-anchor": "middle", class: "time" }, document.createTextNode(text)));
      free = center - half - gap;
    }
    chart.append(...times);
    chart.append(svg("text", { x: 0, y: height - 4, class: "zone" }, document.createTextNode("UTC")));
    $("chart-legend").hidden = false;
    $("chart-note").textContent = `last ${throughput.length} minutes, ${finished.toLocaleString()} finished`;
  }

  /** The smallest of 1, 2, 5, 10, 20, 50, ... at least `max`. */
  function niceTop(max) {
    for (let scale = 1; ; scale *= 10) {
      for (const m of [1, 2, 5]) if (m * scale >= max) return m * scale;
    }
  }

  /** The task filter's options: the binary's tasks and any task that has runs. */
  function renderTaskOptions(tasks, counts) {
    const names = [...new Set([...tasks, ...counts.map((c) => c.task), state.task].filter(Boolean))].sort();
    const key = JSON.stringify(names);
    if (key === state.taskOptions) return; // unchanged: leave an open dropdown alone
    state.taskOptions = key;
    $("filter-task").replaceChildren(h("option", { value: "" }, "all"), names.map((n) => h("option", { value: n }, n)));
    $("filter-task").value = state.task;
  }

  function renderRuns(page) {
    state.nextCursor = page.next_cursor;
    const rows = page.runs.map((run) =>
      h(
        "tr",
        {
          class: "clickable",
          "data-testid": "run-row",
          "data-run-id": run.id,
          // The whole row opens the run; the link in it stays a real link.
          onclick: (e) => e.target.closest("a") || (location.hash = runHash(run.id)),
        },
        h("td", {}, h("a", { href: runHash(run.id), class: "mono", "data-testid": "run-link" }, run.id)),
        h("td", {}, run.task),
        h("td", { "data-testid": "run-status", "data-status": run.status, title: pending(run) }, badge(run.status, KNOWN_STATUSES)),
        h("td", { class: "num" }, attemptsCell(run)),
        h("td", { title: tooltip(run.created_at) }, ago(run.created_at)),
        // Finished: when, or a dash while the run is not (when it is due shows on its status).
        run.finished_at
          ? h("td", { "data-testid": "run-finished", title: tooltip(run.finished_at) }, ago(run.finished_at))
          : h("td", { "data-testid": "run-finished", class: "muted", title: "Not finished" }, "—"),
        h("td", { class: "error-text last-error" }, h("div", { class: "truncate", title: clip(run.last_error, 500) }, run.last_error || "")),
      ),
    );
    if (rows.length === 0) {
      const filtered = state.task || state.status;
      rows.push(h("tr", {}, h("td", { class: "empty", colspan: 7 }, filtered ? "No runs match these filters." : "No runs on this page.")));
    }
    $("runs-body").replaceChildren(...rows);
    const pageNo = state.cursors.length;
    $("page-label").textContent = "Page " + pageNo;
    $("page-first").disabled = pageNo === 1;
    $("page-prev").disabled = pageNo === 1;
    $("page-next").disabled = !state.nextCursor;
  }

  /** What a run not finished waits for, on hover over its status: "due in 5 min (...)". */
  function pending(run) {
    if (run.finished_at) return null;
    if (run.status === "running" && run.started_at) return "started " + ago(run.started_at) + " (" + absolute(run.started_at) + ")";
    return "due " + ago(run.run_at).replace("just now", "now") + " (" + absolute(run.run_at) + ")";
  }

  /** Filters the runs by task and status (empty: any), from the first page. */
  function setFilter(task, status) {
    state.task = task;
    state.status = status;
    $("filter-status").value = status;
    state.taskOptions = ""; // redraw the task options, in case `task` is new there
    state.cursors = [null];
    load();
    $("runs-body").closest(".card").scrollIntoView({ behavior: "smooth" });
  }

  // ---- One run ---------------------------------------------------------------------------

  function renderRun(run, attempts) {
    // Redraw only what changed (and the relative times once a minute), so a refresh does
    // not wipe a text selection.
    const key = JSON.stringify([run, attempts, Math.floor(Date.now() / 60000)]);
    if (key === state.rendered) return;
    state.rendered = key;

    $("run-id").textContent = run.id;
    const status = $("run-status");
    status.className = "badge " + (STATUSES.includes(run.status) ? run.status : "unknown");
    status.dataset.status = run.status;
    status.textContent = label(run.status);
    const final = FINAL.has(run.status);
    $("cancel").hidden = final;
    $("replay").hidden = !final;
    if ((state.confirming === "cancel" && final) || (state.confirming === "replay" && !final)) closeConfirm();

    const fields = [
      ["Task", run.task],
      ["Queue", run.queue],
      ["Attempts", attemptsDetail(run)],
      ["Priority", run.priority],
      ["Namespace", run.namespace],
      ["Idempotency key", run.idempotency_key && h("code", {}, run.idempotency_key)],
      ["Created", when(run.created_at)],
      [final ? "Was due" : "Due", when(run.run_at)],
      ["Started", when(run.started_at)],
      ["Finished", when(run.finished_at)],
      ["Replay of", run.replay_of && h("a", { href: runHash(run.replay_of), class: "mono", "data-testid": "replay-of" }, run.replay_of)],
      ["Replay reason", run.replay_reason],
      ["Last error", run.last_error && foldable(run.last_error, { tag: "div", cls: "error-text", key: "last-error", limit: FOLD.error, testid: "error-fold" })],
    ];
    $("run-fields").replaceChildren(
      ...fields.filter(([, value]) => value !== null && value !== undefined && value !== "").flatMap(([name, value]) => [h("dt", {}, name), h("dd", {}, value)]),
    );
    const payload = JSON.stringify(run.payload, null, 2);
    $("run-payload").replaceChildren(
      foldable(payload, { tag: "pre", cls: "code", bodyTestid: "run-payload", key: "payload", limit: FOLD.payload, testid: "payload-fold", copy: true }),
    );
    $("run-details").hidden = false;

    // Each attempt on a row, and its error (if any) under it, as wide as the table.
    const rows = attempts.flatMap((a) => {
      const row = h(
        "tr",
        { "data-testid": "attempt-row", class: a.error ? "has-error" : null },
        h("td", { class: "num" }, a.number),
        h("td", {}, badge(a.outcome, OUTCOMES)),
        h("td", { title: a.started_at && ago(a.started_at) + "; local: " + local(a.started_at) }, absolute(a.started_at)),
        h("td", { class: "num" }, duration(a.started_at, a.finished_at)),
      );
      if (!a.error) return [row];
      const error = foldable(a.error, { tag: "div", cls: "", key: "attempt-" + a.number, limit: FOLD.error, testid: "error-fold" });
      return [row, h("tr", { class: "attempt-error", "data-testid": "attempt-error" }, h("td", { colspan: 4, class: "wrap error-text" }, error))];
    });
    if (rows.length === 0) rows.push(h("tr", {}, h("td", { class: "empty", colspan: 4 }, "No attempts yet.")));
    $("attempts-body").replaceChildren(...rows);
  }

  /**
   * `text` in a `tag` element; when longer than `limit` (chars or lines), folded to a few
   * lines with a button to show it all and one to copy it (the copy button always when
   * `copy`). `key` names it in `state.unfolded`, so a redraw leaves it as the user set it.
   */
  function foldable(text, { tag, cls, key, limit, testid, bodyTestid, copy }) {
    const body = h(tag, { class: (cls + " fold-body").trim(), "data-testid": bodyTestid }, text);
    const lines = text.split("\n").length;
    const long = text.length > limit.chars || lines > limit.lines;
    if (!long && !copy) return body;
    const box = h("div", { class: "fold", "data-testid": testid }, body);
    const bar = h("div", { class: "fold-bar" });
    if (long) {
      const toggle = h("button", { type: "button", "data-testid": "expand" });
      const show = (whole) => {
        box.classList.toggle("folded", !whole);
        toggle.setAttribute("aria-expanded", String(whole));
        toggle.textContent = whole ? "Show less" : `Show all (${size(text)}, ${lines.toLocaleString()} lines)`;
        if (whole) state.unfolded.add(key);
        else state.unfolded.delete(key);
      };
      toggle.addEventListener("click", () => show(box.classList.contains("folded")));
      show(state.unfolded.has(key));
      bar.append(toggle);
    }
    const status = h("span", { class: "muted small", role: "status", "data-testid": "copy-status" });
    const button = h("button", { type: "button", "data-testid": "copy" }, "Copy");
    button.addEventListener("click", () => copyText(text, body, button, status));
    bar.append(button, status);
    box.append(bar);
    return box;
  }

  /** Puts `text` on the clipboard; where there is none, selects `body` for the user to copy. */
  async function copyText(text, body, button, status) {
    clearTimeout(button.reset);
    try {
      // Missing on pages not served over HTTPS (or localhost), and may be refused.
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
      status.textContent = "";
      button.reset = setTimeout(() => (button.textContent = "Copy"), 2000);
    } catch {
      button.textContent = "Copy";
      window.getSelection().selectAllChildren(body);
      status.textContent = "No clipboard here: the text is selected, press Ctrl+C (⌘C on a Mac) to copy it.";
    }
  }

  /** "812 bytes", "20.4 KB" (of UTF-8). */
  function size(text) {
    const bytes = new TextEncoder().encode(text).length;
    return bytes < 1024 ? bytes + " bytes" : (bytes / 1024).toFixed(1) + " KB";
  }

  /** At most `max` characters of `text`, "…" after a cut. */
  function clip(text, max) {
    if (!text) return null;
    return text.length > max ? text.slice(0, max) + "…" : text;
  }

  function when(iso) {
    return iso ? h("span", { title: "local: " + local(iso) }, absolute(iso) + " (" + ago(iso) + ")") : null;
  }

  /** Asks to confirm a cancel or a replay (with its reason) in a small inline form. */
  function openConfirm(action) {
    state.confirming = action;
    const replay = action === "replay";
    $("confirm-text").textContent = replay ? "Replay this run as a new run. Reason:" : "Cancel this run? Its current attempt is told to stop.";
    $("confirm-reason").hidden = !replay;
    $("confirm-reason").value = DEFAULT_REASON;
    $("confirm-ok").textContent = replay ? "Replay" : "Cancel run";
    $("confirm-ok").className = replay ? "primary" : "danger";
    $("confirm").hidden = false;
    $("cancel").disabled = $("replay").disabled = true;
    if (replay) $("confirm-reason").select();
    else $("confirm-ok").focus();
  }

  function closeConfirm() {
    state.confirming = null;
    $("confirm").hidden = true;
    $("cancel").disabled = $("replay").disabled = false;
  }

  async function confirmAction(event) {
    event.preventDefault();
    const action = state.confirming;
    const id = encodeURIComponent(state.runId);
    const reason = $("confirm-reason").value.trim();
    if (action === "replay" && !reason) {
      showError("Say why the run is replayed.", "action");
      return;
    }
    $("confirm-ok").disabled = true;
    try {
      if (action === "replay") {
        const run = await post("runs/" + id + "/replay", { reason });
        closeConfirm();
        clearError("action");
        flash("Replayed as a new run: " + run.id);
        location.hash = runHash(run.id); // shows the new run
      } else {
        await post("runs/" + id + "/cancel");
        closeConfirm();
        clearError("action");
        flash("Cancelled.");
        state.rendered = "";
        load();
      }
    } catch (err) {
      showError(err, "action");
    } finally {
      $("confirm-ok").disabled = false;
    }
  }

  // ---- Routing and wiring ----------------------------------------------------------------

  function route() {
    const match = location.hash.match(/^#\/runs\/([^/?#]+)$/);
    const runId = match ? decodeURIComponent(match[1]) : null;
    if (runId !== state.runId) {
      closeConfirm();
      state.rendered = "";
      state.unfolded.clear();
      $("run-fields").replaceChildren();
      $("run-payload").replaceChildren();
      $("attempts-body").replaceChildren();
      $("run-id").textContent = runId || "";
      $("run-status").textContent = "";
      $("run-status").className = "badge";
      $("run-details").hidden = true;
      $("cancel").hidden = $("replay").hidden = true;
    }
    state.runId = runId;
    $("view-run").hidden = !runId;
    $("view-overview").hidden = !!runId;
    clearError("load");
    load();
    window.scrollTo(0, 0);
  }

  for (const s of STATUSES) $("filter-status").append(h("option", { value: s }, label(s)));
  $("filter-task").addEventListener("change", (e) => setFilter(e.target.value, state.status));
  $("filter-status").addEventListener("change", (e) => setFilter(state.task, e.target.value));
  $("filter-limit").addEventListener("change", (e) => {
    state.limit = Number(e.target.value);
    state.cursors = [null];
    load();
  });
  $("filters").addEventListener("submit", (e) => e.preventDefault());
  $("page-first").addEventListener("click", () => ((state.cursors = [null]), load()));
  $("page-prev").addEventListener("click", () => (state.cursors.length > 1 && state.cursors.pop(), load()));
  $("page-next").addEventListener("click", () => state.nextCursor && (state.cursors.push(state.nextCursor), load()));
  $("replay").addEventListener("click", () => openConfirm("replay"));
  $("cancel").addEventListener("click", () => openConfirm("cancel"));
  $("confirm").addEventListener("submit", confirmAction);
  $("confirm-no").addEventListener("click", closeConfirm);
  $("error-close").addEventListener("click", () => clearError());
  $("auto-refresh").addEventListener("change", (e) => e.target.checked && load());
  window.addEventListener("hashchange", route);
  window.addEventListener("resize", () => state.throughput && !state.runId && renderChart(state.throughput));
  // Auto-refresh: the current view, every few seconds, while the tab is visible.
  setInterval(() => {
    if ($("auto-refresh").checked && !document.hidden && !loading) load();
  }, REFRESH_MS);

  route();
})();
