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

// The requirement graph: the search box narrows the tree as one types
// (the form's q, which the server applies without script), and the
// expand/collapse buttons open or close every <details>.
(function () {
  var tree = document.getElementById("graph");
  var input = document.getElementById("graph-q");
  if (!tree || !input) return;
  var tools = document.querySelector(".tree-tools");
  if (tools) tools.hidden = false;
  var all = function (open) {
    tree.querySelectorAll("details").forEach(function (d) { d.open = open; });
  };
  document.getElementById("expand-all").addEventListener("click", function () { all(true); });
  document.getElementById("collapse-all").addEventListener("click", function () { all(false); });
  var shown = document.getElementById("graph-shown");
  var none = document.getElementById("graph-none");
  var total = tree.querySelectorAll("li.node").length;
  var label = shown ? shown.textContent : "";
  // filter shows the nodes whose path contains q and the nodes above
  // them; it returns whether node (an li) is shown.
  var filter = function (node, q) {
    var match = q === "" || node.getAttribute("data-line").split(" ")[0].toLowerCase().indexOf(q) >= 0;
    var below = false;
    var list = node.querySelector(":scope > details > ul");
    if (list) {
      for (var i = 0; i < list.children.length; i++) {
        if (filter(list.children[i], q)) below = true;
      }
    }
    var show = match || below;
    node.hidden = !show;
    node.classList.toggle("match", q !== "" && match);
    if (q !== "" && below) node.querySelector(":scope > details").open = true;
    return show;
  };
  var run = function () {
    var q = input.value.trim().toLowerCase();
    var root = tree.querySelector(":scope > li");
    if (!root) return;
    filter(root, q);
    var n = tree.querySelectorAll("li.node:not([hidden])").length;
    if (shown) shown.textContent = q === "" ? label : n + " / " + total;
    if (none) none.hidden = q === "" || tree.querySelectorAll("li.match").length > 0;
  };
  input.addEventListener("input", run);
})();
