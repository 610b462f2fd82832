// Installed before anything else runs: an uncaught error or a rejected promise marks the page as failed, so a
// headless check (tests/html/check_html.sh) tells a broken page from one that drew. The page's own script sets
// data-render="ok" only when it finished drawing, and never over an error.
(function () {
  "use strict";
  function fail(message) {
    var root = document.body || document.documentElement;
    root.setAttribute("data-render", "error: " + message);
  }
  window.onerror = function (message, source, line) {
    fail(String(message) + (line ? " (line " + line + ")" : ""));
  };
  window.addEventListener("unhandledrejection", function (event) {
    fail("unhandled rejection: " + String(event.reason));
  });
})();
