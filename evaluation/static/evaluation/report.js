// The report's bars per system (like the paper's figures): the headline metrics and the skills. The bars,
// their labels and whether the axis is a 0–100 share come from the report's columns (evaluation/columns.py).
(function () {
  const source = document.getElementById("chart-data");
  if (!source || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const palette = ["#2f5bea", "#1a7f4b", "#b54708", "#b42318", "#6941c6", "#0e7090", "#667085"];
  const colour = (sets) => sets.map((d, i) => ({ ...d, backgroundColor: palette[i % palette.length] }));
  // A 1-5 rating beside a percentage keeps an open axis; shares alone go to 100.
  const axis = (bars) => ({ y: bars.percent ? { beginAtZero: true, max: 100 } : { beginAtZero: true } });
  const draw = (id, bars) => new Chart(document.getElementById(id), {
    type: "bar", data: { labels: bars.labels, datasets: colour(bars.datasets) }, options: { scales: axis(bars) },
  });
  draw("chart-main", data);
  draw("chart-skills", data.skills);
})();

// The comparison form is swapped in by htmx; show its 400 message (bad choice of systems) instead of dropping it.
document.body.addEventListener("htmx:beforeSwap", (event) => {
  if (event.detail.xhr.status === 400) { event.detail.shouldSwap = true; event.detail.isError = false; }
});
