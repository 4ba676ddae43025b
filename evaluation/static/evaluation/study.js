// The study page fills in by itself: every few seconds it fetches the live part (jobs, the AUTOMATIC
// tables, the chart's data, the human table) rendered and escaped by the server, swaps it in and redraws
// the chart; it stops once the server says every job and eval run has ended (X-Study-Settled: 1).
(function () {
  "use strict";
  const box = document.getElementById("study-live");
  if (!box) return;
  const EVERY_MS = 4000;
  let chart = null;

  function draw() {
    const source = document.getElementById("study-chart-data");
    const canvas = document.getElementById("study-chart");
    if (!source || !canvas || typeof Chart === "undefined") return;
    const data = JSON.parse(source.textContent);
    if (chart) chart.destroy();
    chart = new Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          { label: "rule-violation rate, online (%)", data: data.violation, backgroundColor: "#b42318" },
          { label: "95% interval", data: data.violation_ci, backgroundColor: "rgba(180, 35, 24, 0.25)" },
          { label: "automatic fix proxy, bad cases (%)", data: data.fix, backgroundColor: "#1a7f4b" },
          { label: "95% interval", data: data.fix_ci, backgroundColor: "rgba(26, 127, 75, 0.25)" },
        ],
      },
      options: { animation: false, scales: { y: { beginAtZero: true, max: 100 } } },
    });
  }

  function settled() {
    const state = document.getElementById("study-state");
    return state && state.dataset.settled === "1";
  }

  async function refresh() {
    try {
      const response = await fetch(box.dataset.url, { headers: { Accept: "text/html" }, credentials: "same-origin" });
      if (response.ok) {
        box.innerHTML = await response.text();  // server-rendered, every value escaped by the template
        draw();
        if (response.headers.get("X-Study-Settled") === "1") return;
      }
    } catch (error) {
      // a network hiccup: try again at the next tick
    }
    window.setTimeout(refresh, EVERY_MS);
  }

  window.addEventListener("load", function () {
    draw();
    if (!settled()) window.setTimeout(refresh, EVERY_MS);
  });
})();
