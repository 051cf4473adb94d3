// Zoom and rotate for document images on the KYC review page (no inline scripts: CSP).
(function () {
  "use strict";
  document.querySelectorAll("[data-viewer]").forEach(function (group) {
    var img = document.getElementById(group.dataset.viewer);
    if (!img) { return; }
    var scale = 1, angle = 0;
    function apply() { img.style.transform = "rotate(" + angle + "deg) scale(" + scale + ")"; }
    group.addEventListener("click", function (e) {
      var button = e.target.closest("button");
      if (!button) { return; }
      var action = button.dataset.action;
      if (action === "zoom-in") { scale = Math.min(4, scale * 1.25); }
      if (action === "zoom-out") { scale = Math.max(0.5, scale / 1.25); }
      if (action === "rotate") { angle = (angle + 90) % 360; }
      apply();
    });
  });
})();
