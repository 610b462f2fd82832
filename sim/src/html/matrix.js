// The compare matrix as a heat map (sim compare --html; sim/src/html/matrix.rs builds the data this reads).
// A cell's colour is its share of failed seeds; its tooltip and the detail pane (on click) give the command that
// replays its first failing seed. When drawn, <body> gets data-render="ok" and data-cells.
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("data").textContent);
  var body = document.body;
  var table = document.getElementById("matrix");
  var replayBox = document.getElementById("cell-replay");
  var detail = document.getElementById("cell-detail");

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // Green for no failed seed; from amber to red as the failed share grows (square root: a few failures show).
  function colour(share, unavailable) {
    if (share <= 0) return { bg: unavailable ? "hsl(75,55%,84%)" : "hsl(130,45%,88%)", fg: "#1d2330" };
    var s = Math.sqrt(Math.min(1, share));
    var light = 86 - 38 * s;
    return { bg: "hsl(" + (46 * (1 - s)).toFixed(1) + ",85%," + light.toFixed(1) + "%)", fg: light < 64 ? "#ffffff" : "#1d2330" };
  }
  function percent(share) {
    if (share === 0) return "0%";
    return (100 * share).toFixed(share < 0.01 ? 2 : share < 0.1 ? 1 : 0) + "%";
  }

  function describe(c) {
    var share = c.seeds ? c.failed / c.seeds : 0;
    return [
      c.strategy + " under " + c.profile,
      "failed " + c.failed + "/" + c.seeds + " (" + percent(share) + ")",
      "by worst violation: safety " + c.safety + ", liveness " + c.liveness + ", only availability " + c.unavailable,
      "stale reads in " + c.stale + " seeds, lost writes in " + c.lost_write,
      "calls " + c.calls + ", errors " + c.errors + " (" + c.errors_in_fault_windows + " in fault windows)",
      "first failing seed: " + (c.first_failed === null ? "none" : c.first_failed),
      "replay: " + (c.replay || "(no failing seed)")
    ].join("\n");
  }

  var selectedTd = null;
  function select(td, c) {
    if (selectedTd) selectedTd.classList.remove("selected");
    selectedTd = td;
    td.classList.add("selected");
    replayBox.value = c.replay || "";
    detail.textContent = describe(c);
  }

  function cellTd(c) {
    var share = c.seeds ? c.failed / c.seeds : 0, col = colour(share, c.unavailable > 0);
    var td = el("td", { class: "cell", "data-strategy": c.strategy, "data-profile": c.profile,
      title: c.replay ? "replay the first failing seed: " + c.replay : "no failing seed" });
    td.style.background = col.bg;
    td.style.color = col.fg;
    td.appendChild(el("div", { class: "share" }, c.failed + "/" + c.seeds + " · " + percent(share)));
    var classes = el("div", { class: "classes" });
    classes.appendChild(el("span", { title: "seeds whose worst violation is safety" }, "S" + c.safety));
    classes.appendChild(el("span", { title: "seeds whose worst violation is liveness" }, "L" + c.liveness));
    classes.appendChild(el("span", { title: "seeds with only availability violations" }, "U" + c.unavailable));
    td.appendChild(classes);
    td.appendChild(el("div", {}, "stale " + c.stale + " · lost_write " + c.lost_write));
    td.appendChild(el("div", {}, "first failing: " + (c.first_failed === null ? "-" : c.first_failed)));
    td.addEventListener("click", function () { select(td, c); });
    return td;
  }

  function render() {
    var head = el("tr");
    head.appendChild(el("th", { class: "row" }, "strategy \\ profile"));
    D.profiles.forEach(function (p) { head.appendChild(el("th", {}, p)); });
    table.appendChild(head);
    var drawn = 0;
    D.strategies.forEach(function (s) {
      var tr = el("tr");
      tr.appendChild(el("th", { class: "row" }, s));
      D.profiles.forEach(function (p) {
        var c = D.cells.filter(function (c) { return c.strategy === s && c.profile === p; })[0];
        if (c) { tr.appendChild(cellTd(c)); drawn++; } else tr.appendChild(el("td", { class: "empty" }, "not run"));
      });
      table.appendChild(tr);
    });
    var stops = [0, 0.02, 0.1, 0.3, 0.6, 1].map(function (s) { return colour(s).bg; });
    document.getElementById("scale-bar").style.background = "linear-gradient(to right," + stops.join(",") + ")";
    return drawn;
  }

  document.getElementById("copy").addEventListener("click", function () {
    replayBox.focus();
    replayBox.select();
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(replayBox.value).catch(function () {});
    else document.execCommand("copy");
  });
  replayBox.addEventListener("focus", function () { replayBox.select(); });

  var drawn = render();
  var first = D.cells.filter(function (c) { return c.failed > 0; })[0];
  if (first) {
    var td = table.querySelector("td[data-strategy='" + first.strategy + "'][data-profile='" + first.profile + "']");
    if (td) select(td, first);
  }
  body.setAttribute("data-cells", String(drawn));
  body.setAttribute("data-failing-cells", String(D.cells.filter(function (c) { return c.failed > 0; }).length));
  if (!/^error/.test(body.getAttribute("data-render") || "")) body.setAttribute("data-render", "ok");
})();
