// Switchyard UI: the flow diagram, times in the reader's zone, and the
// builder's comforts (scroll to a new step, ask before leaving unsaved
// changes). Like app.js, everything works without it.
(function () {
  "use strict";

  // A diagram wider than its card scrolls inside it; start with the
  // trigger (the top centre) in view rather than the left edge.
  function centreDiagrams() {
    document.querySelectorAll(".diagram-scroll").forEach(function (box) {
      if (box.scrollWidth > box.clientWidth && !box.dataset.centred) {
        box.scrollLeft = (box.scrollWidth - box.clientWidth) / 2;
        box.dataset.centred = "1";
      }
    });
  }

  // Times: the server writes UTC into datetime; show the reader's local
  // time with its zone, and the UTC time on hover.
  var fmt = null;
  try {
    fmt = new Intl.DateTimeFormat(undefined, {
      year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false, timeZoneName: "short"
    });
  } catch (e) { fmt = null; }
  function localTimes(root) {
    if (!fmt) return;
    (root || document).querySelectorAll("time[datetime]").forEach(function (el) {
      if (el.dataset.local) return;
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d.getTime())) return;
      // Written as the server writes it (2026-03-14 09:26:53 CET), in
      // the reader's zone.
      var v = {};
      fmt.formatToParts(d).forEach(function (part) { v[part.type] = part.value; });
      el.textContent = v.year + "-" + v.month + "-" + v.day + " " + (v.hour === "24" ? "00" : v.hour) + ":" + v.minute + ":" + v.second + " " + v.timeZoneName;
      el.title = d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
      el.dataset.local = "1";
    });
  }

  // A template's settings still to fill in: mark their fields.
  function markToFill() {
    var box = document.getElementById("to-fill");
    if (!box) return;
    (box.getAttribute("data-fill") || "").split(" ").forEach(function (id) {
      var el = id && document.getElementById(id);
      var field = el && el.closest(".field");
      if (field) field.classList.add("to-fill-field");
    });
  }

  function refresh() {
    centreDiagrams();
    localTimes();
    markToFill();
  }
  document.addEventListener("htmx:afterSettle", refresh);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", refresh);
  } else {
    refresh();
  }
})();
