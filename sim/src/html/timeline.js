// The timeline of one run (sim replay --html; sim/src/html/timeline.rs builds the data this reads).
// Drawn on one canvas, only what the visible time range holds; wheel or buttons zoom, drag pans, hover shows an
// item's text, click keeps it in the detail pane. When the first drawing is done, <body> gets data-render="ok" and
// the counts a headless check compares with the run (data-lanes, data-violation-marks, ...).
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("data").textContent);
  var body = document.body;
  var canvas = document.getElementById("canvas");
  var ctx = canvas.getContext("2d");
  var chart = document.getElementById("chart");
  var tip = document.getElementById("tip");
  var detail = document.getElementById("detail");

  var GUTTER = 64;
  var AXIS = 40;
  var NODE_H = 64;
  var CHECK_H = 44;
  var ROW_H = 14;
  var MAX_ROWS = 8;
  var LANES = D.lanes.length;
  var CHECK = LANES - 1;
  var ROLE = { Leader: "#f2b705", Candidate: "#f57c00", Follower: "#6b9be0", Learner: "#b9a6e3", Shutdown: "#b0b7c0" };
  var CLASS = { safety: "#d32f2f", liveness: "#7b1fa2", availability: "#ef6c00" };
  var KIND = ["#1e88e5", "#43a047", "#8e24aa", "#00897b", "#f4511e", "#6d4c41", "#3949ab", "#9e9d24", "#d81b60", "#546e7a"];

  var show = { kinds: D.kinds.map(function () { return true; }), workload: true, polls: false, links: true, labels: true };
  var view = { t0: 0, t1: D.end * 1.02 };
  var lanes = [];
  var hits = [];
  var selected = null;
  var width = 0;
  var height = 0;
  var pending = false;

  function kindColor(k) { return KIND[k % KIND.length]; }
  function nodeColor(n) { return "hsl(" + ((n * 67) % 360) + ",50%,42%)"; }

  function fmt(us, digits) {
    if (digits === undefined) {
      var span = view.t1 - view.t0;
      digits = span < 20000 ? 4 : span < 2000000 ? 3 : 2;
      if (span < 2000) digits = 6;
    }
    // Truncated, as the trace's stamps are (0.0865 s reads 0.086s, as in the violations' text).
    var unit = Math.pow(10, 6 - digits);
    return (Math.floor(us / unit + 1e-6) * unit / 1e6).toFixed(digits) + "s";
  }
  function dur(us) { return us < 1000 ? us + " µs" : (us / 1000).toFixed(us < 10000 ? 2 : 0) + " ms"; }

  // --- the client lane's rows: overlapping calls (workloads) go one under the other -----------------------------
  function shownCall(c) { return (!c.w || show.workload) && (!c.q || show.polls); }
  function assignRows() {
    var order = [];
    D.calls.forEach(function (c, i) { c.row = -1; if (shownCall(c)) order.push(i); });
    order.sort(function (a, b) { return D.calls[a].s - D.calls[b].s || a - b; });
    var ends = [];
    order.forEach(function (i) {
      var c = D.calls[i];
      var row = -1;
      for (var r = 0; r < ends.length; r++) { if (ends[r] <= c.s) { row = r; break; } }
      if (row < 0 && ends.length < MAX_ROWS) { row = ends.length; ends.push(0); }
      if (row < 0) { row = 0; for (r = 1; r < ends.length; r++) { if (ends[r] < ends[row]) row = r; } }
      ends[row] = Math.max(ends[row], c.e);
      c.row = row;
    });
    return Math.max(1, ends.length);
  }

  function layout() {
    var rows = assignRows();
    lanes = [];
    var y = AXIS;
    for (var i = 0; i < LANES; i++) {
      var h = i === 0 ? 10 + rows * ROW_H : i === CHECK ? CHECK_H : NODE_H;
      lanes.push({ y: y, h: h, mid: i === 0 || i === CHECK ? y + h / 2 : y + 45 });
      y += h;
    }
    height = y + 4;
  }

  function x(t) { return GUTTER + (t - view.t0) / (view.t1 - view.t0) * (width - GUTTER - 8); }
  function tAt(px) { return view.t0 + (px - GUTTER) / (width - GUTTER - 8) * (view.t1 - view.t0); }
  function visible(a, b) { return b >= view.t0 && a <= view.t1; }

  // --- hit boxes of what was drawn, searched last drawn first ----------------------------------------------------
  function hitBox(x0, y0, x1, y1, item) { hits.push({ x0: x0, y0: y0, x1: x1, y1: y1, item: item }); }
  function hitSeg(ax, ay, bx, by, item) { hits.push({ seg: [ax, ay, bx, by], item: item }); }
  function find(px, py) {
    for (var i = hits.length - 1; i >= 0; i--) {
      var h = hits[i];
      if (h.seg) {
        var s = h.seg, dx = s[2] - s[0], dy = s[3] - s[1];
        var len = dx * dx + dy * dy;
        var u = len ? Math.max(0, Math.min(1, ((px - s[0]) * dx + (py - s[1]) * dy) / len)) : 0;
        var ex = s[0] + u * dx - px, ey = s[1] + u * dy - py;
        if (ex * ex + ey * ey <= 16) return h.item;
      } else if (px >= h.x0 - 2 && px <= h.x1 + 2 && py >= h.y0 - 2 && py <= h.y1 + 2) {
        return h.item;
      }
    }
    return null;
  }

  // --- drawing ---------------------------------------------------------------------------------------------------
  function drawAxis() {
    var span = view.t1 - view.t0;
    var target = span / Math.max(2, (width - GUTTER) / 110);
    var step = Math.pow(10, Math.floor(Math.log10(Math.max(target, 1))));
    if (target / step > 5) step *= 5; else if (target / step > 2) step *= 2;
    var digits = Math.max(0, 6 - Math.round(Math.log10(step)));
    ctx.fillStyle = "#5f6b7a";
    ctx.font = "11px sans-serif";
    ctx.textBaseline = "middle";
    ctx.strokeStyle = "#e6e9ee";
    ctx.lineWidth = 1;
    for (var i = Math.ceil(view.t0 / step); i * step <= view.t1; i++) {
      var t = i * step, px = Math.round(x(t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(px, AXIS - 6); ctx.lineTo(px, height); ctx.stroke();
      ctx.fillText(fmt(t, Math.min(6, digits)), px + 3, AXIS - 11);
    }
  }

  function drawLanes() {
    ctx.font = "12px sans-serif";
    ctx.textBaseline = "middle";
    lanes.forEach(function (l, i) {
      ctx.fillStyle = i % 2 ? "#fafbfc" : "#ffffff";
      ctx.fillRect(0, l.y, width, l.h);
      ctx.strokeStyle = "#d5dae1";
      ctx.beginPath(); ctx.moveTo(0, l.y + 0.5); ctx.lineTo(width, l.y + 0.5); ctx.stroke();
    });
  }

  function drawLaneLabels() {
    ctx.font = "bold 12px sans-serif";
    ctx.textBaseline = "middle";
    lanes.forEach(function (l, i) {
      ctx.fillStyle = "#ffffff";
      ctx.fillRect(0, l.y + 1, GUTTER - 4, l.h - 1);
      ctx.fillStyle = i === 0 || i === CHECK ? "#1d2330" : nodeColor(i);
      ctx.fillText(D.lanes[i], 8, l.y + Math.min(l.h / 2, 16));
    });
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, GUTTER - 4, AXIS);
  }

  function drawWindows() {
    D.windows.forEach(function (w) {
      if (!visible(w.s, w.e)) return;
      var a = x(w.s), b = Math.max(x(w.e), a + 2);
      ctx.fillStyle = "rgba(239,108,0,0.10)";
      ctx.fillRect(a, AXIS, b - a, height - AXIS);
      w.nodes.forEach(function (n) {
        var l = lanes[n];
        ctx.fillStyle = "rgba(239,108,0,0.16)";
        ctx.fillRect(a, l.y, b - a, l.h);
      });
      ctx.fillStyle = "rgba(239,108,0,0.28)";
      ctx.fillRect(a, 2, b - a, 13);
      ctx.save(); ctx.beginPath(); ctx.rect(Math.max(a, GUTTER), 0, b - Math.max(a, GUTTER), 16); ctx.clip();
      ctx.fillStyle = "#8a3c00";
      ctx.font = "bold 10.5px sans-serif";
      ctx.textBaseline = "middle";
      ctx.fillText("fault window: " + w.by, Math.max(a, GUTTER) + 8, 9);
      ctx.restore();
      hitBox(a, AXIS, b, height, { type: "window", w: w });
      hitBox(a, 2, b, 15, { type: "window", w: w });
      w.kills.forEach(function (k) {
        if (!visible(k.t, k.t)) return;
        var l = lanes[k.n], kx = x(k.t), ky = l.y + 23;
        ctx.strokeStyle = "#b71c1c"; ctx.lineWidth = 2.5;
        ctx.beginPath(); ctx.moveTo(kx - 5, ky - 5); ctx.lineTo(kx + 5, ky + 5); ctx.moveTo(kx + 5, ky - 5); ctx.lineTo(kx - 5, ky + 5); ctx.stroke();
        ctx.lineWidth = 1;
        hitBox(kx - 6, ky - 6, kx + 6, ky + 6, { type: "kill", k: k });
      });
    });
    D.faults.forEach(function (f) {
      if (!visible(f.t, f.t)) return;
      var fx = x(f.t);
      ctx.fillStyle = "#d84315";
      ctx.beginPath(); ctx.moveTo(fx, 15); ctx.lineTo(fx - 4, 3); ctx.lineTo(fx + 4, 3); ctx.fill();
      hitBox(fx - 5, 2, fx + 5, 16, { type: "text", text: f.x });
    });
  }

  function killCuts(n) {
    return D.faults.filter(function (f) { return /kill|restart/.test(f.x) && f.nodes && f.nodes.indexOf(n) >= 0; })
      .map(function (f) { return f.t; });
  }

  function drawRaft() {
    var byLane = {};
    D.raft.forEach(function (r) { (byLane[r.n] = byLane[r.n] || []).push(r); });
    Object.keys(byLane).forEach(function (key) {
      var n = +key, states = byLane[key], l = lanes[n], cuts = killCuts(n);
      states.forEach(function (r, i) {
        var end = i + 1 < states.length ? states[i + 1].t : D.end;
        cuts.forEach(function (c) { if (c > r.t && c < end) end = c; });
        if (!visible(r.t, end)) return;
        var a = x(r.t), b = Math.max(x(end), a + 1), top = l.y + 17;
        ctx.fillStyle = ROLE[r.role] || "#cfd8dc";
        ctx.fillRect(a, top, b - a, 12);
        var prev = states[i - 1];
        if (prev && prev.term !== r.term) { ctx.fillStyle = "#1d2330"; ctx.fillRect(a, top - 2, 1.5, 16); }
        else if (prev && prev.applied !== r.applied) { ctx.fillStyle = "rgba(255,255,255,0.9)"; ctx.fillRect(a, top, 1, 12); }
        if (show.labels && b - a > 30) {
          var applied = r.applied === "none" ? "-" : r.applied;
          var label = b - a > 130 ? r.role + " t" + r.term + " applied " + applied : r.role.charAt(0) + r.term + " a" + applied;
          ctx.save(); ctx.beginPath(); ctx.rect(a, top, b - a, 12); ctx.clip();
          ctx.fillStyle = "#1d2330"; ctx.font = "10px sans-serif"; ctx.textBaseline = "middle";
          ctx.fillText(label, Math.max(a, GUTTER) + 3, top + 6.5);
          ctx.restore();
        }
        hitBox(a, top, b, top + 12, { type: "raft", r: r, end: end });
      });
    });
  }

  function drawCalls() {
    var many = 0;
    D.calls.forEach(function (c) { if (c.row >= 0 && visible(c.s, c.e)) many++; });
    var links = show.links && many <= 400;
    var client = lanes[0];
    D.calls.forEach(function (c) {
      if (c.row < 0 || !visible(c.s, c.e)) return;
      var a = x(c.s), b = Math.max(x(c.e), a + 2), y = client.y + 5 + c.row * ROW_H, node = lanes[c.n];
      if (links && node) {
        ctx.strokeStyle = c.err ? "rgba(211,47,47,0.55)" : "rgba(84,110,122,0.45)";
        ctx.setLineDash([3, 3]);
        ctx.beginPath(); ctx.moveTo(a, y + 11); ctx.lineTo(a, node.y + 32);
        ctx.moveTo(b, node.y + 32); ctx.lineTo(b, y + 11); ctx.stroke();
        ctx.setLineDash([]);
        ctx.fillStyle = nodeColor(c.n);
        ctx.fillRect(a, node.y + 31, b - a, 3);
        hitBox(a, node.y + 29, b, node.y + 35, { type: "call", c: c });
      }
      ctx.fillStyle = c.err ? "#ef9a9a" : c.q ? "#eceff1" : c.w ? "#dfe5ea" : "#c5d3dc";
      ctx.fillRect(a, y, b - a, 11);
      ctx.fillStyle = nodeColor(c.n);
      ctx.fillRect(a, y, Math.min(3, b - a), 11);
      if (show.labels && b - a > 34) {
        ctx.save(); ctx.beginPath(); ctx.rect(a, y, b - a, 11); ctx.clip();
        ctx.fillStyle = "#1d2330"; ctx.font = "10px sans-serif"; ctx.textBaseline = "middle";
        ctx.fillText(D.lanes[c.n] + "> " + c.c, Math.max(a, GUTTER) + 5, y + 6);
        ctx.restore();
      }
      hitBox(a, y, b, y + 11, { type: "call", c: c });
    });
  }

  function arrowHead(ax, ay, bx, by, color) {
    var ang = Math.atan2(by - ay, bx - ax);
    ctx.fillStyle = color;
    ctx.beginPath();
    ctx.moveTo(bx, by);
    ctx.lineTo(bx - 7 * Math.cos(ang - 0.4), by - 7 * Math.sin(ang - 0.4));
    ctx.lineTo(bx - 7 * Math.cos(ang + 0.4), by - 7 * Math.sin(ang + 0.4));
    ctx.fill();
  }

  function drawMessages() {
    var shown = 0;
    D.msgs.forEach(function (m) { if (show.kinds[m.k] && visible(m.s === null ? m.r : m.s, m.r === null ? m.s : m.r)) shown++; });
    var heads = shown <= 1500;
    ctx.lineWidth = shown > 3000 ? 0.7 : 1.2;
    D.msgs.forEach(function (m) {
      var from = lanes[m.f], to = lanes[m.t], color = kindColor(m.k);
      if (!show.kinds[m.k]) {
        // Folded: a tick on the sender's lane per send.
        if (m.s !== null && visible(m.s, m.s)) {
          ctx.fillStyle = color; ctx.globalAlpha = 0.6;
          ctx.fillRect(x(m.s), from.y + from.h - 6, 1, 5); ctx.globalAlpha = 1;
        }
        return;
      }
      if (m.s !== null && m.r !== null) {
        if (!visible(m.s, m.r)) return;
        var ax = x(m.s), bx = Math.max(x(m.r), ax + 1);
        ctx.strokeStyle = color;
        ctx.beginPath(); ctx.moveTo(ax, from.mid); ctx.lineTo(bx, to.mid); ctx.stroke();
        if (heads) arrowHead(ax, from.mid, bx, to.mid, color);
        hitSeg(ax, from.mid, bx, to.mid, { type: "msg", m: m });
      } else if (m.s !== null) {
        if (!visible(m.s, m.s)) return;
        var sx = x(m.s), ex = sx + 26, ey = from.mid + (to.mid - from.mid) * 0.35;
        ctx.strokeStyle = "#d32f2f";
        ctx.setLineDash([4, 3]);
        ctx.beginPath(); ctx.moveTo(sx, from.mid); ctx.lineTo(ex, ey); ctx.stroke();
        ctx.setLineDash([]);
        ctx.beginPath(); ctx.moveTo(ex - 3, ey - 3); ctx.lineTo(ex + 3, ey + 3); ctx.moveTo(ex + 3, ey - 3); ctx.lineTo(ex - 3, ey + 3); ctx.stroke();
        hitSeg(sx, from.mid, ex, ey, { type: "msg", m: m });
      } else {
        if (!visible(m.r, m.r)) return;
        var rx = x(m.r), qx = rx - 26, qy = to.mid + (from.mid - to.mid) * 0.35;
        ctx.strokeStyle = color;
        ctx.setLineDash([2, 3]);
        ctx.beginPath(); ctx.moveTo(qx, qy); ctx.lineTo(rx, to.mid); ctx.stroke();
        ctx.setLineDash([]);
        if (heads) arrowHead(qx, qy, rx, to.mid, color);
        hitSeg(qx, qy, rx, to.mid, { type: "msg", m: m });
      }
    });
    ctx.lineWidth = 1;
  }

  function drawEvents() {
    D.events.forEach(function (e) {
      if (!visible(e.t, e.t)) return;
      var l = lanes[e.n], ex = x(e.t), ey = e.n === 0 || e.n === CHECK ? l.y + l.h - 8 : l.y + 57;
      ctx.fillStyle = "#455a64";
      ctx.beginPath(); ctx.arc(ex, ey, 2.6, 0, 2 * Math.PI); ctx.fill();
      hitBox(ex - 3, ey - 3, ex + 3, ey + 3, { type: "text", text: e.x });
    });
  }

  // Violations: on the lane of the node they name (the checker's lane when none), in the lane's top row. Marks
  // closer than 12 px on one lane are drawn as one (the worst class's colour, a count when more than one); the
  // checker's lane shows a dot per violation, so a long run's violations stand out when zoomed out.
  var WORST = ["safety", "liveness", "availability"];
  function drawMarks() {
    var byLane = {};
    D.marks.forEach(function (m) {
      if (!visible(m.t, m.t)) return;
      (byLane[m.n] = byLane[m.n] || []).push(m);
    });
    Object.keys(byLane).forEach(function (key) {
      var marks = byLane[key].slice().sort(function (a, b) { return a.t - b.t; }), groups = [];
      marks.forEach(function (m) {
        var g = groups[groups.length - 1], mx = x(m.t);
        if (g && mx - g.x < 12) g.marks.push(m); else groups.push({ x: mx, marks: [m] });
      });
      groups.forEach(function (g, i) { drawMarkGroup(lanes[+key], g, groups[i + 1] ? groups[i + 1].x : width); });
    });
    var check = lanes[CHECK];
    D.marks.forEach(function (m) {
      if (!visible(m.t, m.t)) return;
      var mx = x(m.t);
      ctx.fillStyle = CLASS[m.class] || "#d32f2f";
      ctx.beginPath(); ctx.arc(mx, check.y + 12, 3.5, 0, 2 * Math.PI); ctx.fill();
      hitBox(mx - 4, check.y + 8, mx + 4, check.y + 16, { type: "marks", marks: [m] });
    });
  }

  function drawMarkGroup(l, g, nextX) {
    var worst = WORST.filter(function (c) { return g.marks.some(function (m) { return m.class === c; }); })[0];
    var color = CLASS[worst] || "#d32f2f", mx = g.x, my = l.y + 3;
    ctx.strokeStyle = color; ctx.globalAlpha = 0.4; ctx.setLineDash([2, 4]);
    ctx.beginPath(); ctx.moveTo(Math.round(mx) + 0.5, AXIS); ctx.lineTo(Math.round(mx) + 0.5, height); ctx.stroke();
    ctx.setLineDash([]); ctx.globalAlpha = 1;
    ctx.fillStyle = color;
    ctx.beginPath(); ctx.moveTo(mx, my + 12); ctx.lineTo(mx - 7, my); ctx.lineTo(mx + 7, my); ctx.closePath(); ctx.fill();
    ctx.fillStyle = "#ffffff"; ctx.font = "bold 8px sans-serif"; ctx.textBaseline = "middle"; ctx.textAlign = "center";
    ctx.fillText(g.marks.length > 1 ? String(g.marks.length) : worst.charAt(0).toUpperCase(), mx, my + 4.5);
    ctx.textAlign = "left";
    if (show.labels) {
      var kinds = [];
      g.marks.forEach(function (m) {
        var k = kinds.filter(function (k) { return k.kind === m.kind; })[0];
        if (k) k.n++; else kinds.push({ kind: m.kind, n: 1 });
      });
      var lines = g.marks.map(function (m) { return m.line; }).filter(function (v, i, a) { return a.indexOf(v) === i; });
      var label = kinds.map(function (k) { return k.kind + (k.n > 1 ? " ×" + k.n : ""); }).join(", ") + " · line " + lines.join(",");
      ctx.font = "bold 10.5px sans-serif";
      var room = nextX - mx - 14;
      if (room > 30) {
        ctx.save(); ctx.beginPath(); ctx.rect(mx + 8, my - 1, room, 14); ctx.clip();
        ctx.fillStyle = "rgba(255,255,255,0.85)";
        ctx.fillRect(mx + 8, my, Math.min(room, ctx.measureText(label).width + 4), 12);
        ctx.fillStyle = color;
        ctx.fillText(label, mx + 10, my + 6.5);
        ctx.restore();
      }
    }
    hitBox(mx - 8, my, mx + 8, my + 12, { type: "marks", marks: g.marks });
  }

  // A selected violation: the calls it concerns outlined in its class's colour and, for a stale read or a lost
  // write, a bracket over the chart from the write's OK to the read that missed it.
  function drawRelated(marks) {
    var client = lanes[0];
    marks.forEach(function (m) {
      var color = CLASS[m.class] || "#d32f2f";
      ctx.strokeStyle = color;
      ctx.lineWidth = 2;
      m.calls.forEach(function (i) {
        var c = D.calls[i];
        if (c.row < 0 || !visible(c.s, c.e)) return;
        var a = x(c.s), b = Math.max(x(c.e), a + 2);
        ctx.strokeRect(a - 1, client.y + 4 + c.row * ROW_H, b - a + 2, 13);
      });
      ctx.lineWidth = 1;
      if (m.ack === null || m.calls.length < 2) return;
      var read = D.calls[m.calls[0]], write = D.calls[m.calls[1]];
      var ax = x(m.ack), bx = x(read.s), top = 9;
      ctx.setLineDash([3, 2]);
      ctx.beginPath();
      ctx.moveTo(ax, top); ctx.lineTo(ax, client.y + 4 + Math.max(0, write.row) * ROW_H);
      ctx.moveTo(bx, top); ctx.lineTo(bx, client.y + 4 + Math.max(0, read.row) * ROW_H);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.lineWidth = 2;
      ctx.beginPath(); ctx.moveTo(ax, top); ctx.lineTo(Math.max(bx, ax + 2), top); ctx.stroke();
      ctx.lineWidth = 1;
      var label = D.lanes[write.n] + "> " + write.c.split(" ").slice(0, 2).join(" ") + " OK at " + fmt(m.ack, 3) +
        " · " + D.lanes[read.n] + "> " + read.c.split(" ").slice(0, 2).join(" ") + " began " + fmt(read.s, 3);
      ctx.font = "bold 10.5px sans-serif";
      var w = ctx.measureText(label).width, lx = Math.min(Math.max(bx + 6, GUTTER), width - w - 8);
      ctx.fillStyle = "#ffffff"; ctx.fillRect(lx - 3, 2, w + 6, 14);
      ctx.fillStyle = color; ctx.textBaseline = "middle"; ctx.fillText(label, lx, 9.5);
    });
  }

  function drawSelection() {
    if (!selected) return;
    if (selected.type === "marks") drawRelated(selected.marks);
    var h = hits.filter(function (h) { return h.item && sameItem(h.item, selected); })[0];
    if (!h) return;
    ctx.strokeStyle = "#1d2330"; ctx.lineWidth = 2;
    if (h.seg) { ctx.beginPath(); ctx.moveTo(h.seg[0], h.seg[1]); ctx.lineTo(h.seg[2], h.seg[3]); ctx.stroke(); }
    else ctx.strokeRect(h.x0 - 2, h.y0 - 2, h.x1 - h.x0 + 4, h.y1 - h.y0 + 4);
    ctx.lineWidth = 1;
  }

  function sameItem(a, b) {
    if (a.type === "marks" && b.type === "marks") return a.marks.indexOf(b.marks[0]) >= 0;
    return a.type === b.type && (a.c || a.m || a.r || a.w || a.k || a.text) === (b.c || b.m || b.r || b.w || b.k || b.text);
  }

  function draw() {
    pending = false;
    var dpr = window.devicePixelRatio || 1;
    width = Math.max(320, chart.clientWidth);
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    canvas.style.height = height + "px";
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    hits = [];
    drawLanes();
    drawAxis();
    drawWindows();
    drawRaft();
    drawCalls();
    drawMessages();
    drawEvents();
    drawMarks();
    drawSelection();
    drawLaneLabels();
    document.getElementById("range").textContent = fmt(view.t0) + " – " + fmt(view.t1) + " (" + dur(Math.round(view.t1 - view.t0)) + ")";
  }
  function redraw() { if (!pending) { pending = true; window.requestAnimationFrame(draw); } }

  // --- text of an item -------------------------------------------------------------------------------------------
  function describe(item) {
    switch (item.type) {
      case "call": {
        var c = item.c;
        var who = c.q ? " (harness poll)" : c.w ? " (workload)" : "";
        return D.lanes[c.n] + "> " + c.c + "\nscenario line " + c.l + who + "\n" + fmt(c.s, 3) + " → " + fmt(c.e, 3) +
          " (" + dur(c.e - c.s) + ")\nreply" + (c.err ? " (error)" : "") + ":\n" + c.r;
      }
      case "msg": {
        var m = item.m, kind = D.kinds[m.k].name;
        var head = kind + ": " + D.lanes[m.f] + " → " + D.lanes[m.t];
        if (m.s !== null && m.r !== null) return head + " in " + dur(m.r - m.s) + "\n" + m.x + "\n" + m.y;
        if (m.s !== null) return head + ", never received (lost)\n" + m.x;
        return head + ", received with no send paired to it\n" + m.y;
      }
      case "raft": {
        var r = item.r;
        return D.lanes[r.n] + ": " + r.role + ", term " + r.term + ", leader " + r.leader + ", applied " + r.applied +
          "\nfrom " + fmt(r.t, 3) + " to " + fmt(item.end, 3) + "\n" + r.x;
      }
      case "marks":
        return item.marks.map(function (k) {
          return k.class.toUpperCase() + " · " + k.property + " · " + k.kind + " · scenario line " + k.line + " · " +
            D.lanes[k.n] + " at " + fmt(k.t, 3) + "\n" + k.v + "\nrule: " + k.rule;
        }).join("\n\n");
      case "window": {
        var w = item.w;
        var kills = w.kills.map(function (k) { return "\n  " + k.x; }).join("");
        return "fault window " + fmt(w.s, 3) + " – " + fmt(w.e, 3) + " (" + dur(w.e - w.s) + "), opened by " + w.by +
          (kills ? "\nkills:" + kills : "");
      }
      case "kill": return "kill: " + item.k.x;
      default: return item.text;
    }
  }

  // --- interaction -----------------------------------------------------------------------------------------------
  function clampView() {
    var span = Math.max(50, Math.min(view.t1 - view.t0, D.end * 2));
    var lo = -D.end * 0.5, hi = D.end * 1.5;
    if (view.t0 < lo) view.t0 = lo;
    if (view.t0 + span > hi) view.t0 = hi - span;
    view.t1 = view.t0 + span;
  }
  function zoom(factor, atPx) {
    var at = atPx === undefined ? (view.t0 + view.t1) / 2 : tAt(atPx);
    view.t0 = at - (at - view.t0) * factor;
    view.t1 = at + (view.t1 - at) * factor;
    clampView();
    redraw();
  }
  function pan(fraction) {
    var d = (view.t1 - view.t0) * fraction;
    view.t0 += d; view.t1 += d;
    clampView();
    redraw();
  }
  function fit() { view.t0 = 0; view.t1 = D.end * 1.02; redraw(); }
  function focus(t0, t1) {
    var span = view.t1 - view.t0;
    if (t1 - t0 > span * 0.9 || t1 - t0 < span * 0.05) span = Math.max((t1 - t0) * 3, Math.min(span, 50000));
    view.t0 = (t0 + t1) / 2 - span / 2; view.t1 = view.t0 + span;
    clampView();
    redraw();
  }
  function select(item) {
    selected = item;
    detail.textContent = item ? describe(item) : "Hover over anything for its text; click to keep it here.";
    redraw();
  }

  var drag = null;
  function local(ev) { var r = canvas.getBoundingClientRect(); return { x: ev.clientX - r.left, y: ev.clientY - r.top }; }
  canvas.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    var p = local(ev);
    zoom(Math.exp(ev.deltaY * 0.0015), Math.max(GUTTER, p.x));
  }, { passive: false });
  canvas.addEventListener("mousedown", function (ev) {
    drag = { x: ev.clientX, t0: view.t0, t1: view.t1, moved: false };
    canvas.classList.add("dragging");
  });
  window.addEventListener("mouseup", function (ev) {
    if (!drag) return;
    var moved = drag.moved;
    drag = null;
    canvas.classList.remove("dragging");
    if (!moved && ev.target === canvas) { var p = local(ev); select(find(p.x, p.y)); }
  });
  window.addEventListener("mousemove", function (ev) {
    if (drag) {
      var dx = ev.clientX - drag.x;
      if (Math.abs(dx) > 3) drag.moved = true;
      if (drag.moved) {
        var dt = dx / (width - GUTTER - 8) * (drag.t1 - drag.t0);
        view.t0 = drag.t0 - dt; view.t1 = drag.t1 - dt;
        clampView();
        redraw();
      }
      tip.hidden = true;
      return;
    }
    if (ev.target !== canvas) { tip.hidden = true; return; }
    var p = local(ev), item = find(p.x, p.y);
    if (!item) { tip.hidden = true; return; }
    tip.textContent = describe(item);
    tip.hidden = false;
    var left = Math.min(p.x + 14, Math.max(0, width - tip.offsetWidth - 4));
    tip.style.left = left + "px";
    tip.style.top = (p.y + 16) + "px";
  });
  canvas.addEventListener("mouseleave", function () { tip.hidden = true; });
  document.getElementById("zoom-in").onclick = function () { zoom(0.5); };
  document.getElementById("zoom-out").onclick = function () { zoom(2); };
  document.getElementById("pan-left").onclick = function () { pan(-0.3); };
  document.getElementById("pan-right").onclick = function () { pan(0.3); };
  document.getElementById("fit").onclick = fit;
  window.addEventListener("resize", redraw);

  // --- tool bar, tables, legend ----------------------------------------------------------------------------------
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function toggle(label, color, checked, onChange) {
    var l = el("label"), box = el("input", { type: "checkbox" });
    box.checked = checked;
    box.addEventListener("change", function () { onChange(box.checked); });
    l.appendChild(box);
    if (color) { var s = el("span", { class: "swatch" }); s.style.background = color; l.appendChild(s); }
    l.appendChild(document.createTextNode(label));
    return l;
  }
  function toolbar() {
    var bar = document.getElementById("toggles");
    D.kinds.forEach(function (k, i) {
      bar.appendChild(toggle(k.name + " (" + k.count + ")", kindColor(i), true, function (on) { show.kinds[i] = on; redraw(); }));
    });
    var count = function (f) { return D.calls.filter(f).length; };
    var workload = count(function (c) { return c.w; }), polls = count(function (c) { return c.q; });
    if (workload) bar.appendChild(toggle("workload calls (" + workload + ")", null, true, function (on) { show.workload = on; layout(); redraw(); }));
    if (polls) bar.appendChild(toggle("harness polls (" + polls + ")", null, false, function (on) { show.polls = on; layout(); redraw(); }));
    bar.appendChild(toggle("call links", null, true, function (on) { show.links = on; redraw(); }));
    bar.appendChild(toggle("labels", null, true, function (on) { show.labels = on; redraw(); }));
  }
  function row(table, cells, attrs) {
    var tr = el("tr", attrs);
    cells.forEach(function (c) {
      var td = el(c.head ? "th" : "td", c.cls ? { class: c.cls } : {}, c.text);
      tr.appendChild(td);
    });
    table.appendChild(tr);
    return tr;
  }
  function tables() {
    var v = document.getElementById("violations");
    if (!D.marks.length) row(v, [{ text: "none", cls: "empty" }]);
    else row(v, ["time", "node", "class", "property", "violation", "line", "finding"].map(function (h) { return { text: h, head: true }; }));
    D.marks.forEach(function (m, i) {
      var tr = row(v, [{ text: fmt(m.t, 3) }, { text: D.lanes[m.n] }, { text: m.class, cls: "class-" + m.class },
        { text: m.property }, { text: m.kind }, { text: String(m.line) }, { text: m.v + " [" + m.rule + "]" }], { "data-mark": String(i) });
      tr.addEventListener("click", function () { focus(m.t, m.t); select({ type: "marks", marks: [m] }); });
    });
    var w = document.getElementById("windows");
    if (!D.windows.length) row(w, [{ text: "none (no fault was active)", cls: "empty" }]);
    else row(w, ["start", "end", "opened by", "kills"].map(function (h) { return { text: h, head: true }; }));
    D.windows.forEach(function (win, i) {
      var tr = row(w, [{ text: fmt(win.s, 3) }, { text: fmt(win.e, 3) }, { text: win.by },
        { text: win.kills.map(function (k) { return k.x; }).join("; ") }], { "data-window": String(i) });
      tr.addEventListener("click", function () { focus(win.s, Math.max(win.e, win.s + 1)); select({ type: "window", w: win }); });
    });
  }
  function legend() {
    var box = document.getElementById("legend");
    var item = function (color, text) {
      var s = el("span"), sw = el("span", { class: "swatch" });
      sw.style.background = color; s.appendChild(sw); s.appendChild(document.createTextNode(text)); box.appendChild(s);
    };
    Object.keys(ROLE).forEach(function (r) { item(ROLE[r], "Raft " + r.toLowerCase()); });
    Object.keys(CLASS).forEach(function (c) { item(CLASS[c], c + " violation (▼ where it happened)"); });
    item("rgba(239,108,0,0.35)", "fault window (named nodes darker; ✕ a kill)");
    item("#d32f2f", "- - ✕ a send never received (lost)");
    item("#c5d3dc", "client call, start to reply (dashed: to and from its node)");
    item("#ef9a9a", "call answered an error");
    box.appendChild(el("span", {}, "Unticked message kinds fold into ticks on the sender's lane. Wheel: zoom; drag: pan."));
  }

  toolbar();
  tables();
  legend();
  layout();
  // `#mark=N` in the address selects the run's N-th violation (0-based, the table's order).
  var linked = /^#mark=(\d+)$/.exec(window.location.hash);
  if (linked && D.marks[+linked[1]]) select({ type: "marks", marks: [D.marks[+linked[1]]] });
  draw();
  var sends = D.msgs.filter(function (m) { return m.s !== null; }).length;
  var lost = D.msgs.filter(function (m) { return m.s !== null && m.r === null; }).length;
  body.setAttribute("data-lanes", String(lanes.length));
  body.setAttribute("data-violation-marks", String(D.marks.filter(function (m) { return lanes[m.n]; }).length));
  body.setAttribute("data-calls", String(D.calls.length));
  body.setAttribute("data-messages", String(sends));
  body.setAttribute("data-lost", String(lost));
  body.setAttribute("data-raft-states", String(D.raft.length));
  body.setAttribute("data-windows", String(D.windows.length));
  if (!/^error/.test(body.getAttribute("data-render") || "")) body.setAttribute("data-render", "ok");
})();
