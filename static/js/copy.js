// Copy buttons: <button data-copy="#target"> copies the target's text to the clipboard and
// says so on the button for two seconds (CSP: a static file, no inline script).
(function () {
  "use strict";
  function copied(button, ok) {
    var label = button.querySelector("[data-copy-label]") || button;
    var before = label.textContent;
    label.textContent = ok ? "Copied" : "Select and copy";
    button.classList.toggle("btn-success", ok);
    setTimeout(function () { label.textContent = before; button.classList.remove("btn-success"); }, 2000);
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var target = document.querySelector(button.dataset.copy);
    if (!target) return;
    var text = target.textContent.trim();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { copied(button, true); },
        function () { copied(button, false); });
    } else {
      var range = document.createRange();
      range.selectNodeContents(target);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      copied(button, ok);
    }
  });
})();
