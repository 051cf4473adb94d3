// Sets progress-bar widths from data-width (CSP: no inline style attributes needed).
(function () {
  "use strict";
  function apply(root) {
    root.querySelectorAll("[data-width]").forEach(function (el) {
      el.style.width = Math.max(0, Math.min(100, Number(el.dataset.width) || 0)) + "%";
    });
  }
  apply(document);
  document.addEventListener("htmx:afterSwap", function (e) { apply(e.target); });
})();
