// Forms marked data-submit-once send once: their submit buttons are disabled as they submit
// (a double click must not open two accounts or set two passwords).
(function () {
  "use strict";
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.matches || !form.matches("form[data-submit-once]")) return;
    if (form.dataset.submitted) { e.preventDefault(); return; }
    form.dataset.submitted = "1";
    setTimeout(function () {
      form.querySelectorAll("button[type=submit], input[type=submit]").forEach(function (b) {
        b.disabled = true;
      });
    }, 0);
  });
  // Back to a page from the browser's cache: its forms may be sent again.
  window.addEventListener("pageshow", function (e) {
    if (!e.persisted) return;
    document.querySelectorAll("form[data-submit-once]").forEach(function (form) {
      delete form.dataset.submitted;
      form.querySelectorAll("[type=submit]").forEach(function (b) { b.disabled = false; });
    });
  });
})();

// A checkbox marked data-tick-all="name" ticks or unticks every box of that name in its form.
(function () {
  "use strict";
  document.addEventListener("change", function (e) {
    var box = e.target;
    if (!box.matches || !box.matches("input[data-tick-all]") || !box.form) return;
    box.form.querySelectorAll('input[type=checkbox][name="' + box.dataset.tickAll + '"]')
      .forEach(function (b) { b.checked = box.checked; });
  });
})();
