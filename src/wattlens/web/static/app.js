/* wattlens serve: draws each page from its /api/ answer (tables and uPlot charts).
 *
 * Data is written as text only (textContent / text nodes), never as markup: a model named <script> shows as text.
 * Charts: drag to zoom (x and y), double-click to reset, hover for values, "log scale" for energy axes.
 * For tests and scripts, window.wattlens.charts[name] = {points, series, log, xTicks} and body[data-ready] = "1" once
 * drawn. Every change of a filter or a selection is a browser history entry: Back undoes it.
 */
(function () {
  "use strict";
  const W = (window.wattlens = { charts: {}, ready: false });
  const body = document.body;
  const app = document.getElementById("app");
  const PALETTE = ["#1f6f43", "#d9480f", "#1c7ed6", "#9c36b5", "#e67700", "#0b7285", "#c2255c", "#5c940d", "#495057"];
  const NA = "n/a";

  // ---------------------------------------------------------------------------------------------- DOM (text only)
  function h(tag, attrs) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "value") node.value = v;
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (let i = 2; i < arguments.length; i++) add(node, arguments[i]);
    return node;
  }
  function add(node, kid) {
    if (kid === undefined || kid === null || kid === false) return;
    if (Array.isArray(kid)) kid.forEach((k) => add(node, k));
    else node.appendChild(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  // ---------------------------------------------------------------------------------------------- formatting
  function num(x) {
    return typeof x === "number" && isFinite(x) ? x : null;
  }
  function sig(x, digits) {
    x = num(x);
    digits = digits || 3;
    if (x === null) return NA;
    if (x === 0) return "0";
    const mag = Math.floor(Math.log10(Math.abs(x)));
    if (mag < -3 || mag >= 6) return x.toExponential(Math.max(digits - 1, 0));
    return x.toLocaleString("en-US", { maximumFractionDigits: Math.max(digits - 1 - mag, 0) });
  }
  function unit(x, base, units) {
    x = num(x);
    if (x === null) return NA;
    if (x === 0) return "0 " + base;
    const a = Math.abs(x);
    for (const [scale, u] of units) if (a >= scale || scale === units[units.length - 1][0]) return sig(x / scale, 3) + " " + u + base;
    return sig(x, 3) + " " + base;
  }
  const J_UNITS = [[1e6, "M"], [1e3, "k"], [1, ""], [1e-3, "m"], [1e-6, "µ"], [1e-9, "n"]];
  const SI_UNITS = [[1e15, "P"], [1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"], [1, ""]];
  const joules = (x) => unit(x, "J", J_UNITS);
  const grams = (x) => unit(x, "g", J_UNITS);
  const si = (x, base) => unit(x, base || "", SI_UNITS);
  function span(lo, hi, fmt) {
    fmt = fmt || joules;
    return num(lo) === null && num(hi) === null ? "" : "[" + fmt(lo) + " – " + fmt(hi) + "]";
  }
  function when(unix) {
    if (num(unix) === null) return NA;
    const d = new Date(unix * 1000);
    const p = (n) => String(n).padStart(2, "0");
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + " " + p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
  }
  function stars(n) {
    return num(n) === null ? "" : "★".repeat(n) + "☆".repeat(Math.max(0, 5 - n));
  }
  function cfg(c) {
    if (!c) return "";
    const parts = [];
    if (c.batch != null) parts.push("b" + c.batch);
    if (c.precision) parts.push(c.precision);
    if (c.threads != null) parts.push("t" + c.threads);
    if (c.engine) parts.push(c.engine);
    if (c.device && c.device !== "cpu") parts.push(c.device);
    const known = new Set(["batch", "precision", "threads", "engine", "device", "device_requested"]);
    for (const [k, v] of Object.entries(c)) if (!known.has(k) && v !== null && typeof v !== "object") parts.push(k + "=" + v);
    return parts.join(" ");
  }
  function pct(x) {
    return num(x) === null ? NA : (x * 100).toFixed(1) + " %";
  }
  function ratio(x) {
    return num(x) === null ? NA : "×" + sig(x, 3);
  }

  // ---------------------------------------------------------------------------------------------- URL and data
  function params() {
    return new URLSearchParams(location.search);
  }
  function setParams(updates) {
    const p = params();
    for (const [k, v] of Object.entries(updates)) {
      if (v === null || v === undefined || v === "") p.delete(k);
      else p.set(k, v);
    }
    const q = p.toString();
    const url = location.pathname + (q ? "?" + q : "");
    if (url !== location.pathname + location.search) history.pushState(null, "", url); // Back undoes it
    render();
  }
  window.addEventListener("popstate", () => render());
  function apiUrl(path, p) {
    const q = (p || params()).toString();
    return path + (q ? "?" + q : "");
  }
  async function getJSON(url) {
    const r = await fetch(url, { headers: { accept: "application/json" } });
    let data = null;
    try {
      data = await r.json();
    } catch (e) {
      throw new Error("the server answered " + r.status + " without JSON");
    }
    if (!r.ok) throw new Error((data && data.error) || "HTTP " + r.status);
    return data;
  }

  // ---------------------------------------------------------------------------------------------- widgets
  function table(columns, rows, rowClass) {
    const head = h("tr", null, columns.map((c) => h("th", { class: c.num ? "num" : null, title: c.title }, c.label)));
    const trs = rows.map((r, i) =>
      h("tr", { class: rowClass ? rowClass(r) : null }, columns.map((c) => h("td", { class: c.num ? "num" : null }, c.cell(r, i))))
    );
    return h("table", { class: "data" }, h("thead", null, head), h("tbody", null, trs));
  }
  function select(label, name, options, current, onchange) {
    const sel = h(
      "select",
      { name: name, onchange: (e) => onchange(e.target.value) },
      options.map(([value, text]) => h("option", { value: value, selected: String(value) === String(current ?? "") ? true : null }, text))
    );
    return h("label", null, label, sel);
  }
  function message(text, cls) {
    return h("div", { class: cls || "box" }, text);
  }
  // figures from before the store's latest change (the new ones are being computed): say so, and reload soon
  let refreshTimer = null;
  function staleNote(stale) {
    if (!stale) return null;
    refreshTimer = setTimeout(render, 3000);
    return h("div", { class: "warnbox", "data-stale": "1" }, stale.message);
  }
  function dl(pairs) {
    return h("dl", { class: "kv" }, pairs.filter((p) => p).map(([k, v]) => [h("dt", null, k), h("dd", null, v)]));
  }
  function pager(total, offset, limit) {
    if (total <= limit) return null;
    const from = offset + 1, to = Math.min(offset + limit, total);
    return h(
      "div",
      { class: "pager" },
      h("button", { disabled: offset <= 0 ? true : null, onclick: () => setParams({ offset: Math.max(0, offset - limit) || null }) }, "‹ previous"),
      "rows " + from + "–" + to + " of " + total,
      h("button", { disabled: to >= total ? true : null, onclick: () => setParams({ offset: offset + limit }) }, "next ›")
    );
  }
  function runLink(id, text) {
    return h("a", { href: "/run?id=" + encodeURIComponent(id) }, text || id);
  }
  function statusCell(r) {
    const why = [];
    if (r.error) why.push(r.error);
    (r.validity || []).forEach((v) => why.push(v));
    return h("span", null, r.status, why.length ? h("div", { class: "note" }, why.join("; ")) : null);
  }

  // ---------------------------------------------------------------------------------------------- charts (uPlot)
  // spec: {title, x: [...], series: [{label, y, lo?, hi?, color?, bars?, line?}], xLabel, yLabel, logY, logX, xTime,
  //        xNames?: [...], tip?: (i) => [lines], logToggle?: bool, yFmt?, xFmt?}
  function chart(parent, name, spec) {
    const box = h("div", { class: "chart", "data-chart": name });
    parent.appendChild(box);
    let log = !!spec.logY;
    const bar = h("div", { class: "bar" });
    const tip = h("div", { class: "tip" });
    const holder = h("div");
    add(box, [spec.title ? h("h3", null, spec.title) : null, bar, holder, tip]);
    let plot = null;
    let lastTicks = [];

    function cleaned(values) {
      return values.map((v) => (num(v) === null || (log && v <= 0) ? null : v));
    }
    function build() {
      if (plot) plot.destroy();
      const series = spec.series.map((s, i) => Object.assign({ color: PALETTE[i % PALETTE.length] }, s));
      const data = [spec.x].concat(series.map((s) => cleaned(s.y)));
      let points = 0, hidden = 0;
      series.forEach((s, i) => {
        data[i + 1].forEach((v, j) => {
          if (v !== null) points++;
          else if (num(s.y[j]) !== null) hidden++;
        });
      });
      const yFmt0 = spec.yFmt || ((v) => sig(v, 4));
      const yFmt = (v) => (v === null || v === undefined ? "" : yFmt0(v));
      const xFmt = spec.xFmt || ((v) => (spec.xNames ? spec.xNames[v] ?? "" : sig(v, 4)));
      const categorical = !!spec.categorical || !!spec.xNames;
      // a categorical x (ranks, pairs) has integer ticks only, labelled as the hover labels them
      const xTicks = (u, ticks) => {
        const labels = ticks.map((t) => (!Number.isInteger(t) ? "" : spec.xNames ? spec.xNames[t] ?? "" : xFmt(t)));
        lastTicks = labels.filter((l) => l !== "");
        if (W.charts[name]) W.charts[name].xTicks = lastTicks;
        return labels;
      };
      const opts = {
        width: Math.max(320, (box.clientWidth || 900) - 4),
        height: spec.height || 300,
        scales: {
          x: { time: !!spec.xTime, distr: spec.logX ? 3 : 1, range: categorical ? (u, min, max) => [min - 0.5, max + 0.5] : undefined },
          y: { distr: log ? 3 : 1, range: (u, dmin, dmax) => yRange(u, dmin, dmax, series) },
        },
        axes: [
          {
            label: spec.xLabel,
            values: categorical ? xTicks : undefined,
            incrs: categorical ? [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000] : undefined,
            rotate: spec.xNames ? -20 : 0,
            size: spec.xNames ? 70 : 50,
          },
          { label: spec.yLabel, size: 80, values: (u, ticks) => ticks.map((t) => yFmt(t)) },
        ],
        series: [{ label: spec.xLabel || "x", value: (u, v) => (v == null ? "–" : spec.xTime ? when(v) : xFmt(v)) }].concat(
          series.map((s) => ({
            label: s.label,
            stroke: s.color,
            fill: s.bars ? s.color + "aa" : undefined,
            width: s.line ? 1.5 : 0,
            spanGaps: !!s.line,
            paths: s.bars ? uPlot.paths.bars({ size: [0.6, 60] }) : s.line ? undefined : () => null,
            points: { show: !s.bars, size: 7, fill: s.color, stroke: s.color },
            value: (u, v) => (v == null ? "–" : yFmt(v)),
          }))
        ),
        cursor: { drag: { x: true, y: true, uni: 20 }, points: { size: 10 } },
        legend: { live: true },
        hooks: {
          draw: [(u) => whiskers(u, series)],
          setCursor: [(u) => showTip(u)],
          setScale: [(u, key) => W.charts[name] && (W.charts[name][key] = [u.scales[key].min, u.scales[key].max])],
        },
      };
      W.charts[name] = null;
      plot = new uPlot(opts, data, holder);
      W.charts[name] = { points: points, series: series.length, log: log, hidden: hidden, x: [plot.scales.x.min, plot.scales.x.max], y: [plot.scales.y.min, plot.scales.y.max], xTicks: lastTicks };
      clear(bar);
      add(bar, [
        spec.logToggle !== false && spec.logY !== undefined
          ? h("label", null, h("input", { type: "checkbox", checked: log ? true : null, onchange: (e) => { log = e.target.checked; build(); } }), " log scale")
          : null,
        h("button", { onclick: () => build() }, "reset zoom"),
        h("span", null, points + " points" + (hidden ? " (" + hidden + " ≤ 0 not drawn on the log scale)" : "") + " · drag to zoom, double-click to reset"),
      ]);
    }
    // the y range covers the points and their intervals within the x range shown (zooming sets its own range)
    function yRange(u, dmin, dmax, series) {
      let lo = num(dmin), hi = num(dmax);
      const xmin = u.scales.x.min, xmax = u.scales.x.max;
      const widen = (v) => {
        v = num(v);
        if (v === null || (log && v <= 0)) return;
        lo = lo === null ? v : Math.min(lo, v);
        hi = hi === null ? v : Math.max(hi, v);
      };
      series.forEach((s, si) => {
        if (u.series[si + 1] && u.series[si + 1].show === false) return;
        for (let i = 0; i < spec.x.length; i++) {
          const x = spec.x[i], y = num(s.y[i]);
          if (y === null || (log && y <= 0) || (xmin != null && (x < xmin || x > xmax))) continue;
          widen(y);
          if (s.lo) widen(s.lo[i]);
          if (s.hi) widen(s.hi[i]);
        }
        if (s.bars && !log) widen(0);
      });
      if (lo === null || hi === null) return log ? [1, 10] : [0, 1];
      if (log) return uPlot.rangeLog(lo, hi, 10, true);
      if (lo === hi) return [lo - Math.abs(lo || 1) * 0.1, hi + Math.abs(hi || 1) * 0.1];
      return uPlot.rangeNum(lo, hi, 0.1, true);
    }
    function whiskers(u, series) {
      const ctx = u.ctx;
      ctx.save();
      ctx.beginPath();
      ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
      ctx.clip();
      series.forEach((s, si) => {
        if (!s.lo || !s.hi || u.series[si + 1].show === false) return;
        ctx.strokeStyle = s.color;
        ctx.lineWidth = Math.max(1, devicePixelRatio);
        for (let i = 0; i < spec.x.length; i++) {
          let lo = num(s.lo[i]), hi = num(s.hi[i]), y = num(s.y[i]);
          if (lo === null || hi === null || y === null || (log && y <= 0)) continue;
          if (log) {
            if (hi <= 0) continue;
            if (lo <= 0) lo = u.scales.y.min;
          }
          const x = u.valToPos(spec.x[i], "x", true);
          const y0 = u.valToPos(lo, "y", true), y1 = u.valToPos(hi, "y", true);
          const cap = 3 * devicePixelRatio;
          ctx.beginPath();
          ctx.moveTo(x, y0);
          ctx.lineTo(x, y1);
          ctx.moveTo(x - cap, y0);
          ctx.lineTo(x + cap, y0);
          ctx.moveTo(x - cap, y1);
          ctx.lineTo(x + cap, y1);
          ctx.stroke();
        }
      });
      ctx.restore();
    }
    function showTip(u) {
      const i = u.cursor.idx;
      if (i === null || i === undefined || !spec.tip || u.cursor.left < 0) {
        tip.style.display = "none";
        return;
      }
      const lines = spec.tip(i);
      if (!lines || !lines.length) {
        tip.style.display = "none";
        return;
      }
      clear(tip);
      lines.forEach((line, k) => add(tip, k === 0 ? h("b", null, line) : h("div", null, line)));
      const over = u.over.getBoundingClientRect(), me = box.getBoundingClientRect();
      tip.style.left = Math.min(over.left - me.left + u.cursor.left + 14, me.width - 260) + "px";
      tip.style.top = over.top - me.top + u.cursor.top + 14 + "px";
      tip.style.display = "block";
    }
    build();
    window.addEventListener("resize", () => plot && plot.setSize({ width: Math.max(320, box.clientWidth - 4), height: spec.height || 300 }));
    return box;
  }

  // several point sets on one x axis: returns {x, series (y/lo/hi aligned with nulls), at(i) -> [[series, item]]}
  function align(sets) {
    const xs = Array.from(new Set([].concat(...sets.map((s) => s.items.map((it) => it.x))))).filter((x) => num(x) !== null);
    xs.sort((a, b) => a - b);
    const index = new Map(xs.map((x, i) => [x, i]));
    const byIndex = xs.map(() => []);
    const series = sets.map((s) => {
      const y = xs.map(() => null), lo = xs.map(() => null), hi = xs.map(() => null);
      s.items.forEach((it) => {
        const i = index.get(it.x);
        if (i === undefined) return;
        y[i] = it.y;
        lo[i] = it.lo ?? null;
        hi[i] = it.hi ?? null;
        byIndex[i].push([s, it]);
      });
      return { label: s.label, color: s.color, line: s.line, y: y, lo: s.whiskers ? lo : null, hi: s.whiskers ? hi : null };
    });
    return { x: xs, series: series, at: (i) => byIndex[i] || [] };
  }

  // ---------------------------------------------------------------------------------------------- pages
  function runChoices(runs, current, onchange, label) {
    const opts = runs.map((r) => [r.run_id, r.run_id + " · " + (r.name || r.kind) + " · " + when(r.created_unix_s) + " · " + r.machine]);
    return select(label || "run", "run", opts, current, onchange);
  }

  async function leaderboardPage() {
    const d = await getJSON(apiUrl("/api/leaderboard"));
    if (!d.run) return [message(d.message || "No bench run.", "warnbox")];
    const p = params();
    const out = [staleNote(d.stale)];
    out.push(h("div", { class: "controls" }, runChoices(d.runs, d.run.run_id, (v) => setParams({ run: v, task: null, offset: null }))));
    out.push(
      h("p", { class: "muted" }, "run ", runLink(d.run.run_id), " · ", d.run.status, " · ", when(d.run.created_unix_s), " · machine: ", d.machine ? d.machine.label : NA)
    );
    out.push(
      h(
        "div",
        { class: "tabs", role: "tablist" },
        d.tasks.map((t) =>
          h("button", { class: t.task === d.task ? "active" : null, "data-task": t.task, onclick: () => setParams({ task: t.task, offset: null }) }, t.task + " (" + t.ok + "/" + t.rows + ")")
        )
      )
    );
    const any = [["", "any"]];
    const filters = [
      ["device", "device", d.choices.device],
      ["precision", "precision", d.choices.precision],
      ["batch", "batch", d.choices.batch],
      ["engine", "engine", d.choices.engine],
      ["status", "status", d.choices.status],
    ];
    out.push(
      h(
        "div",
        { class: "controls filters" },
        filters.map(([label, key, values]) =>
          select(label, key, any.concat(values.map((v) => [v, String(v)])), p.get(key) || "", (v) => setParams({ [key]: v, offset: null }))
        )
      )
    );
    const m = d.method || {};
    const loc = m.location ? m.location.name + " (" + (m.location.year || "?") + ", " + (m.location.basis || "?") + (m.location.stated_default ? ", stated default" : "") + ")" : NA;
    out.push(
      h(
        "div",
        { class: "box" },
        dl([
          ["boundary", (m.boundaries || []).join("; ") || NA],
          ["J/query basis", (m.energy_bases || []).join(", ") || NA],
          ["energy source", (m.sources || []).join(", ") || NA],
          ["CO2e grid", loc],
          ["rating", d.rating_rule || NA],
        ]),
        d.rating_lines.map((l) => h("div", { class: "note" }, l))
      )
    );
    if (d.message) out.push(message(d.message, "warnbox"));
    const pts = d.points;
    const xs = pts.rank; // each point's row number in the table: the chart's x ticks are the table's ranks
    const holder = h("div");
    out.push(holder);
    out.push(
      table(
        [
          { label: "#", num: true, cell: (r, i) => d.offset + i + 1 },
          { label: "model", cell: (r) => h("span", null, r.model, h("div", { class: "note" }, r.params ? si(r.params) + " params" : "")) },
          { label: "config", cell: (r) => cfg(r.config) },
          { label: "weights", cell: (r) => r.weights || NA },
          { label: "status", cell: statusCell },
          { label: "J/query", num: true, title: "mean over the repeats, with its interval [low – high]", cell: (r) => h("span", null, joules(r.j_per_query), h("div", { class: "note" }, span(r.j_per_query_low, r.j_per_query_high))) },
          { label: "Wh/1k", num: true, cell: (r) => sig(r.wh_per_1000, 3) },
          { label: "rating", cell: (r) => r.rating ? h("span", { class: "stars", title: r.rating_text || "" }, stars(r.rating)) : h("span", { class: "muted", title: r.rating_text || "" }, NA) },
          { label: "quality", num: true, title: "the task's metric, on n held-out inputs", cell: (r) => (num(r.quality) === null ? NA : h("span", null, sig(r.quality, 3), h("div", { class: "note" }, (r.quality_metric || "") + (r.inputs ? ", n=" + r.inputs : "")))) },
          { label: "p95 ms", num: true, cell: (r) => sig(r.p95_ms, 3) },
          { label: "tier", cell: (r) => (r.tier ? r.tier.label || r.tier.key : NA) },
          { label: "source", cell: (r) => r.source || NA },
        ],
        d.rows,
        (r) => r.status
      )
    );
    out.push(pager(d.total, d.offset, d.limit));
    return [out, () =>
      chart(holder, "leaderboard", {
        title: "J per query of " + d.task + " by rank in the table (ok cheapest first, then invalid), with intervals",
        x: xs,
        series: [
          { label: "ok", y: pts.j_per_query.map((v, i) => (pts.status[i] === "ok" ? v : null)), lo: pts.j_per_query_low, hi: pts.j_per_query_high },
          { label: "invalid", color: "#e67700", y: pts.j_per_query.map((v, i) => (pts.status[i] === "ok" ? null : v)), lo: pts.j_per_query_low, hi: pts.j_per_query_high },
        ],
        xLabel: "rank",
        categorical: true,
        yLabel: "J per query",
        logY: true,
        yFmt: joules,
        xFmt: (v) => String(v),
        tip: (i) => ["#" + pts.rank[i] + " " + pts.label[i], "J/query " + joules(pts.j_per_query[i]) + " " + span(pts.j_per_query_low[i], pts.j_per_query_high[i]), "quality " + sig(pts.quality[i]) + " · p95 " + sig(pts.p95_ms[i]) + " ms · " + pts.status[i]],
      })];
  }

  async function runsPage() {
    const d = await getJSON(apiUrl("/api/runs"));
    const kinds = Object.entries(d.kinds).map(([k, n]) => k + ": " + n).join(" · ");
    if (!d.runs.length) return [message("This store holds no runs yet.", "warnbox")];
    return [[
      h("p", { class: "muted" }, kinds),
      table(
        [
          { label: "run", cell: (r) => runLink(r.run_id) },
          { label: "kind", cell: (r) => r.kind },
          { label: "name", cell: (r) => r.name },
          { label: "status", cell: (r) => r.status },
          { label: "machine", cell: (r) => r.machine },
          { label: "created", cell: (r) => when(r.created_unix_s) },
          { label: "cells", num: true, cell: (r) => (r.cells == null ? NA : r.cells) },
        ],
        d.runs
      ),
    ]];
  }

  async function runPage() {
    const p = params();
    const d = await getJSON(apiUrl("/api/run"));
    const r = d.run;
    const counts = Object.entries(d.counts).map(([k, n]) => k + " " + n).join(" · ") || "none";
    const out = [
      staleNote(d.stale),
      dl([
        ["run", r.run_id],
        ["kind", r.kind],
        ["name", d.run.config && d.run.config.suite ? d.run.config.suite.name : r.config.model || ""],
        ["status", r.status],
        ["created", when(r.created_unix_s)],
        ["updated", when(r.updated_unix_s)],
        ["machine", d.machine.label],
        ["cells", counts],
      ]),
    ];
    if (r.kind === "bench") {
      const t = d.totals;
      out.push(
        h(
          "div",
          { class: "box" },
          "Over the measured query windows of the " + t.cells + " ok cells: gross " + joules(t.gross_j) + " = idle " + joules(t.idle_j) + " + net " + joules(t.net_j) + ". Idle = the baseline power measured before and after each cell × the window time; net = gross − idle."
        )
      );
      out.push(
        h(
          "div",
          { class: "controls" },
          select("status", "status", [["", "any"], ["ok", "ok"], ["invalid", "invalid"], ["failed", "failed"]], p.get("status") || "", (v) => setParams({ status: v, offset: null }))
        )
      );
      const tl = new Set(d.timeline_cells);
      out.push(
        table(
          [
            { label: "task", cell: (x) => x.task },
            { label: "model", cell: (x) => x.model },
            { label: "config", cell: (x) => cfg(x.config) },
            { label: "status · validity", cell: statusCell },
            { label: "J/query", num: true, cell: (x) => h("span", null, joules(x.j_per_query), h("div", { class: "note" }, span(x.j_per_query_low, x.j_per_query_high) + (x.energy_basis ? " " + x.energy_basis : ""))) },
            { label: "gross", num: true, cell: (x) => joules(x.gross_j) },
            { label: "idle", num: true, cell: (x) => joules(x.idle_j) },
            { label: "net", num: true, cell: (x) => joules(x.net_j) },
            { label: "source", cell: (x) => x.source || NA },
            { label: "timeline", cell: (x) => (tl.has(x.cell_key) ? h("button", { onclick: () => setParams({ cell: x.cell_key }) }, "show") : "") },
          ],
          d.rows,
          (x) => x.status
        )
      );
      out.push(pager(d.total, d.offset, d.limit));
    } else if (d.entry) {
      const e = d.entry;
      out.push(h("div", { class: "box" }, dl([["energy", joules(e.energy_j) + " " + span(e.low_j, e.high_j)], ["CO2e", grams(e.co2e_g)], ["source", e.source || NA], ["duration", sig(e.duration_s) + " s"], ["note", e.note || ""]])));
    }
    const holder = h("div");
    out.push(holder);
    const cell = p.get("cell") || d.timeline_cells[0];
    if (!cell) return [out];
    const tlSel = select("timeline of", "cell", d.timeline_cells.map((k) => [k, k]), cell, (v) => setParams({ cell: v }));
    const tdata = await getJSON(apiUrl("/api/timeline", new URLSearchParams({ run: r.run_id, cell: cell })));
    return [out, () => timelineChart(holder, tdata, tlSel)];
  }

  function timelineChart(holder, t, tlSel) {
    add(holder, [h("h2", null, "Raw window timeline"), h("div", { class: "controls" }, tlSel)]);
    const t0 = t.start_unix_s || 0;
    const groups = {};
    t.windows.forEach((w, i) => {
      const phase = w.phase.startsWith("idle") ? "idle baseline" : w.phase;
      (groups[phase] = groups[phase] || []).push({ w: w, i: i });
    });
    const sets = Object.entries(groups).map(([phase, items], k) => ({
      label: phase + " (W)",
      color: PALETTE[k % PALETTE.length],
      whiskers: true,
      items: items
        .filter((it) => num(it.w.start_unix_s) !== null && it.w.duration_s > 0)
        .map((it) => ({
          x: it.w.start_unix_s - t0,
          y: num(it.w.energy_j) === null ? null : it.w.energy_j / it.w.duration_s,
          lo: num(it.w.low_j) === null ? null : it.w.low_j / it.w.duration_s,
          hi: num(it.w.high_j) === null ? null : it.w.high_j / it.w.duration_s,
          w: it.w,
        })),
    }));
    const a = align(sets);
    const chartHolder = h("div");
    holder.appendChild(chartHolder);
    chart(chartHolder, "timeline", {
      title: "Mean power of each window (energy / duration) over time, with the meter's interval",
      x: a.x,
      series: a.series,
      xLabel: "seconds since the first window",
      yLabel: "W",
      logY: false,
      tip: (i) =>
        a.at(i).map(([s, it]) => it.w.name + " #" + it.w.repeat + ": " + sig(it.w.duration_s) + " s, " + joules(it.w.energy_j) + " " + span(it.w.low_j, it.w.high_j) + (it.w.queries ? ", " + it.w.queries + " queries" : "") + " · " + it.w.source),
    });
    add(
      holder,
      table(
        [
          { label: "window", cell: (w) => w.name },
          { label: "repeat", num: true, cell: (w) => w.repeat },
          { label: "start s", num: true, cell: (w) => sig((w.start_unix_s || t0) - t0, 4) },
          { label: "duration s", num: true, cell: (w) => sig(w.duration_s, 4) },
          { label: "queries", num: true, cell: (w) => (w.queries == null ? "" : w.queries) },
          { label: "energy", num: true, cell: (w) => joules(w.energy_j) },
          { label: "interval", cell: (w) => span(w.low_j, w.high_j) },
          { label: "idle", num: true, cell: (w) => joules(w.idle_j) },
          { label: "net", num: true, cell: (w) => joules(w.net_j) },
          { label: "components", cell: (w) => (w.components || []).map((c) => c.domain + " " + (c.energy_j != null ? joules(c.energy_j) : c.power_w != null ? sig(c.power_w) + " W" : NA)).join(", ") },
          { label: "source", cell: (w) => w.source },
        ],
        t.windows
      )
    );
  }

  async function comparePage() {
    const p = params();
    const d = await getJSON(apiUrl("/api/compare"));
    const out = [staleNote(d.stale)];
    const modeSel = select("compare", "mode", [["runs", "two runs"], ["machines", "two machines"]], d.mode, (v) =>
      setParams(v === "machines" ? { a: null, b: null, machine_a: d.machines[0] ? d.machines[0].key : null, machine_b: d.machines[1] ? d.machines[1].key : d.machines[0] ? d.machines[0].key : null } : { machine_a: null, machine_b: null })
    );
    let sides;
    if (d.mode === "machines") {
      const opts = d.machines.map((m) => [m.key, m.label + " (" + m.runs + " runs)"]);
      sides = [select("machine A", "machine_a", opts, d.a, (v) => setParams({ machine_a: v, offset: null })), select("machine B", "machine_b", opts, d.b, (v) => setParams({ machine_b: v, offset: null }))];
    } else {
      sides = [runChoices(d.runs, d.a, (v) => setParams({ a: v, offset: null }), "run A"), runChoices(d.runs, d.b, (v) => setParams({ b: v, offset: null }), "run B")];
    }
    const taskSel = select("task", "task", [["", "all tasks"]].concat(d.tasks.map((t) => [t, t])), p.get("task") || "", (v) => setParams({ task: v, offset: null }));
    out.push(h("div", { class: "controls" }, modeSel, sides, taskSel));
    if (d.message) out.push(message(d.message, "warnbox"));
    const c = d.comparison;
    if (!c) return [out];
    const counts = Object.entries(c.counts || {}).map(([k, n]) => k + ": " + n).join(" · ");
    out.push(
      h(
        "div",
        { class: "box" },
        dl([
          ["A", c.label_a + (c.machine_a ? " · " + c.machine_a.label : "")],
          ["B", c.label_b + (c.machine_b ? " · " + c.machine_b.label : "")],
          ["B / A (geometric mean)", ratio(c.geomean_ratio) + " over " + c.matched + " matched pairs"],
          ["verdicts", counts],
        ]),
        c.notes.map((n) => h("div", { class: "note" }, n))
      )
    );
    const pts = d.points; // every pair measured on both sides (the table shows one page of all the pairs)
    const holder = h("div");
    out.push(holder);
    out.push(
      table(
        [
          { label: "#", num: true, cell: (x, i) => d.offset + i + 1 },
          { label: "task", cell: (x) => x.task },
          { label: "model", cell: (x) => x.model },
          { label: "config", cell: (x) => cfg(x.config) },
          { label: "A J/query", num: true, cell: (x) => (x.a ? h("span", null, joules(x.a.j_per_query), h("div", { class: "note" }, span(x.a.j_per_query_low, x.a.j_per_query_high) + " " + x.a.status)) : "—") },
          { label: "B J/query", num: true, cell: (x) => (x.b ? h("span", null, joules(x.b.j_per_query), h("div", { class: "note" }, span(x.b.j_per_query_low, x.b.j_per_query_high) + " " + x.b.status)) : "—") },
          { label: "B / A", num: true, cell: (x) => h("span", null, ratio(x.ratio), h("div", { class: "note" }, num(x.ratio_low) === null ? "" : "[" + sig(x.ratio_low) + " – " + sig(x.ratio_high) + "]")) },
          { label: "intervals overlap", cell: (x) => (x.overlap === null || x.overlap === undefined ? NA : x.overlap ? "yes" : "no") },
          { label: "verdict", cell: (x) => x.verdict },
        ],
        c.pairs
      )
    );
    out.push(pager(d.total, d.offset, d.limit));
    return [out, () =>
      chart(holder, "compare", {
        title: "J per query, A and B, for the " + pts.rank.length + " pairs measured on both sides (x: the pair's row in the table)",
        x: pts.rank,
        series: [
          { label: "A", y: pts.a_j_per_query, lo: pts.a_j_per_query_low, hi: pts.a_j_per_query_high },
          { label: "B", y: pts.b_j_per_query, lo: pts.b_j_per_query_low, hi: pts.b_j_per_query_high },
        ],
        xLabel: "pair",
        categorical: true,
        yLabel: "J per query",
        logY: true,
        yFmt: joules,
        xFmt: (v) => String(v),
        tip: (i) => ["#" + pts.rank[i] + " " + pts.label[i], "A " + joules(pts.a_j_per_query[i]) + " · B " + joules(pts.b_j_per_query[i]), "B/A " + ratio(pts.ratio[i]) + " · " + pts.verdict[i]],
      })];
  }

  function pointSets(res, metric) {
    const mk = (label, list, color, line) => ({
      label: label,
      color: color,
      line: line,
      whiskers: true,
      items: (list || []).filter((pt) => num(pt.j_per_query) !== null && pt.j_per_query > 0).map((pt) => ({ x: pt.j_per_query, y: num(pt[metric]), lo: null, hi: null, pt: pt })),
    });
    return [
      mk("trials", res.trials, "#adb5bd"),
      mk("rejected", res.rejected, "#c92a2a"),
      mk("Pareto front", res.pareto, "#1f6f43", true),
      mk("baseline", res.baseline ? [res.baseline] : [], "#1c7ed6"),
      mk("recommended", res.recommended ? [res.recommended] : [], "#e67700"),
    ];
  }

  async function optimizePage() {
    const d = await getJSON(apiUrl("/api/optimize"));
    const out = [];
    if (d.runs.length) out.push(h("div", { class: "controls" }, runChoices(d.runs, d.run && d.run.run_id, (v) => setParams({ run: v }))));
    if (d.message) out.push(message(d.message, "warnbox"));
    if (d.generation) return generationOptimize(d.generation, out);
    const res = d.result;
    if (!res) return [out];
    const b = res.baseline || {}, rec = res.recommended || {};
    const c = res.constraints || {};
    out.push(
      h(
        "div",
        { class: "box" },
        dl([
          ["model", res.model + " · " + res.task + " · " + res.mode],
          ["baseline", (b.label || cfg(b.config)) + ": " + joules(b.j_per_query) + "/query, quality " + sig(b.quality, 4) + ", p95 " + sig(b.p95_ms) + " ms"],
          ["recommended", (rec.label || cfg(rec.config)) + ": " + joules(rec.j_per_query) + "/query, quality " + sig(rec.quality, 4) + ", p95 " + sig(rec.p95_ms) + " ms"],
          ["saving", ratio(res.saving_factor) + " less energy per query"],
          ["constraints", [num(c.min_quality) !== null ? "quality ≥ " + sig(c.min_quality) : null, num(c.max_p95_ms) !== null ? "p95 ≤ " + sig(c.max_p95_ms) + " ms" : null, num(c.max_rss_mb) !== null ? "RSS ≤ " + sig(c.max_rss_mb) + " MB" : null].filter((x) => x).join(" · ") || "none"],
          ["search", (res.search.trials || 0) + " trials, " + joules(res.search.energy_j) + " metered" + (res.payback_queries ? ", paid back after " + sig(res.payback_queries) + " queries" : "")],
        ])
      )
    );
    const grid = h("div", { class: "grid2" });
    out.push(grid);
    const hc = (pt, k) => (pt.hidden_costs ? pt.hidden_costs[k] : null);
    out.push(h("h2", null, "Pareto front and the hidden cost of each point"));
    out.push(
      table(
        [
          { label: "configuration", cell: (pt) => pt.label || cfg(pt.config) },
          { label: "J/query", num: true, cell: (pt) => h("span", null, joules(pt.j_per_query), h("div", { class: "note" }, span(pt.j_per_query_low, pt.j_per_query_high))) },
          { label: "quality (Δ)", num: true, cell: (pt) => sig(pt.quality, 4) + " (" + (num(hc(pt, "quality_delta")) === null ? NA : (hc(pt, "quality_delta") >= 0 ? "+" : "") + sig(hc(pt, "quality_delta"), 3)) + ")" },
          { label: "p50 ms", num: true, cell: (pt) => sig(pt.p50_ms) },
          { label: "p95 ms (× base)", num: true, cell: (pt) => sig(pt.p95_ms) + " (" + ratio(hc(pt, "p95_ratio")) + ")" },
          { label: "throughput (× base)", num: true, cell: (pt) => sig(pt.throughput_qps) + "/s (" + ratio(hc(pt, "throughput_ratio")) + ")" },
          { label: "peak RSS MB (× base)", num: true, cell: (pt) => sig(pt.peak_rss_mb) + " (" + ratio(hc(pt, "peak_rss_ratio")) + ")" },
          { label: "model MB (× base)", num: true, cell: (pt) => sig(pt.model_size_mb) + " (" + ratio(hc(pt, "model_size_ratio")) + ")" },
          { label: "violation", cell: (pt) => pt.violation || "" },
        ],
        res.pareto || []
      )
    );
    if ((res.rejected || []).length) {
      out.push(h("h2", null, "Rejected"));
      out.push(table([{ label: "configuration", cell: (r) => r.label || cfg(r.config) }, { label: "why", cell: (r) => r.why }, { label: "J/query", num: true, cell: (r) => joules(r.j_per_query) }, { label: "quality", num: true, cell: (r) => sig(r.quality, 4) }, { label: "p95 ms", num: true, cell: (r) => sig(r.p95_ms) }], res.rejected));
    }
    return [out, () => {
      for (const [name, metric, label] of [["pareto-quality", "quality", "quality"], ["pareto-latency", "p95_ms", "p95 ms"]]) {
        const a = align(pointSets(res, metric));
        const cell = h("div");
        grid.appendChild(cell);
        chart(cell, name, {
          title: "Energy × " + label + " (log energy axis)",
          x: a.x,
          series: a.series,
          xLabel: "J per query",
          yLabel: label,
          logX: true,
          xFmt: joules,
          tip: (i) => a.at(i).map(([s, it]) => s.label + ": " + (it.pt.label || cfg(it.pt.config)) + " · " + joules(it.pt.j_per_query) + " · quality " + sig(it.pt.quality, 4) + " · p95 " + sig(it.pt.p95_ms) + " ms" + (it.pt.why ? " · " + it.pt.why : "")),
        });
      }
    }];
  }

  // a text-generation optimize run: J/token x token agreement x latency, and what each point costs besides energy
  function genSets(g, metric) {
    const mk = (label, list, color, line) => ({
      label: label,
      color: color,
      line: line,
      whiskers: true,
      items: list.filter((pt) => num(pt.j_per_token) !== null && pt.j_per_token > 0).map((pt) => ({ x: pt.j_per_token, y: num(pt[metric]), lo: metric === "agreement" ? pt.agreement_low : null, hi: metric === "agreement" ? pt.agreement_high : null, pt: pt })),
    });
    const has = (pt, role) => (pt.roles || []).includes(role);
    return [
      mk("probes", g.points.filter((pt) => pt.fidelity !== "full"), "#adb5bd"),
      mk("full trials", g.points.filter((pt) => pt.fidelity === "full" && !pt.on_front), "#868e96"),
      mk("Pareto front", g.pareto, "#1f6f43", true),
      mk("baseline", g.points.filter((pt) => has(pt, "baseline")), "#1c7ed6"),
      mk("recommended", g.points.filter((pt) => has(pt, "recommended")), "#e67700"),
    ];
  }

  function genPointLine(t) {
    if (!t) return NA;
    return t.label + ": " + joules(t.j_per_token) + "/token " + span(t.j_per_token_low, t.j_per_token_high) + ", TTFT p95 " + sig(t.ttft_p95_ms) + " ms, ITL p95 " + sig(t.itl_p95_ms) + " ms, " + sig(t.tokens_per_s) + " tokens/s";
  }

  function generationOptimize(g, out) {
    const r = g.result;
    const q = r.recommended_quality;
    const gate = r.quality_metric + (r.quality_metric === "token_agreement" ? " ≥ " : " ≤ ") + sig(r.min_quality, 4);
    out.push(
      h(
        "div",
        { class: "box" },
        dl([
          ["model", r.model + " · text-generation · " + r.mode + " · " + r.decoding + ", " + r.max_new_tokens + " new tokens · weights " + (r.weights || NA)],
          ["baseline", genPointLine(r.baseline)],
          ["recommended", genPointLine(r.recommended)],
          ["saving", ratio(r.saving_factor_j_per_token) + " less energy per token " + span(r.saving_factor_low, r.saving_factor_high, (x) => ratio(x)) + " on this hardware"],
          ["quality", (q ? "token agreement " + sig(q.token_agreement, 4) + " " + span(q.token_agreement_low, q.token_agreement_high, (x) => sig(x, 4)) + ", mean KL " + sig(q.kl_mean_nats) + " nats, n=" + q.n_prompts + " prompts · " : "") + "gate " + gate],
          ["search", r.trials.length + " trials, " + joules(r.search_energy_j) + " metered, " + sig(r.search_duration_s) + " s"],
          ["hardware", (r.hardware.cpu_model || NA) + (r.hardware.note ? " — " + r.hardware.note : "")],
        ])
      )
    );
    const grid = h("div", { class: "grid2" });
    out.push(grid);
    const hc = (pt, k) => (pt.hidden_costs ? pt.hidden_costs[k] : null);
    const delta = (x) => (num(x) === null ? NA : (x >= 0 ? "+" : "") + sig(x, 3));
    out.push(h("h2", null, "Pareto front and the hidden cost of each point"));
    out.push(h("p", { class: "note" }, g.front_rule));
    const columns = [
      { label: "configuration", cell: (pt) => pt.label + ((pt.roles || []).length ? " (" + pt.roles.join(", ") + ")" : "") },
      { label: "J/token", num: true, cell: (pt) => h("span", null, joules(pt.j_per_token), h("div", { class: "note" }, span(pt.j_per_token_low, pt.j_per_token_high))) },
      { label: "token agreement (Δ)", num: true, cell: (pt) => sig(pt.agreement, 4) + " (" + delta(hc(pt, "agreement_delta")) + ")" },
      { label: "KL nats", num: true, cell: (pt) => sig(pt.kl_mean_nats) },
      { label: "TTFT p95 ms (× base)", num: true, cell: (pt) => sig(pt.ttft_p95_ms) + " (" + ratio(hc(pt, "ttft_p95_ratio")) + ")" },
      { label: "ITL p95 ms (× base)", num: true, cell: (pt) => sig(pt.itl_p95_ms) + " (" + ratio(hc(pt, "itl_p95_ratio")) + ")" },
      { label: "query p95 ms (× base)", num: true, cell: (pt) => sig(pt.query_p95_ms) + " (" + ratio(hc(pt, "query_p95_ratio")) + ")" },
      { label: "tokens/s (× base)", num: true, cell: (pt) => sig(pt.tokens_per_s) + " (" + ratio(hc(pt, "tokens_per_s_ratio")) + ")" },
      { label: "peak RSS MB (× base)", num: true, cell: (pt) => sig(pt.peak_rss_mb) + " (" + ratio(hc(pt, "peak_rss_ratio")) + ")" },
    ];
    out.push(table(columns, g.pareto));
    out.push(h("h2", null, "Every configuration measured"));
    out.push(table([{ label: "fidelity", cell: (pt) => pt.fidelity + (pt.on_front ? " · front" : "") }].concat(columns), g.points));
    if ((r.explain || []).length) {
      out.push(h("h2", null, "Why each transform won or lost here"));
      out.push(table([{ label: "transform", cell: (v) => v.transform }, { label: "verdict", cell: (v) => v.verdict }, { label: "vs baseline", num: true, cell: (v) => ratio(v.factor_vs_baseline) }, { label: "why", cell: (v) => v.why }], r.explain));
    }
    if ((r.rejected || []).length) {
      out.push(h("h2", null, "Rejected"));
      out.push(h("ul", null, r.rejected.map((x) => h("li", null, x))));
    }
    return [out, () => {
      for (const [name, metric, label, fmt] of [["gen-agreement", "agreement", "token agreement", (v) => sig(v, 4)], ["gen-latency", "query_p95_ms", "query p95 ms", (v) => sig(v)]]) {
        const a = align(genSets(g, metric));
        const cell = h("div");
        grid.appendChild(cell);
        chart(cell, name, {
          title: "Energy per token × " + label + " (log energy axis)",
          x: a.x,
          series: a.series,
          xLabel: "J per token",
          yLabel: label,
          logX: true,
          xFmt: joules,
          yFmt: fmt,
          tip: (i) => a.at(i).map(([s, it]) => s.label + ": " + it.pt.label + " · " + joules(it.pt.j_per_token) + "/token · agreement " + sig(it.pt.agreement, 4) + " · query p95 " + sig(it.pt.query_p95_ms) + " ms"),
        });
      }
    }];
  }

  async function analyzePage() {
    const d = await getJSON(apiUrl("/api/analyze"));
    const out = [];
    if (d.runs.length) out.push(h("div", { class: "controls" }, runChoices(d.runs, d.run && d.run.run_id, (v) => setParams({ run: v }))));
    if (d.message) out.push(message(d.message, "warnbox"));
    const a = d.analysis;
    if (!a) return [out];
    const e = a.energy_j || {};
    const shape = a.phase === "decode" || a.phase === "generate" ? "prompt " + a.prompt + " + " + a.new_tokens + " new tokens" : "seq " + a.seq;
    out.push(
      h(
        "div",
        { class: "box" },
        dl([
          ["model", a.model + " — " + a.description],
          ["workload", a.phase + " · batch " + a.batch + " · " + shape + " · " + a.dtype + (a.tensor_parallel > 1 ? " · TP " + a.tensor_parallel : "")],
          ["hardware", a.hardware + (a.hardware_calibrated ? " (calibrated on this machine)" : " (profile)")],
          ["energy (modelled)", joules(e.mid) + " [" + joules(e.low) + " – " + joules(e.high) + "]"],
          ["time (modelled)", a.time_s ? sig(a.time_s.mid) + " s [" + sig(a.time_s.low) + " – " + sig(a.time_s.high) + "]" : NA],
          ["per output token", a.energy_j_per_output_token ? joules(a.energy_j_per_output_token.mid) : NA],
          ["work", si(a.flops, "FLOP") + ", " + si(a.bytes_low, "B") + " – " + si(a.bytes_high, "B") + " DRAM traffic"],
        ])
      )
    );
    const grid = h("div", { class: "grid2" });
    out.push(grid);
    const roles = a.roles || [];
    const total = num(e.mid) || 1;
    out.push(h("h2", null, "By role"));
    out.push(
      table(
        [
          { label: "role", cell: (r) => r.role },
          { label: "ops", num: true, cell: (r) => r.ops },
          { label: "FLOPs", num: true, cell: (r) => si(r.flops) },
          { label: "DRAM bytes", num: true, cell: (r) => si(r.bytes_low, "B") + " – " + si(r.bytes_high, "B") },
          { label: "bound", cell: (r) => r.bound },
          { label: "energy (mid)", num: true, cell: (r) => (r.energy_j ? joules(r.energy_j.mid) : NA) },
          { label: "range", cell: (r) => (r.energy_j ? span(r.energy_j.low, r.energy_j.high) : "") },
          { label: "share", num: true, cell: (r) => (r.energy_j ? pct(r.energy_j.mid / total) : NA) },
        ],
        roles
      )
    );
    out.push(h("h2", null, "Levers (what-ifs, by energy saved)"));
    out.push(
      table(
        [
          { label: "lever", cell: (l) => l.lever },
          { label: "role", cell: (l) => l.role },
          { label: "saves", num: true, cell: (l) => pct(l.saving_fraction) },
          { label: "energy after", num: true, cell: (l) => h("span", null, joules(l.energy_j_after), h("div", { class: "note" }, span(l.energy_j_after_range.low, l.energy_j_after_range.high))) },
          { label: "price", cell: (l) => h("span", null, h("div", null, "quality: " + l.price.quality), h("div", null, "latency: " + l.price.latency), h("div", null, "memory: " + l.price.memory)) },
          { label: "method", cell: (l) => h("span", { class: "note" }, l.method) },
          { label: "published", cell: (l) => h("span", { class: "note" }, l.published || "") },
        ],
        (a.levers || []).slice().sort((x, y) => y.saving_fraction - x.saving_fraction)
      )
    );
    if ((a.unsupported_ops || []).length) out.push(message("Ops without a formula (listed, not counted as 0): " + a.unsupported_ops.join(", "), "warnbox"));
    out.push(h("h2", null, "Assumptions"), h("ul", null, (a.assumptions || []).map((s) => h("li", { class: "note" }, s))));
    return [out, () => {
      const c1 = h("div"), c2 = h("div");
      grid.appendChild(c1);
      grid.appendChild(c2);
      chart(c1, "roles", {
        title: "Energy by computational role (mid, with low – high)",
        x: roles.map((_, i) => i),
        xNames: roles.map((r) => r.role),
        series: [{ label: "energy", y: roles.map((r) => (r.energy_j ? r.energy_j.mid : null)), lo: roles.map((r) => (r.energy_j ? r.energy_j.low : null)), hi: roles.map((r) => (r.energy_j ? r.energy_j.high : null)), bars: true }],
        xLabel: "role",
        yLabel: "J",
        logY: false,
        yFmt: joules,
        tip: (i) => [roles[i].role, joules(roles[i].energy_j && roles[i].energy_j.mid) + " " + (roles[i].energy_j ? span(roles[i].energy_j.low, roles[i].energy_j.high) : ""), roles[i].bound + "-bound"],
      });
      const levels = Object.entries(a.energy_by_level_j_mid || {});
      chart(c2, "levels", {
        title: "Energy by memory level and kind (mid estimate)",
        x: levels.map((_, i) => i),
        xNames: levels.map(([k]) => k),
        series: [{ label: "energy", y: levels.map(([, v]) => v), bars: true, color: "#1c7ed6" }],
        xLabel: "level",
        yLabel: "J",
        logY: false,
        yFmt: joules,
        tip: (i) => [levels[i][0], joules(levels[i][1]) + " (" + pct(levels[i][1] / total) + ")"],
      });
    }];
  }

  async function historyPage() {
    const p = params();
    const d = await getJSON(apiUrl("/api/history"));
    const out = [];
    out.push(h("div", { class: "controls" }, select("tag", "tag", [["", "all tags"]].concat(d.tags.map((t) => [t, t])), p.get("tag") || "", (v) => setParams({ tag: v }))));
    out.push(h("p", { class: "muted" }, d.measurements.length + " measure records · " + joules(d.total_energy_j) + " · " + grams(d.total_co2e_g) + " CO2e in all"));
    const holder = h("div", { class: "grid2" });
    out.push(holder);
    if (!d.measurements.length) out.push(message("No `wattlens measure --db` record in this store" + (d.tag ? " with tag " + d.tag : "") + " yet: wattlens measure --db STORE --tag NAME -- COMMAND", "warnbox"));
    out.push(
      table(
        [
          { label: "when", cell: (m) => when(m.start_unix_s || m.created_unix_s) },
          { label: "name", cell: (m) => m.name },
          { label: "tags", cell: (m) => m.tags.map((t) => h("span", { class: "tag" }, t)) },
          { label: "duration s", num: true, cell: (m) => sig(m.duration_s) },
          { label: "energy", num: true, cell: (m) => h("span", null, joules(m.energy_j), h("div", { class: "note" }, span(m.low_j, m.high_j))) },
          { label: "source", cell: (m) => (m.source || NA) + (m.methods.length ? " (" + m.methods.join(", ") + ")" : "") },
          { label: "CO2e", num: true, cell: (m) => h("span", null, grams(m.co2e_g), h("div", { class: "note" }, span(m.co2e_low_g, m.co2e_high_g, grams))) },
          { label: "grid", cell: (m) => (m.location || NA) + (num(m.carbon_intensity_g_per_kwh) !== null ? ", " + sig(m.carbon_intensity_g_per_kwh) + " g/kWh" : "") },
          { label: "PUE", num: true, cell: (m) => sig(m.pue) },
          { label: "exit", num: true, cell: (m) => (m.exit_code == null ? "" : m.exit_code) },
        ],
        d.measurements.slice().reverse()
      )
    );
    if (d.runs.length) {
      out.push(h("h2", null, "Other runs (load tests, training, ...)"));
      out.push(
        table(
          [
            { label: "run", cell: (r) => runLink(r.run_id) },
            { label: "kind", cell: (r) => r.kind },
            { label: "name", cell: (r) => r.name },
            { label: "when", cell: (r) => when(r.created_unix_s) },
            { label: "status", cell: (r) => r.status },
            { label: "energy", num: true, cell: (r) => h("span", null, joules(r.energy_j), h("div", { class: "note" }, span(r.low_j, r.high_j))) },
            { label: "CO2e", num: true, cell: (r) => grams(r.co2e_g) },
            { label: "source", cell: (r) => r.source || NA },
            { label: "note", cell: (r) => r.note },
          ],
          d.runs
        )
      );
    }
    if (!d.measurements.length) return [out];
    const tags = d.tag ? [d.tag] : d.tags;
    const bySeries = (metric, lo, hi) =>
      align(
        tags.map((t, k) => ({
          label: t,
          color: PALETTE[k % PALETTE.length],
          whiskers: true,
          items: d.measurements
            .filter((m) => (m.tags.length ? m.tags : ["(untagged)"]).includes(t))
            .map((m) => ({ x: m.start_unix_s || m.created_unix_s, y: m[metric], lo: m[lo], hi: m[hi], m: m })),
        }))
      );
    return [out, () => {
      const c1 = h("div"), c2 = h("div");
      holder.appendChild(c1);
      holder.appendChild(c2);
      const tipOf = (a) => (i) => a.at(i).map(([s, it]) => s.label + ": " + it.m.name + " · " + joules(it.m.energy_j) + " " + span(it.m.low_j, it.m.high_j) + " · " + grams(it.m.co2e_g) + " CO2e · " + (it.m.source || NA));
      const ae = bySeries("energy_j", "low_j", "high_j");
      chart(c1, "history-energy", { title: "Energy of each measure record, by tag", x: ae.x, series: ae.series, xTime: true, xLabel: "time", yLabel: "J", logY: true, yFmt: joules, tip: tipOf(ae) });
      const ac = bySeries("co2e_g", "co2e_low_g", "co2e_high_g");
      chart(c2, "history-carbon", { title: "Carbon of each measure record (gCO2e), by tag", x: ac.x, series: ac.series, xTime: true, xLabel: "time", yLabel: "gCO2e", logY: true, yFmt: grams, tip: tipOf(ac) });
    }];
  }

  const PAGES = { leaderboard: leaderboardPage, runs: runsPage, run: runPage, compare: comparePage, optimize: optimizePage, analyze: analyzePage, history: historyPage };

  let rendering = 0;
  async function render() {
    const page = PAGES[body.dataset.page];
    if (!page) return;
    const mine = ++rendering;
    clearTimeout(refreshTimer);
    body.dataset.ready = "0";
    W.ready = false;
    W.charts = {};
    try {
      const [nodes, after] = await page();
      if (mine !== rendering) return;
      clear(app);
      add(app, nodes);
      if (after) after();
      delete body.dataset.error;
    } catch (err) {
      if (mine !== rendering) return;
      clear(app);
      add(app, message(String(err.message || err), "errorbox"));
      body.dataset.error = String(err.message || err);
    }
    W.ready = true;
    body.dataset.ready = "1";
  }
  render();
})();
