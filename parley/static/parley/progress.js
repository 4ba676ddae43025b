// Progress bars: <div data-progress="42"> gets width 42%. Set from script (allowed by the
// Content-Security-Policy) rather than a style="" attribute (refused); rerun on every htmx swap.
(function () {
  function paint(root) {
    root.querySelectorAll("[data-progress]").forEach(function (bar) {
      var pct = Math.max(0, Math.min(100, parseFloat(bar.dataset.progress) || 0));
      bar.style.width = pct + "%";
    });
  }
  if (window.htmx) { window.htmx.onLoad(paint); } else { document.addEventListener("DOMContentLoaded", function () { paint(document); }); }
})();
