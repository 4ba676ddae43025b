// The report's bars per system (like the paper's figures): main metrics and skills.
(function () {
  const source = document.getElementById("chart-data");
  if (!source || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const kind = JSON.parse(document.getElementById("report-kind").textContent);
  const palette = ["#2f5bea", "#1a7f4b", "#b54708", "#b42318", "#6941c6", "#0e7090", "#667085"];
  const colour = (sets) => sets.map((d, i) => ({ ...d, backgroundColor: palette[i % palette.length] }));
  const pct = { y: { beginAtZero: true, max: 100 } };
  if (kind === "online") {
    // A 1-5 rating and a percentage need their own axes.
    const datasets = colour(data.datasets).map((d) => ({ ...d, data: [d.data[0], d.data[1]] }));
    new Chart(document.getElementById("chart-main"), {
      type: "bar",
      data: { labels: ["avg rating (1-5)", "≥1 excellent (%)"], datasets },
      options: { scales: { y: { beginAtZero: true } } },
    });
  } else {
    new Chart(document.getElementById("chart-main"), {
      type: "bar", data: { labels: data.labels, datasets: colour(data.datasets) }, options: { scales: pct },
    });
  }
  new Chart(document.getElementById("chart-skills"), {
    type: "bar", data: { labels: data.skills.labels, datasets: colour(data.skills.datasets) }, options: { scales: pct },
  });
})();

// The comparison form is swapped in by htmx; show its 400 message (bad choice of systems) instead of dropping it.
document.body.addEventListener("htmx:beforeSwap", (event) => {
  if (event.detail.xhr.status === 400) { event.detail.shouldSwap = true; event.detail.isError = false; }
});
