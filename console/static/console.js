// The conversation list: "select all" for the export. Everything else is plain forms.
(function () {
  "use strict";
  var all = document.getElementById("select-all");
  if (!all) return;
  all.addEventListener("change", function () {
    var boxes = document.querySelectorAll('#export input[name="id"]');
    for (var i = 0; i < boxes.length; i++) boxes[i].checked = all.checked;
  });
})();
