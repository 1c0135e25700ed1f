// graceline's web UI: three views over the collector's query API, drawn
// with the DOM alone. Every string that comes from the API goes into the
// page as text (textContent, createTextNode, SVG <title>), never as markup:
// workloads choose their names, commands and output.
"use strict";

(function () {
  const main = document.getElementById("main");
  const live = document.getElementById("live");
  const SVGNS = "http://www.w3.org/2000/svg";

  // stop is called when the view changes: it ends the view's timers and
  // streams.
  let stop = function () {};

  // el makes an HTML element; strings among children become text nodes.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(typeof c === "string" ? document.createTextNode(c) : c);
    }
    return e;
  }

  // svg makes an SVG element with attributes; text goes in as a text node.
  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null) continue;
      e.setAttribute(k, String(v));
    }
    if (text !== undefined) e.textContent = text;
    return e;
  }

  class Unauthorized extends Error {}

  // getLines reads one of the API's JSON-lines answers.
  async function getLines(path, signal) {
    const resp = await fetch("api/v1/" + path, { credentials: "same-origin", signal: signal, headers: { Accept: "application/x-ndjson" } });
    if (resp.status === 401) throw new Unauthorized("token refused");
    if (!resp.ok) throw new Error((await resp.text()).trim() || resp.statusText);
    const text = await resp.text();
    return text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
  }

  // watch follows the watch API and calls onEvent for each event; it
  // reconnects after a pause while the view lasts.
  function watch(query, onEvent) {
    const ctl = new AbortController();
    let alive = true;
    async function run() {
      while (alive) {
        try {
          const resp = await fetch("api/v1/watch?" + query, { credentials: "same-origin", signal: ctl.signal });
          if (resp.status === 401) { showLogin(); return; }
          if (!resp.ok || !resp.body) throw new Error(resp.statusText);
          live.textContent = "live";
          const reader = resp.body.getReader();
          const dec = new TextDecoder();
          let buf = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buf += dec.decode(value, { stream: true });
            let i;
            while ((i = buf.indexOf("\n")) >= 0) {
              const line = buf.slice(0, i);
              buf = buf.slice(i + 1);
              if (line.trim() !== "") onEvent(JSON.parse(line));
            }
          }
        } catch (e) {
          if (!alive) return;
        }
        live.textContent = "reconnecting…";
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
    run();
    return () => { alive = false; ctl.abort(); };
  }

  // Times: RFC 3339 with up to nanoseconds; Date.parse wants milliseconds.
  function ms(ts) {
    if (!ts) return NaN;
    return Date.parse(ts.replace(/(\.\d{3})\d+/, "$1"));
  }
  // Durations are protobuf JSON: "5.100s".
  function durMs(d) { return d ? parseFloat(d) * 1000 : NaN; }
  function fmtDur(m) {
    if (!isFinite(m)) return "";
    const a = Math.abs(m);
    if (a < 1000) return Math.round(m) + "ms";
    if (a < 60000) return (m / 1000).toFixed(a < 10000 ? 2 : 1) + "s";
    return Math.floor(m / 60000) + "m" + Math.round((a % 60000) / 1000) + "s";
  }
  function fmtRel(m) { return (m >= 0 ? "+" : "−") + fmtDur(Math.abs(m)); }
  function fmtTime(ts) { const t = ms(ts); return isFinite(t) ? new Date(t).toLocaleString() : ""; }

  function podName(e) { return (e.pod && e.pod.namespace ? e.pod.namespace + "/" : "") + (e.pod ? e.pod.name || e.pod.uid || "" : ""); }
  function podHref(e) {
    const p = e.pod || {};
    return "#/pod/" + encodeURIComponent(p.namespace || "") + "/" + encodeURIComponent(p.name || "") + (p.uid ? "?uid=" + encodeURIComponent(p.uid) : "");
  }
  function badge(verdict) { return el("span", { class: "badge " + (verdict || "unknown"), text: verdict || "unknown" }); }

  // span of a summary: its first phase's start to its last phase's end.
  function span(s) {
    let a = Infinity, b = -Infinity;
    for (const p of s.phases || []) {
      const st = ms(p.start), en = ms(p.end);
      if (isFinite(st)) a = Math.min(a, st);
      if (isFinite(en)) b = Math.max(b, en);
      else if (isFinite(st)) b = Math.max(b, st);
    }
    return isFinite(a) && isFinite(b) ? b - a : NaN;
  }

  function causesText(s) {
    return (s.causes || []).map((c) => (c.container && c.container.name ? c.container.name + "=" : "") + c.cause).join("  ");
  }

  function showError(err) {
    if (err instanceof Unauthorized) { showLogin(); return; }
    main.replaceChildren(el("p", { class: "error", text: "Could not load: " + err.message }));
  }

  function showLogin() {
    stop();
    document.getElementById("login").hidden = false;
    main.hidden = true;
    document.querySelector(".logout").hidden = true;
    document.getElementById("login-refused").hidden = location.hash !== "#login-refused";
    document.getElementById("token").focus();
  }

  function setNav(which) {
    for (const id of ["nav-list", "nav-stuck"]) {
      const a = document.getElementById(id);
      if (id === which) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
  }

  // ---------------------------------------------------------------- list

  const filterNames = ["namespace", "node", "verdict", "cause", "since"];

  function listView(params) {
    setNav("nav-list");
    const values = {};
    for (const n of filterNames) values[n] = params.get(n) || "";
    if (!params.has("since")) values.since = "24h";
    const form = el("form", { class: "filters", role: "search" },
      el("label", {}, "namespace", el("input", { name: "namespace", value: values.namespace, size: 14 })),
      el("label", {}, "node", el("input", { name: "node", value: values.node, size: 14 })),
      el("label", {}, "verdict", verdictSelect(values.verdict)),
      el("label", {}, "cause", el("input", { name: "cause", value: values.cause, size: 16 })),
      el("label", {}, "since", el("input", { name: "since", value: values.since, size: 8, title: "a duration back from now (1h) or an RFC 3339 time" })),
      el("button", { type: "submit" }, "Filter"));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const q = new URLSearchParams();
      for (const n of filterNames) { const v = form.elements[n].value.trim(); if (v) q.set(n, v); }
      location.hash = "#/?" + q.toString();
    });
    const list = el("ul", { class: "rows", id: "terminations", "aria-label": "terminations" });
    const count = el("p", { class: "muted" });
    main.replaceChildren(el("h1", { text: "Terminations" }), form, count, list);

    const q = new URLSearchParams();
    for (const n of ["namespace", "node", "verdict", "since"]) if (values[n]) q.set(n, values[n]);
    q.set("limit", "500");
    let pending = null;
    async function load() {
      try {
        let rows = await getLines("terminations?" + q.toString());
        if (values.cause) rows = rows.filter((s) => (s.causes || []).some((c) => c.cause === values.cause));
        renderRows(list, rows);
        count.textContent = rows.length + (rows.length === 1 ? " termination" : " terminations");
      } catch (err) { showError(err); }
    }
    load();
    const wq = new URLSearchParams();
    for (const n of ["namespace", "node"]) if (values[n]) wq.set(n, values[n]);
    // A new summary or stuck report changes the list: reload it, at most
    // twice a second.
    const end = watch(wq.toString(), (e) => {
      if (e.kind !== "termination_summary" && e.kind !== "stuck" && e.kind !== "pod_deleted") return;
      if (pending) return;
      pending = setTimeout(() => { pending = null; load(); }, 500);
    });
    return () => { end(); if (pending) clearTimeout(pending); };
  }

  function verdictSelect(v) {
    const s = el("select", { name: "verdict" });
    for (const o of ["", "graceful", "killed", "stuck"]) {
      const opt = el("option", { value: o, text: o || "any" });
      if (o === v) opt.selected = true;
      s.append(opt);
    }
    return s;
  }

  function renderRows(list, rows) {
    const longest = Math.max(1, ...rows.map(span).filter(isFinite));
    list.replaceChildren(...rows.map((s) => {
      const d = span(s);
      const fill = el("div", { class: "fill " + (s.verdict || "") });
      fill.style.width = (isFinite(d) ? Math.max(1, (100 * d) / longest) : 0) + "%";
      const a = el("a", { class: "row", href: podHref(s), "data-verdict": s.verdict || "", "data-pod": podName(s) },
        badge(s.verdict),
        el("span", { class: "name", text: podName(s) }),
        el("span", { class: "muted", text: s.node || "" }),
        el("span", { class: "muted", text: fmtTime(s.time) }),
        el("div", { class: "track", "aria-hidden": "true" }, fill),
        el("span", { text: fmtDur(d) }),
        el("span", { class: "causes", text: causesText(s) }));
      return el("li", {}, a);
    }));
    if (rows.length === 0) list.replaceChildren(el("li", { class: "empty", text: "No terminations match." }));
  }

  // ---------------------------------------------------------------- pod

  const apiKinds = new Set(["delete_requested", "endpoint_not_ready", "endpoint_removed", "finalizers_changed", "pod_deleted"]);
  const sandboxKinds = new Set(["sandbox_stopped", "sandbox_removed", "netns_released", "cgroup_removed", "rootfs_released", "mounts_released", "cni_plugin_failed"]);
  const startKinds = [["delete_requested"], ["prestop_exec", "signal_generated", "signal_delivered", "container_exited"]];

  function origin(events) {
    for (const kinds of startKinds) for (const e of events) if (kinds.includes(e.kind)) return ms(e.time);
    return events.length ? ms(events[0].time) : NaN;
  }

  function signalText(e) {
    const sig = (e.signal && (e.signal.name || "signal " + e.signal.number)) || "signal";
    const snd = e.sender ? (e.sender.kernel || e.sender.comm || "?") + (e.sender.pid ? "(" + e.sender.pid + ")" : "") : "?";
    const tgt = (e.container && e.container.name ? e.container.name + " " : "") + (e.target ? "pid " + e.target.pid + (e.target.comm ? " (" + e.target.comm + ")" : "") : "");
    return sig + " " + snd + " → " + tgt;
  }

  function argvText(p) { return p ? (p.argv && p.argv.length ? p.argv.join(" ") : p.comm || "") : ""; }

  // detailText is an event's one-line detail for the raw table.
  function detailText(e) {
    const parts = [];
    if (e.signal) parts.push(signalText(e));
    if (e.disposition) parts.push("disposition=" + e.disposition);
    if (e.signal && e.signal.result) parts.push("result=" + e.signal.result);
    if (e.process && !e.signal) parts.push((e.process.pid ? "pid " + e.process.pid + " " : "") + argvText(e.process));
    if (e.exit_code !== undefined) parts.push("exit=" + e.exit_code);
    if (e.exit_signal !== undefined) parts.push("signal=" + e.exit_signal);
    if (e.reason) parts.push("reason=" + e.reason);
    if (e.path) parts.push(e.path);
    if (e.service) parts.push("svc " + e.service);
    if (e.finalizers) parts.push("finalizers=[" + e.finalizers.join(",") + "]");
    if (e.verdict) parts.push("verdict=" + e.verdict);
    if (e.blocking_phase) parts.push("blocking=" + e.blocking_phase);
    if (e.evidence) parts.push(e.evidence.join("; "));
    if (e.processes) parts.push(e.processes.map((p) => p.pid + " " + argvText(p) + " " + (p.state || "")).join("; "));
    return parts.join("  ");
  }

  async function podView(ns, name, params) {
    setNav(null);
    const uid = params.get("uid") || "";
    const base = "namespaces/" + encodeURIComponent(ns) + "/pods/" + encodeURIComponent(name);
    const q = uid ? "?uid=" + encodeURIComponent(uid) : "";
    main.replaceChildren(el("p", { class: "muted", text: "Loading…" }));
    let events, summary;
    try {
      [events, summary] = await Promise.all([getLines(base + "/timeline" + q), getLines(base + "/summary" + q)]);
    } catch (err) { showError(err); return; }
    summary = summary[0] || null;
    const stuck = events.filter((e) => e.kind === "stuck").pop();
    const details = el("div", { class: "details", id: "details", "aria-live": "polite" }, el("span", { class: "muted", text: "Point at or Tab to a marker for its details; Enter opens its raw event." }));
    const s = summary || {};
    const head = el("div", { class: "podhead" },
      badge(s.verdict || (stuck ? "stuck" : "")),
      el("span", { class: "name", id: "pod-name", text: ns + "/" + name }),
      el("span", { class: "muted", text: "uid " + (uid || (events[0] && events[0].pod && events[0].pod.uid) || "") }),
      el("span", { class: "muted", text: "node " + ((events.find((e) => e.node) || {}).node || "?") }),
      s.grace_period_s !== undefined ? el("span", { class: "muted", text: "grace " + s.grace_period_s + "s" }) : null,
      s.workload ? el("span", { class: "muted", text: (s.workload.kind || "") + " " + (s.workload.name || "") }) : null,
      s.initiator ? el("span", { class: "muted", text: "initiator " + s.initiator }) : null,
      el("a", { href: "api/v1/" + base + "/timeline" + q, id: "json-link" }, "JSON"));
    const chart = gantt(events, summary, details);
    const side = sidePanel(s, stuck);
    const rawBtn = el("button", { type: "button", class: "link", id: "raw-toggle", "aria-expanded": "false", "aria-controls": "raw" }, "Show raw events");
    const raw = rawTable(events, chart.t0);
    raw.hidden = true;
    rawBtn.addEventListener("click", () => {
      raw.hidden = !raw.hidden;
      rawBtn.setAttribute("aria-expanded", String(!raw.hidden));
      rawBtn.textContent = raw.hidden ? "Show raw events" : "Hide raw events";
    });
    main.replaceChildren(head,
      el("div", { class: "layout" }, el("div", {}, chart.node, legend(), details), side),
      el("p", {}, rawBtn), raw);
  }

  function legend() {
    return el("p", { class: "legend", text: "Bars: preStop (violet), stop signal to exit (blue; pale when SIGKILL was needed), after SIGKILL (red), sandbox teardown, release, removal (greys). Diamonds: signals, circles: exits. Dashed red line: grace deadline. Red shade: endpoints still offered the pod after the stop signal (traffic risk)." });
  }

  function sidePanel(s, stuck) {
    const side = el("aside", { class: "side", "aria-label": "cause and advice" });
    if (s.verdict) side.append(el("h2", { text: "Verdict: " + s.verdict }));
    for (const c of s.causes || []) {
      const facts = el("ul", {}, ...(c.facts || []).map((f) => el("li", { text: f })));
      side.append(el("div", { class: "cause" },
        el("div", {}, el("strong", { text: (c.container && c.container.name) || "pod" }), " ", el("code", { text: c.cause || "" })),
        c.advice ? el("div", {}, "Try: ", el("span", { class: "advice", text: c.advice })) : null,
        (c.facts || []).length ? facts : null));
    }
    const cl = [];
    if (s.api_to_node) cl.push("api→node " + fmtDur(durMs(s.api_to_node)));
    if (s.endpoint_lag) cl.push("endpoint lag " + fmtRel(durMs(s.endpoint_lag)) + (s.traffic_risk ? ": TRAFFIC RISK" : ": safe"));
    if (s.node_to_api) cl.push("node→API " + fmtDur(durMs(s.node_to_api)));
    if (cl.length) side.append(el("h2", { text: "Cluster" }), el("ul", {}, ...cl.map((t) => el("li", { text: t }))));
    if (s.exit_codes) side.append(el("h2", { text: "Exit codes" }), el("ul", {}, ...Object.entries(s.exit_codes).map(([k, v]) => el("li", { text: k + " = " + v }))));
    if (stuck) {
      side.append(el("h2", { text: "Stuck in " + (stuck.blocking_phase || "?") + " since " + fmtTime(stuck.since) }),
        el("ul", { class: "evidence" }, ...(stuck.evidence || []).map((t) => el("li", {}, el("code", { text: t })))));
    }
    if (!side.childNodes.length) side.append(el("p", { class: "muted", text: "No summary yet." }));
    return side;
  }

  function rawTable(events, t0) {
    const body = el("tbody", {}, ...events.map((e, i) => el("tr", { "data-index": i },
      el("td", { text: fmtRel(ms(e.time) - t0) }),
      el("td", { text: e.source === "api" ? "API" : "node" }),
      el("td", { text: e.kind }),
      el("td", { text: (e.container && e.container.name) || "" }),
      el("td", { class: "detail", text: detailText(e) }))));
    return el("table", { class: "raw", id: "raw" },
      el("thead", {}, el("tr", {}, ...["time", "from", "kind", "container", "detail"].map((h) => el("th", { text: h })))), body);
  }

  // gantt draws the termination: an API lane, one lane per container and
  // a sandbox lane, on a common time axis from the start of the deletion.
  // Its svg carries the axis as data (data-t0-ms, data-px-per-s, data-x0)
  // and each marker its time (data-time-ms), so that a test can check
  // where a time is drawn.
  function gantt(events, summary, details) {
    const s = summary || {};
    const t0 = origin(events);
    const after = events.filter((e) => ms(e.time) >= t0 - 1);
    const containers = [];
    for (const e of after) {
      const n = e.container && e.container.name;
      if (n && !containers.includes(n) && !apiKinds.has(e.kind) && !sandboxKinds.has(e.kind)) containers.push(n);
    }
    // The grace deadline: the API's deletion deadline when the collector
    // saw the delete request, else the grace period from the node's first
    // step (the kubelet counts preStop against the grace period).
    let deadline = ms(s.deletion_deadline);
    if (!isFinite(deadline) && s.grace_period_s !== undefined) {
      const first = (s.phases || []).filter((p) => p.name === "prestop" || p.name === "stop_signal").map((p) => ms(p.start)).filter(isFinite);
      if (first.length) deadline = Math.min(...first) + s.grace_period_s * 1000;
    }
    let tEnd = t0 + 1000;
    for (const e of after) tEnd = Math.max(tEnd, ms(e.time) || tEnd);
    for (const p of s.phases || []) tEnd = Math.max(tEnd, ms(p.end) || tEnd);
    if (isFinite(deadline)) tEnd = Math.max(tEnd, deadline);

    const width = Math.max(640, Math.floor((main.clientWidth || 1000) * 0.72));
    const x0 = 110, x1 = width - 16, laneH = 34, top = 22;
    const pxPerS = ((x1 - x0) * 1000) / (tEnd - t0);
    const X = (t) => x0 + ((t - t0) / 1000) * pxPerS;
    const lanes = [{ key: "api", label: "API" }, ...containers.map((c) => ({ key: "c:" + c, label: c, container: c })), { key: "sandbox", label: "sandbox" }];
    const height = top + lanes.length * laneH + 8;
    const root = svg("svg", { class: "gantt", id: "gantt", width: width, height: height, role: "group", "aria-label": "termination timeline",
      "data-t0-ms": t0, "data-px-per-s": pxPerS, "data-x0": x0 });
    const laneY = {};
    lanes.forEach((l, i) => {
      const y = top + i * laneH;
      laneY[l.key] = y;
      root.append(svg("rect", { class: "lane-bg", x: 0, y: y + 2, width: width, height: laneH - 4 }));
      root.append(svg("text", { class: "lane-label", x: 6, y: y + laneH / 2 + 4 }, l.label.length > 15 ? l.label.slice(0, 14) + "…" : l.label));
    });
    // The axis: about eight ticks at a round step.
    const axis = svg("g", { class: "axis" });
    const spanS = (tEnd - t0) / 1000;
    const step = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600].find((st) => spanS / st <= 8) || 3600;
    for (let v = 0; v <= spanS + 1e-9; v += step) {
      const x = X(t0 + v * 1000);
      axis.append(svg("line", { x1: x, x2: x, y1: top - 4, y2: height - 6 }), svg("text", { x: x + 2, y: top - 8 }, "+" + (Math.round(v * 10) / 10) + "s"));
    }
    root.append(axis);

    const bar = (lane, a, b, cls, title, extra) => {
      if (!isFinite(a)) return null;
      if (!isFinite(b)) b = a;
      const y = laneY[lane];
      const r = svg("rect", Object.assign({ class: cls, x: X(a), y: y + 9, width: Math.max(2, X(b) - X(a)), height: laneH - 18, rx: 2 }, extra || {}));
      if (title) r.append(svg("title", {}, title));
      root.append(r);
      return r;
    };

    // Traffic risk: the endpoints still offered the pod after its stop
    // signal, shaded in the API lane from the signal to the removal.
    const removed = after.find((e) => e.kind === "endpoint_removed");
    if (s.traffic_risk && removed && s.endpoint_lag) {
      const end = ms(removed.time);
      bar("api", end + durMs(s.endpoint_lag), end, "risk", "traffic risk: endpoints offered the pod " + fmtDur(-durMs(s.endpoint_lag)) + " after the stop signal");
    }

    // One bar per container: preStop, then stop signal to exit, then the
    // stretch after SIGKILL.
    for (const c of containers) {
      const mine = after.filter((e) => e.container && e.container.name === c);
      const pre = mine.find((e) => e.kind === "prestop_exec");
      // The runtime's signals come from outside the container; the
      // kernel's SIGKILL to what is left in a dying PID namespace, or a
      // signal between the container's own processes, is no stop.
      const fromRuntime = (e) => e.kind === "signal_generated" && e.signal && !(e.sender && (e.sender.container_id || e.sender.kernel));
      const sigs = mine.filter((e) => fromRuntime(e) && e.signal.name !== "SIGKILL");
      const kill = mine.find((e) => fromRuntime(e) && e.signal.name === "SIGKILL");
      const exit = mine.find((e) => e.kind === "container_exited");
      const exitAt = exit ? (ms(exit.exited_at) || ms(exit.time)) : (mine.find((e) => e.kind === "container_stopped") ? ms(mine.find((e) => e.kind === "container_stopped").time) : tEnd);
      const stopAt = sigs.length ? ms(sigs[0].time) : NaN;
      if (pre) bar("c:" + c, ms(pre.time), isFinite(stopAt) ? stopAt : exitAt, "seg-prestop", "preStop " + argvText(pre.process));
      const from = isFinite(stopAt) ? stopAt : (pre ? ms(pre.time) : (kill ? ms(kill.time) : exitAt));
      bar("c:" + c, from, exitAt, "container-bar" + (kill ? " killed" : ""), c + ": stop signal to exit, " + fmtDur(exitAt - from), { "data-container": c });
      if (kill) bar("c:" + c, ms(kill.time), exitAt, "seg-kill", c + ": SIGKILL to exit");
    }
    // The pod's own phases after its containers: teardown, release, removal.
    for (const p of s.phases || []) {
      if (["sandbox_teardown", "resource_release", "removal"].includes(p.name)) bar("sandbox", ms(p.start), ms(p.end), "phase-" + p.name, p.name.replace("_", " ") + " " + fmtDur(ms(p.end) - ms(p.start)));
    }

    if (isFinite(deadline)) {
      const x = X(deadline);
      root.append(svg("line", { class: "deadline", id: "grace-deadline", x1: x, x2: x, y1: top - 2, y2: height - 4, "data-time-ms": deadline }));
      root.append(svg("text", { class: "deadline-label", x: Math.min(x + 3, width - 90), y: height - 1 }, "grace deadline"));
    }

    // Markers: signals (sender → target, disposition), exits with codes,
    // and each step of the API side and the sandbox.
    const delivered = after.filter((e) => e.kind === "signal_delivered");
    const markers = [];
    for (const e of after) {
      let lane, shape, cls, label;
      const c = e.container && e.container.name;
      if (apiKinds.has(e.kind)) { lane = "api"; shape = "tick"; cls = "api"; label = e.kind.replace(/_/g, " "); }
      else if (sandboxKinds.has(e.kind)) { lane = "sandbox"; shape = "tick"; cls = "sandbox"; label = e.kind.replace(/_/g, " ") + (e.path ? " " + e.path : ""); }
      else if (e.kind === "signal_generated") {
        lane = c && containers.includes(c) ? "c:" + c : "sandbox";
        shape = "diamond"; cls = "signal sig-" + ((e.signal && e.signal.name) || "other");
        const d = delivered.find((x) => x.signal && e.signal && x.signal.number === e.signal.number && x.target && e.target && x.target.pid === e.target.pid && ms(x.time) >= ms(e.time));
        label = signalText(e) + (e.signal && e.signal.result ? " · " + e.signal.result : "") + (d && d.disposition ? " · disposition " + d.disposition : "");
      } else if (e.kind === "container_exited") {
        lane = c && containers.includes(c) ? "c:" + c : "sandbox"; shape = "circle"; cls = "exit";
        label = (c || "") + " exited, code " + (e.exit_code !== undefined ? e.exit_code : "?") + (e.reason ? " (" + e.reason + ")" : "");
      } else if (e.kind === "prestop_exec") {
        lane = c && containers.includes(c) ? "c:" + c : "sandbox"; shape = "tick"; cls = "prestop"; label = (c || "") + " preStop: " + argvText(e.process);
      } else continue;
      const t = e.kind === "container_exited" ? (ms(e.exited_at) || ms(e.time)) : ms(e.time);
      const x = X(t), y = laneY[lane] + laneH / 2;
      const g = svg("g", { class: "marker " + cls, tabindex: 0, role: "button", "data-time-ms": t, "data-kind": e.kind, "data-container": c || "", "aria-label": label + " at " + fmtRel(t - t0) });
      let d;
      if (shape === "diamond") d = `M${x} ${y - 7} L${x + 6} ${y} L${x} ${y + 7} L${x - 6} ${y} Z`;
      // An exit sits on the bar's top edge, so that a SIGKILL just before
      // it stays in sight.
      else if (shape === "circle") d = `M${x - 4} ${y - 9} a4 4 0 1 0 8 0 a4 4 0 1 0 -8 0`;
      else d = `M${x - 1.5} ${y - 9} L${x + 1.5} ${y - 9} L${x + 1.5} ${y + 9} L${x - 1.5} ${y + 9} Z`;
      g.append(svg("path", { d: d }), svg("title", {}, label + " at " + fmtRel(t - t0)));
      if (e.kind === "container_exited") g.append(svg("text", { x: x + 6, y: y - 10 }, String(e.exit_code !== undefined ? e.exit_code : "")));
      // Focus or hover shows the marker's details beside the chart; Enter
      // or a click also opens the raw events at its row.
      const index = events.indexOf(e);
      g.setAttribute("data-index", index);
      const show = () => showDetails(details, e, label, t - t0);
      const open = () => { show(); openRow(index); };
      g.addEventListener("focus", show);
      g.addEventListener("mouseenter", show);
      g.addEventListener("click", open);
      g.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); open(); } });
      markers.push(g);
    }
    // Markers go last so that they sit above the bars.
    for (const g of markers) root.append(g);
    return { node: root, t0: t0 };
  }

  // openRow shows the raw events table and marks the event's row.
  function openRow(index) {
    const raw = document.getElementById("raw");
    const btn = document.getElementById("raw-toggle");
    if (!raw || !btn) return;
    if (raw.hidden) btn.click();
    for (const tr of raw.querySelectorAll("tr.selected")) tr.classList.remove("selected");
    const row = raw.querySelector('tr[data-index="' + index + '"]');
    if (row) { row.classList.add("selected"); row.scrollIntoView({ block: "nearest" }); }
  }

  function showDetails(box, e, label, rel) {
    const dl = el("dl", {});
    const add = (k, v) => { if (v !== undefined && v !== null && v !== "") dl.append(el("dt", { text: k }), el("dd", { text: String(v) })); };
    add("what", label);
    add("when", fmtRel(rel) + "  (" + e.time + ")");
    add("kind", e.kind);
    add("container", e.container && e.container.name);
    add("detail", detailText(e));
    box.replaceChildren(dl);
    box.setAttribute("data-kind", e.kind);
  }

  // ---------------------------------------------------------------- stuck

  function stuckView(params) {
    setNav("nav-stuck");
    const list = el("div", { id: "stuck" });
    const stamp = el("p", { class: "muted" });
    main.replaceChildren(el("h1", { text: "Stuck now" }), stamp, list);
    const q = new URLSearchParams();
    for (const n of ["namespace", "node"]) if (params.get(n)) q.set(n, params.get(n));
    let timer = null, alive = true;
    async function load() {
      try {
        const rows = await getLines("stuck?" + q.toString());
        if (!alive) return;
        list.replaceChildren(...rows.map(stuckItem));
        if (!rows.length) list.replaceChildren(el("p", { class: "empty", text: "No pod is stuck." }));
        stamp.textContent = rows.length + " stuck · refreshed " + new Date().toLocaleTimeString();
      } catch (err) { if (alive) showError(err); return; }
      if (alive) timer = setTimeout(load, 2000);
    }
    load();
    return () => { alive = false; if (timer) clearTimeout(timer); };
  }

  function stuckItem(e) {
    return el("section", { class: "stuck-item", "data-pod": podName(e) },
      el("div", {},
        el("a", { href: podHref(e), class: "name" }, podName(e)), "  ",
        el("span", { class: "muted", text: "node " + (e.node || "?") }), "  ",
        el("span", { class: "phase", text: e.blocking_phase || "?" }), " ",
        el("span", { class: "muted", text: "for " + fmtDur(Date.now() - ms(e.since)) })),
      el("ul", { class: "evidence" }, ...(e.evidence || []).map((t) => el("li", {}, el("code", { text: t })))));
  }

  // ---------------------------------------------------------------- router

  function route() {
    stop();
    stop = function () {};
    const hash = location.hash || "#/";
    if (hash === "#login-refused") { showLogin(); return; }
    document.getElementById("login").hidden = true;
    main.hidden = false;
    document.querySelector(".logout").hidden = false;
    live.textContent = "";
    const [path, query] = hash.slice(1).split("?");
    const params = new URLSearchParams(query || "");
    const parts = path.split("/").filter((p) => p !== "").map(decodeURIComponent);
    if (parts[0] === "pod" && parts.length === 3) podView(parts[1], parts[2], params);
    else if (parts[0] === "stuck") stop = stuckView(params);
    else stop = listView(params);
  }

  window.addEventListener("hashchange", route);
  route();
})();
