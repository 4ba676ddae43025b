/* Job curves with Chart.js (served by the app from node_modules, no CDN).
   Job page: #job-series holds {steps, series}; while the job runs the charts refresh from the metrics URL.
   Compare page: #compare-curves holds {metric: {run label: [{x, y}]}}, one chart per metric, runs overlaid. */
(function () {
  "use strict";
  const PALETTE = ["#2f5bea", "#e8590c", "#1a7f4b", "#b42318", "#7048e8", "#0c8599", "#c2255c", "#5c940d"];

  function chartBox(container, title) {
    const box = document.createElement("figure");
    box.className = "chart";
    const caption = document.createElement("figcaption");
    caption.textContent = title;  // textContent: metric names come from the engine, never HTML
    const canvas = document.createElement("canvas");
    box.append(caption, canvas);
    container.append(box);
    return canvas;
  }

  function lineChart(canvas, datasets) {
    return new Chart(canvas, {
      type: "line",
      data: { datasets: datasets },
      options: {
        animation: false, parsing: false, spanGaps: true,
        scales: { x: { type: "linear", title: { display: true, text: "step" } } },
        plugins: { legend: { display: datasets.length > 1 } },
        elements: { point: { radius: 0 } },
      },
    });
  }

  function points(steps, values) {
    const out = [];
    for (let i = 0; i < steps.length; i++) if (values[i] !== null) out.push({ x: steps[i], y: values[i] });
    return out;
  }

  function jobCharts(container, initial) {
    const charts = {};
    function draw(data) {
      Object.entries(data.series).forEach(([metric, values], i) => {
        const pts = points(data.steps, values);
        if (!charts[metric]) {
          charts[metric] = lineChart(chartBox(container, metric), [
            { label: metric, data: pts, borderColor: PALETTE[i % PALETTE.length], borderWidth: 1.5 },
          ]);
        } else {
          charts[metric].data.datasets[0].data = pts;
          charts[metric].update("none");
        }
      });
      container.dataset.count = Object.keys(charts).length;
    }
    draw(initial);
    if (container.dataset.live === "1") {
      const timer = setInterval(async () => {
        const response = await fetch(container.dataset.metricsUrl, { headers: { Accept: "application/json" } });
        if (!response.ok) return;
        const data = await response.json();
        draw(data);
        if (["succeeded", "failed", "cancelled"].includes(data.status)) clearInterval(timer);
      }, 3000);
    }
  }

  function compareCharts(container, curves) {
    Object.entries(curves).forEach(([metric, runs]) => {
      const datasets = Object.entries(runs).map(([label, pts], i) => ({
        label: label, data: pts, borderColor: PALETTE[i % PALETTE.length], borderWidth: 1.5,
      }));
      lineChart(chartBox(container, metric), datasets);
    });
    container.dataset.count = Object.keys(curves).length;
  }

  document.addEventListener("DOMContentLoaded", () => {
    const container = document.getElementById("charts");
    if (!container || typeof Chart === "undefined") return;
    const series = document.getElementById("job-series");
    const curves = document.getElementById("compare-curves");
    if (series) jobCharts(container, JSON.parse(series.textContent));
    if (curves) compareCharts(container, JSON.parse(curves.textContent));
  });
})();
