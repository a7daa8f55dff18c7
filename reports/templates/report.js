(function () {
  "use strict";
  var doc = document.documentElement;
  doc.className = doc.className.replace("nojs", "js");

  // Opening a #link into a closed <details> opens it (older browsers do not do it natively).
  function reveal() {
    var id = decodeURIComponent(location.hash.slice(1));
    if (!id) return;
    var el = document.getElementById(id);
    if (!el) return;
    for (var p = el.parentElement; p; p = p.parentElement) {
      if (p.tagName === "DETAILS" && !p.open) p.open = true;
    }
    el.scrollIntoView({block: "start"});
  }
  window.addEventListener("hashchange", reveal);
  reveal();

  // Matrix filters: requirement text, client name, only rows with a failure/warning.
  var mx = document.getElementById("mx");
  var fReq = document.getElementById("f-req");
  var fClient = document.getElementById("f-client");
  var fBad = document.getElementById("f-bad");
  function applyFilters() {
    if (!mx) return;
    var q = (fReq && fReq.value || "").toLowerCase().trim();
    var cq = (fClient && fClient.value || "").toLowerCase().trim();
    var bad = fBad && fBad.checked;
    var hidden = {};
    var heads = mx.querySelectorAll("th.colh");
    for (var i = 0; i < heads.length; i++) {
      var hide = cq && heads[i].getAttribute("data-name").indexOf(cq) < 0;
      heads[i].style.display = hide ? "none" : "";
      if (hide) hidden[heads[i].getAttribute("data-col")] = true;
    }
    var rows = mx.tBodies[0].rows;
    for (var r = 0; r < rows.length; r++) {
      var row = rows[r];
      var key = row.getAttribute("data-req");
      if (key !== null) {
        var show = (!q || key.indexOf(q) >= 0) && (!bad || row.classList.contains("bad"));
        row.style.display = show ? "" : "none";
      }
      var cells = row.querySelectorAll("td[data-col]");
      for (var c = 0; c < cells.length; c++) {
        cells[c].style.display = hidden[cells[c].getAttribute("data-col")] ? "none" : "";
      }
    }
  }
  [fReq, fClient].forEach(function (el) { if (el) el.addEventListener("input", applyFilters); });
  if (fBad) fBad.addEventListener("change", applyFilters);

  // Expand / collapse all failing scenarios.
  var buttons = document.querySelectorAll("button[data-toggle]");
  for (var b = 0; b < buttons.length; b++) {
    buttons[b].addEventListener("click", function (ev) {
      var open = ev.currentTarget.getAttribute("data-toggle") === "open";
      var ds = document.querySelectorAll("details.fclient");
      for (var d = 0; d < ds.length; d++) ds[d].open = open;
    });
  }
})();
