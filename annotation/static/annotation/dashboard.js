// Agreement trend on the project dashboard: answers per day (bars) and mean item agreement (line).
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("trend-data").textContent);
  const canvas = document.getElementById("trend-chart");
  if (!canvas || typeof Chart === "undefined") return;
  new Chart(canvas, {
    data: {
      labels: data.labels,
      datasets: [
        { type: "bar", label: "answers", data: data.answers, yAxisID: "y", backgroundColor: "#c7d2fe" },
        { type: "line", label: "agreement", data: data.agreement, yAxisID: "y1", borderColor: "#1a7f4b", spanGaps: true },
      ],
    },
    options: {
      maintainAspectRatio: false,
      scales: { y: { beginAtZero: true, position: "left" }, y1: { min: 0, max: 1, position: "right", grid: { drawOnChartArea: false } } },
    },
  });
})();
