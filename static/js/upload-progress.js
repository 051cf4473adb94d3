// Forms marked data-list-upload show their upload's progress (data-upload-progress), then
// follow the server's answer: the page it redirected to, or the form again with its errors.
document.querySelectorAll("form[data-list-upload]").forEach(function (form) {
  form.addEventListener("submit", function (event) {
    var bar = form.querySelector("[data-upload-progress]");
    if (!bar || !window.XMLHttpRequest || !window.FormData) { return; }
    event.preventDefault();
    var xhr = new XMLHttpRequest();
    bar.classList.remove("d-none");
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        bar.firstElementChild.style.width = Math.round(100 * e.loaded / e.total) + "%";
      }
    });
    xhr.addEventListener("load", function () {
      if (xhr.status === 200 && xhr.responseURL && xhr.responseURL !== window.location.href) {
        window.location.assign(xhr.responseURL);
        return;
      }
      document.open();
      document.write(xhr.responseText);
      document.close();
    });
    xhr.addEventListener("error", function () { form.submit(); });
    xhr.open("POST", form.getAttribute("action") || window.location.href);
    xhr.send(new FormData(form));
  });
});
