// Switchyard UI: the flow diagram, times in the reader's zone, and the
// builder's comforts (scroll to a new step, ask before leaving unsaved
// changes). Like app.js, everything works without it.
(function () {
  "use strict";

  // A diagram wider than its card scrolls inside it; start with the
  // trigger (the top centre) in view rather than the left edge. A live
  // refresh of a run page (or a builder edit) draws the diagram again:
  // it keeps where the user had scrolled it.
  var diagramScroll = {};
  document.addEventListener("htmx:beforeSwap", function () {
    document.querySelectorAll(".diagram-scroll[id]").forEach(function (box) {
      if (box.dataset.centred) diagramScroll[box.id] = box.scrollLeft;
    });
  });
  function centreDiagrams() {
    document.querySelectorAll(".diagram-scroll").forEach(function (box) {
      if (box.scrollWidth > box.clientWidth && !box.dataset.centred) {
        var kept = box.id ? diagramScroll[box.id] : undefined;
        var left = (box.scrollWidth - box.clientWidth) / 2;
        // A run's picture starts at the branch the run took.
        var taken = box.querySelector(".fd-taken .fd-label");
        if (taken) {
          var tr = taken.getBoundingClientRect(), br = box.getBoundingClientRect();
          left = tr.left - br.left + box.scrollLeft + tr.width / 2 - box.clientWidth / 2;
        }
        box.scrollLeft = kept !== undefined && kept !== null ? kept : left;
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
      // A schedule's next fire times are meant in the flow's own zone.
      if (el.dataset.local || el.closest("#next-fires, [data-keep-zone]")) return;
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

  // A step just added: scroll to it and focus its first setting (after
  // app.js has restored the focus of the button that added it).
  function focusNewStep() {
    var mark = document.getElementById("builder-focus");
    var step = mark && document.getElementById(mark.getAttribute("data-focus"));
    if (!step) return;
    mark.remove();
    // Its first setting (a connector's first field, a branch's condition);
    // the step id and label come prefilled.
    var fields = "input:not([type=hidden]):not([readonly]), select:not(.move-menu), textarea";
    var first = null;
    step.querySelectorAll(fields).forEach(function (el) {
      if (!first && /\.with\.|\.when$/.test(el.name || "") && el.offsetParent !== null) first = el;
    });
    first = first || step.querySelector(fields);
    step.scrollIntoView({ block: "start" });
    if (first) first.focus({ preventScroll: true });
  }

  // "Add a step here" (and every other folded part with an id) stays as
  // the user left it when the builder is swapped.
  var openParts = null, oldBuilder = null;
  document.addEventListener("htmx:beforeRequest", function (e) {
    // getAttribute: the form's field named "id" shadows form.id.
    if (!e.detail.target || e.detail.target.getAttribute("id") !== "builder") return;
    oldBuilder = e.detail.target;
    openParts = [];
    document.querySelectorAll("#builder details[open] > summary[id]").forEach(function (s) { openParts.push(s.id); });
  });
  function reopen() {
    if (!openParts) return;
    openParts.forEach(function (id) {
      var s = document.getElementById(id);
      if (s && s.parentElement.tagName === "DETAILS") s.parentElement.open = true;
    });
    openParts = null;
  }

  // The flow id follows the name until the user types one or the flow is
  // saved (then it is read-only).
  function slug(name) {
    return name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 64).replace(/-+$/, "");
  }
  document.addEventListener("input", function (e) {
    var t = e.target;
    if (!t.closest || !t.closest("#builder")) return;
    // The test payload is not part of the flow.
    if (t.name !== "_test_payload") dirty = true;
    var id = document.getElementById("id");
    if (t.id !== "name" || !id || id.readOnly) return;
    // Only an id that is empty or still the name's is replaced: one the
    // user typed stays.
    var prev = t.dataset.prev !== undefined ? t.dataset.prev : t.defaultValue;
    t.dataset.prev = t.value;
    if (id.value === "" || id.value === slug(prev)) id.value = slug(t.value);
  });

  // Leaving with unsaved changes asks first. Builder edits (add a step,
  // move one) keep the changes in the form, so only Save clears them.
  var dirty = false;
  document.addEventListener("change", function (e) {
    if (e.target.closest && e.target.closest("#builder") && e.target.name !== "_test_payload") dirty = true;
  });
  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("#builder button[name=_op]");
    if (b && (b.value === "save" || b.value === "savejson")) dirty = false;
  });
  document.addEventListener("submit", function (e) {
    var s = e.submitter;
    if (e.target.getAttribute("id") === "builder" && s && (s.value === "save" || s.value === "savejson")) dirty = false;
  });
  window.addEventListener("beforeunload", function (e) {
    if (!dirty || !document.getElementById("builder")) return;
    e.preventDefault();
    e.returnValue = "";
  });

  // Drag a step by its handle onto another step: it goes before it (top
  // half) or after it (bottom half), through the same move the menu makes.
  var dragged = null;
  document.addEventListener("dragstart", function (e) {
    var h = e.target.closest && e.target.closest(".drag-handle");
    if (!h) return;
    dragged = h.getAttribute("data-step");
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", dragged);
    var li = h.closest("li.step");
    if (li) e.dataTransfer.setDragImage(li, 20, 20);
  });
  function dropTarget(e) {
    var li = e.target.closest && e.target.closest("li.step");
    if (!li || !dragged) return null;
    var h = li.querySelector(".drag-handle");
    var sp = h && h.getAttribute("data-step");
    if (!sp || sp === dragged || sp.indexOf(dragged + ".") === 0) return null;
    var r = li.getBoundingClientRect();
    return { li: li, sp: sp, where: e.clientY < r.top + r.height / 2 ? "before" : "after" };
  }
  function clearDrop() {
    document.querySelectorAll(".drop-before, .drop-after").forEach(function (el) { el.classList.remove("drop-before", "drop-after"); });
  }
  document.addEventListener("dragover", function (e) {
    var t = dropTarget(e);
    if (!t) return;
    e.preventDefault();
    e.stopPropagation();
    clearDrop();
    t.li.classList.add("drop-" + t.where);
  });
  document.addEventListener("dragend", function () { clearDrop(); dragged = null; });
  document.addEventListener("drop", function (e) {
    var t = dropTarget(e);
    if (!t) return;
    e.preventDefault();
    e.stopPropagation();
    clearDrop();
    submitOp("move:" + dragged + ":" + t.where + ":" + t.sp);
    dragged = null;
  });

  // submitOp posts the builder with one _op, as its buttons do.
  function submitOp(op) {
    var form = document.getElementById("builder");
    if (!form) return;
    dirty = true;
    var b = document.createElement("button");
    b.type = "submit"; b.name = "_op"; b.value = op; b.hidden = true;
    form.appendChild(b);
    b.click();
    b.remove();
  }

  function refresh() {
    centreDiagrams();
    localTimes();
    markToFill();
  }
  document.addEventListener("htmx:afterSettle", function (e) {
    refresh();
    // Other swaps (the live checks of fields) settle too; only a new
    // builder (the old one is detached by now) restores folds and focus.
    var now = document.getElementById("builder");
    if (!oldBuilder || !now || now === oldBuilder) return;
    oldBuilder = null;
    reopen();
    focusNewStep();
    if (document.getElementById("form-errors")) dirty = true;
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", refresh);
  } else {
    refresh();
  }
})();
