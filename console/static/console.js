// gomirror console: the copy buttons of `go get` lines. Everything else
// works without script.
"use strict";
document.addEventListener("click", function (e) {
  var b = e.target.closest("button.copy-button");
  if (!b) return;
  var text = b.getAttribute("data-copy");
  var done = function () {
    var old = b.textContent;
    b.textContent = b.getAttribute("data-done");
    setTimeout(function () { b.textContent = old; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, function () {});
  } else {
    var input = b.parentElement.querySelector("input");
    input.focus();
    input.select();
    done();
  }
});
