// The A/B report's chart: per day and version, hotel response rate (solid) and task success rate (dashed).
(function () {
  const data = JSON.parse(document.getElementById("ab-series").textContent);
  const canvas = document.getElementById("ab-chart");
  if (!canvas || typeof Chart === "undefined") return;
  const datasets = [];
  data.series.forEach((s) => {
    datasets.push({ label: `${s.name}: response`, data: s.response, spanGaps: true });
    datasets.push({ label: `${s.name}: success`, data: s.success, borderDash: [6, 4], spanGaps: true });
  });
  canvas.dataset.ready = "1";
  new Chart(canvas, {
    type: "line",
    data: { labels: data.days, datasets },
    options: { animation: false, scales: { y: { min: 0, max: 1, title: { display: true, text: "rate" } } } },
  });
})();
