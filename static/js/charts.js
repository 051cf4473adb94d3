// Draws every <canvas data-chart="ID"> from the JSON in #dashboard-charts (no inline scripts: CSP).
(function () {
  "use strict";
  var source = document.getElementById("dashboard-charts");
  if (!source || typeof Chart === "undefined") { return; }
  var charts = JSON.parse(source.textContent);
  var palette = ["#0d6efd", "#198754", "#fd7e14", "#6f42c1", "#20c997", "#dc3545"];
  charts.forEach(function (spec) {
    var canvas = document.querySelector('canvas[data-chart="' + spec.id + '"]');
    if (!canvas) { return; }
    var datasets = spec.datasets.map(function (ds, i) {
      var color = palette[i % palette.length];
      var background = spec.kind === "doughnut" ? palette.slice(0, ds.data.length)
        : (spec.kind === "line" ? color + "33" : color);
      return Object.assign({ backgroundColor: background, borderColor: spec.kind === "doughnut"
        ? "#fff" : color, fill: spec.kind === "line", tension: 0.3 }, ds);
    });
    var options = { responsive: true, maintainAspectRatio: false, animation: false,
                    plugins: { legend: { display: datasets.length > 1 || spec.kind === "doughnut" } },
                    scales: spec.kind === "doughnut" ? {} : { y: { beginAtZero: true, ticks: { precision: 0 } } } };
    if (datasets.some(function (ds) { return ds.yAxisID === "y1"; })) {  // a second measure
      options.scales.y.ticks = {};
      options.scales.y1 = { position: "right", beginAtZero: true, grid: { drawOnChartArea: false } };
    }
    if (spec.log) {  // a funnel: thousands of clicks and a handful of traders on one axis
      options.scales.y = { type: "logarithmic", min: 0.5, ticks: { callback: function (v) {
        return Number.isInteger(Math.log10(v)) ? v.toLocaleString() : "";  // 1, 10, 100 ...
      } } };
    }
    if (spec.horizontal) {  // bars along x, one row per label (long labels: names)
      options.indexAxis = "y";
      options.scales = { x: { beginAtZero: true } };
    }
    new Chart(canvas, { type: spec.kind, data: { labels: spec.labels, datasets: datasets }, options: options });
  });
})();
