/* Job curves with Chart.js (served by the app from node_modules, no CDN), laid out like W&B panels.
   Job page: #job-series holds {steps, series, groups}; groups come from the server (training_jobs/panels.py):
   [{name, metrics, hidden}] in reading order. Each group is a collapsible panel; empty or all-zero series
   are hidden behind a "show N hidden" toggle; a smoothing slider draws an exponential moving average over
   the faint raw curve; a series with a single point is drawn as a dot. While the job runs the charts
   refresh from the metrics URL.
   Compare page: #compare-curves holds {metric: {run label: [{x, y}]}}, one chart per metric, runs overlaid
   with a colour, a dash pattern and a marker each, so that identical curves stay distinguishable. */
(function () {
  "use strict";
  const PALETTE = ["#2f5bea", "#e8590c", "#1a7f4b", "#b42318", "#7048e8", "#0c8599", "#c2255c", "#5c940d"];
  const DASHES = [[], [6, 4], [2, 3], [10, 3, 2, 3], [1, 5], [12, 6], [4, 2, 1, 2], [8, 8]];
  const MARKERS = ["circle", "triangle", "rect", "crossRot", "star", "rectRot", "cross", "dash"];

  function chartBox(container, title) {
    const box = document.createElement("figure");
    box.className = "chart";
    box.dataset.metric = title;
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
    for (let i = 0; i < steps.length; i++) if (values[i] !== null && values[i] !== undefined) out.push({ x: steps[i], y: values[i] });
    return out;
  }

  // Exponential moving average, debiased as TensorBoard and W&B do, so the first points are not pulled to 0.
  function smooth(pts, weight) {
    if (!weight) return pts;
    let last = 0, n = 0;
    return pts.map((p) => {
      last = last * weight + (1 - weight) * p.y;
      n += 1;
      return { x: p.x, y: last / (1 - Math.pow(weight, n)) };
    });
  }

  function jobCharts(container, initial) {
    const charts = {};        // metric -> Chart
    const raw = {};           // metric -> points
    const groups = {};        // group name -> {grid, details, count}
    const slider = document.getElementById("smoothing");
    const sliderValue = document.getElementById("smoothing-value");
    const toggle = document.getElementById("show-hidden");
    let showHidden = false, colour = 0, latest = initial;

    function weight() { return slider ? Number(slider.value) : 0; }

    function groupGrid(name) {
      if (!groups[name]) {
        const details = document.createElement("details");
        details.className = "panel-group";
        details.open = true;
        details.dataset.group = name;
        const summary = document.createElement("summary");
        summary.textContent = name;
        const grid = document.createElement("div");
        grid.className = "charts";
        details.append(summary, grid);
        container.append(details);
        groups[name] = { details: details, grid: grid, summary: summary };
      }
      return groups[name];
    }

    function datasetsFor(metric, pts, i) {
      const c = PALETTE[i % PALETTE.length];
      const single = pts.length < 2 ? 4 : 0;
      const w = weight();
      if (!w) return [{ label: metric, data: pts, borderColor: c, backgroundColor: c, borderWidth: 1.5, pointRadius: single }];
      return [
        { label: metric, data: smooth(pts, w), borderColor: c, backgroundColor: c, borderWidth: 1.8, pointRadius: single },
        { label: metric + " (raw)", data: pts, borderColor: c + "44", backgroundColor: c + "44", borderWidth: 1, pointRadius: 0 },
      ];
    }

    function draw(data) {
      latest = data;
      let shown = 0, hidden = 0;
      data.groups.forEach((group) => {
        const g = groupGrid(group.name);
        const visible = group.metrics.concat(showHidden ? group.hidden : []);
        hidden += group.hidden.length;
        visible.forEach((metric) => {
          const pts = points(data.steps, data.series[metric] || []);
          raw[metric] = pts;
          if (!charts[metric]) {
            charts[metric] = { chart: lineChart(chartBox(g.grid, metric), datasetsFor(metric, pts, colour)), colour: colour++ };
            if (group.hidden.includes(metric)) charts[metric].chart.canvas.parentNode.classList.add("empty-series");
          } else {
            charts[metric].chart.data.datasets = datasetsFor(metric, pts, charts[metric].colour);
            charts[metric].chart.update("none");
          }
        });
        // a series that was empty and now has values keeps its chart; one hidden again is removed
        Object.keys(charts).forEach((metric) => {
          if (group.hidden.includes(metric) && !showHidden) {
            charts[metric].chart.canvas.parentNode.remove();
            charts[metric].chart.destroy();
            delete charts[metric];
          }
        });
        shown += group.metrics.length;
        g.summary.textContent = group.name + " (" + group.metrics.length + (group.hidden.length ? ", " + group.hidden.length + " hidden" : "") + ")";
        g.details.hidden = visible.length === 0;
      });
      container.dataset.count = shown;
      container.dataset.hidden = hidden;
      if (toggle) {
        toggle.hidden = hidden === 0;
        toggle.textContent = showHidden ? "Hide the " + hidden + " empty or all-zero charts" : "Show " + hidden + " hidden (empty or all-zero) charts";
      }
    }

    if (slider) slider.addEventListener("input", () => {
      if (sliderValue) sliderValue.textContent = Number(slider.value).toFixed(2);
      draw(latest);
    });
    if (toggle) toggle.addEventListener("click", () => { showHidden = !showHidden; draw(latest); });
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
      const datasets = Object.entries(runs).map(([label, pts], i) => {
        const every = Math.max(1, Math.round(pts.length / 8));
        return {
          label: label, data: pts, borderColor: PALETTE[i % PALETTE.length], backgroundColor: PALETTE[i % PALETTE.length],
          borderWidth: 1.5, borderDash: DASHES[i % DASHES.length], pointStyle: MARKERS[i % MARKERS.length],
          // markers at a few points per run (staggered per run), every point when there are few
          pointRadius: (ctx) => (pts.length < 3 || (ctx.dataIndex + i) % every === 0 ? 3.5 : 0),
        };
      });
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
