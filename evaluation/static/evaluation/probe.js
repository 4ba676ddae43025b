// Probe score over training steps, one line per job.
(function () {
  const source = document.getElementById("probe-data");
  if (!source || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  new Chart(document.getElementById("probe-chart"), {
    type: "line",
    data: { datasets: data.datasets.map((d) => ({ ...d, tension: 0.2, pointRadius: 2 })) },
    options: { parsing: true, scales: { x: { type: "linear", title: { display: true, text: "step" } },
                                        y: { title: { display: true, text: "probe score" } } } },
  });
})();
