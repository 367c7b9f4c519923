// Draws the dashboard's charts from the JSON the page embeds (no inline script: CSP).
(function () {
  "use strict";
  var node = document.getElementById("chart-data");
  if (!node || typeof Chart === "undefined") return;
  var data = JSON.parse(node.textContent);
  var colours = { rest: "#17456b", web: "#2b9348", wechat: "#07c160", other: "#999999" };
  var datasets = Object.keys(data.channels).map(function (channel) {
    return { label: channel, data: data.channels[channel], backgroundColor: colours[channel] };
  });
  new Chart(document.getElementById("chart-per-day"), {
    type: "bar",
    data: { labels: data.days, datasets: datasets },
    options: { animation: false, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } }
  });
  new Chart(document.getElementById("chart-intents"), {
    type: "bar",
    data: { labels: data.intents.labels, datasets: [{ label: "intent", data: data.intents.counts, backgroundColor: "#17456b" }] },
    options: { animation: false, indexAxis: "y", plugins: { legend: { display: false } } }
  });
})();
