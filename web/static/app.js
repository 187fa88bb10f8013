// Switchyard UI behaviour. Everything works without this file; it adds
// the CSRF header to htmx requests, copy buttons, inserting references
// into the builder's fields, keeping focus across builder swaps, and live
// run updates over Server-Sent Events. No inline script anywhere: the
// Content-Security-Policy forbids it.
(function () {
  "use strict";

  function csrfToken() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }

  // Every htmx request carries the session's CSRF token as a header. The
  // builder's live check (a POST on a field marked data-check) sends that
  // field's text alone: htmx would add the whole form, where rows of a
  // key-value field share one name.
  document.addEventListener("htmx:configRequest", function (e) {
    var tok = csrfToken();
    if (tok) e.detail.headers["X-CSRF-Token"] = tok;
    var elt = e.detail.elt, fd = e.detail.formData;
    if (fd && elt && elt.hasAttribute && elt.hasAttribute("data-check")) {
      Array.from(fd.keys()).forEach(function (k) { fd.delete(k); });
      fd.append(elt.name, elt.value);
      // The check evaluates against the builder's sample, the Test payload.
      var sample = document.getElementById("test-payload");
      if (sample && sample.value.trim() !== "" && elt !== sample) {
        fd.append("_test_payload", sample.value);
        var meta = document.getElementById("sample-meta");
        if (meta && meta.value) fd.append("_sample_meta", meta.value);
      }
    }
  });

  // Copy buttons: data-copy holds the text.
  document.addEventListener("click", function (e) {
    var btn = e.target.closest("[data-copy]");
    if (!btn) return;
    var text = btn.getAttribute("data-copy");
    var done = function () {
      var old = btn.textContent;
      btn.textContent = "Copied";
      setTimeout(function () { btn.textContent = old; }, 1500);
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(done, function () {});
    }
  });

  // The builder field that last had focus receives inserted references.
  var lastField = null;
  document.addEventListener("focusin", function (e) {
    var t = e.target;
    // A condition row's value is a plain value, never a reference: while
    // it has focus, a click on a reference inserts nowhere.
    if (t.hasAttribute && t.hasAttribute("data-no-refs")) {
      lastField = null;
      return;
    }
    if (t.closest && t.closest("#builder") && (t.tagName === "TEXTAREA" ||
        (t.tagName === "INPUT" && (t.type === "text" || t.type === "")))) {
      lastField = t;
    }
  });

  document.addEventListener("click", function (e) {
    var btn = e.target.closest("button.ref");
    if (!btn) return;
    e.preventDefault();
    var field = lastField && document.body.contains(lastField) ? lastField : null;
    if (!field) return;
    var path = btn.getAttribute("data-ref");
    var kind = field.getAttribute("data-kind") || "";
    var start = field.selectionStart != null ? field.selectionStart : field.value.length;
    var end = field.selectionEnd != null ? field.selectionEnd : field.value.length;
    // Conditions and other bare expressions take the path itself; `with`
    // values take a {{ }} template, unless the cursor is inside one already
    // (say between the parentheses of an inserted function).
    var before = field.value.slice(0, start);
    var inTemplate = before.lastIndexOf("{{") > before.lastIndexOf("}}");
    var bare = inTemplate || kind === "condition" || kind === "expr" || kind === "items" || kind === "key";
    var text = bare ? path : "{{ " + path + " }}";
    // In JSON, a field goes in as a value of its own type: a quoted
    // "{{ path }}" (a lone template keeps the type: a number stays a
    // number, an object an object); inside a string it is text.
    // (Only in a JSON text area: a row of a data.set step reads its value
    // as JSON or as text, so a bare template is fine there.)
    if (kind === "json" && field.tagName === "TEXTAREA" && !inTemplate && !insideJSONString(before)) text = '"' + text + '"';
    field.value = field.value.slice(0, start) + text + field.value.slice(end);
    field.focus();
    var at = start + text.length;
    // A function that takes an argument: the cursor goes between its
    // parentheses, where the argument is typed.
    if (btn.hasAttribute("data-arg")) at = start + text.indexOf("()") + 1;
    try { field.setSelectionRange(at, at); } catch (err) { /* not a text field */ }
    field.dispatchEvent(new Event("input", { bubbles: true }));
    if (window.htmx) window.htmx.trigger(field, "ref-inserted");
  });

  // insideJSONString reports whether JSON text ends inside a string
  // literal (an odd number of unescaped quotes).
  function insideJSONString(text) {
    var inside = false;
    for (var i = 0; i < text.length; i++) {
      var ch = text[i];
      if (ch === "\\" && inside) { i++; continue; }
      if (ch === '"') inside = !inside;
    }
    return inside;
  }

  // "Did you mean {{ path }}?" under a template field: the button puts
  // the suggestion into the field its check output belongs to.
  document.addEventListener("click", function (e) {
    var btn = e.target.closest("button[data-fix]");
    if (!btn) return;
    var out = btn.closest("output");
    var field = out && document.getElementById(out.id.replace(/-check$/, ""));
    if (!field) return;
    field.value = btn.getAttribute("data-fix");
    field.focus();
    field.dispatchEvent(new Event("input", { bubbles: true }));
    if (window.htmx) window.htmx.trigger(field, "ref-inserted");
  });

  // Keep keyboard focus where it was when the builder, or the data
  // store's form (after its kind changed), is swapped.
  var focusID = null;
  function keepsFocus(t) {
    // getAttribute: the builder form's field named "id" shadows form.id.
    var id = t && t.getAttribute("id");
    return id === "builder" || id === "store-form";
  }
  document.addEventListener("htmx:beforeRequest", function (e) {
    if (keepsFocus(e.detail.target)) {
      var a = document.activeElement;
      focusID = a && a.id ? a.id : null;
    }
  });
  document.addEventListener("htmx:afterSettle", function (e) {
    if (!keepsFocus(e.detail.target)) return;
    var errs = document.getElementById("form-errors");
    var el = errs || (focusID && document.getElementById(focusID));
    if (el) el.focus();
    focusID = null;
  });

  // Live updates: an element with data-live-src listens to the event
  // stream and asks its data-live-target to refresh itself (hx-trigger
  // "live-refresh"). Bursts of events cause one refresh at a time.
  function live(el) {
    var src = el.getAttribute("data-live-src");
    if (!src || !window.EventSource) return;
    var es = new EventSource(src);
    var pending = false;
    var refresh = function () {
      if (pending) return;
      pending = true;
      setTimeout(function () {
        pending = false;
        var target = document.querySelector(el.getAttribute("data-live-target"));
        // A refresh would drop the runs the user ticked for a bulk action.
        if (target && target.querySelector("input.run-select:checked")) return;
        if (target && window.htmx) window.htmx.trigger(target, "live-refresh");
      }, 300);
    };
    es.addEventListener("run", refresh);
    es.addEventListener("step", refresh);
    // The browser resumes the stream with Last-Event-ID; "reset" says the
    // server could not replay what was missed (a restart, a long gap).
    es.addEventListener("reset", refresh);
    // Updates made between rendering the page and (re)connecting the
    // stream never arrive as events: refresh once the stream is open.
    es.addEventListener("open", refresh);
    window.addEventListener("pagehide", function () { es.close(); });
  }

  // The builder shows every verify option; hide those the chosen scheme
  // does not read (data-schemes lists the schemes that do).
  function syncVerify() {
    var sel = document.getElementById("trigger-verify-scheme");
    if (!sel) return;
    var scheme = sel.value;
    document.querySelectorAll("#builder [data-schemes]").forEach(function (el) {
      el.hidden = scheme === "" || el.getAttribute("data-schemes").split(" ").indexOf(scheme) < 0;
    });
  }
  document.addEventListener("change", function (e) {
    if (e.target && e.target.id === "trigger-verify-scheme") syncVerify();
  });
  document.addEventListener("htmx:afterSettle", syncVerify);

  // The condition builder and the schedule picker swap themselves whole
  // after each change. What the user typed while that answer was on its
  // way would be lost: keep it (text typed, an option chosen), and send it
  // again.
  function liveTarget(e) {
    var t = e.detail.target;
    return t && t.classList && (t.classList.contains("cond") || t.id === "schedule-picker") ? t : null;
  }
  function typedFields(root) {
    return root.querySelectorAll('input[type="text"], input[type="number"], input[type="time"], input:not([type]), select');
  }
  // What each request sent travels with the request itself: an older
  // answer must be compared with what it was asked, not with a later ask.
  document.addEventListener("htmx:beforeRequest", function (e) {
    var t = liveTarget(e);
    if (!t || !e.detail.xhr) return;
    var sent = {};
    typedFields(t).forEach(function (el) { if (el.id) sent[el.id] = el.value; });
    e.detail.xhr.switchyardSent = sent;
  });
  var typedSince = null;
  document.addEventListener("htmx:beforeSwap", function (e) {
    var t = liveTarget(e);
    var sent = t && e.detail.xhr && e.detail.xhr.switchyardSent;
    typedSince = null;
    if (!sent) return;
    typedFields(t).forEach(function (el) {
      if (el.id && el.id in sent && sent[el.id] !== el.value) {
        typedSince = typedSince || {};
        typedSince[el.id] = el.value;
      }
    });
  });
  document.addEventListener("htmx:afterSettle", function () {
    if (!typedSince) return;
    var changed = null;
    Object.keys(typedSince).forEach(function (id) {
      var el = document.getElementById(id);
      if (el) { el.value = typedSince[id]; changed = el; }
    });
    typedSince = null;
    if (changed) changed.dispatchEvent(new Event("change", { bubbles: true }));
  });

  // A schedule not saved yet runs in the browser's time zone unless the
  // user picks another: fill the empty field and let the picker's preview
  // follow (its change event posts the form).
  function browserZone() {
    var z = document.querySelector("#trigger-timezone[data-browser-zone]");
    if (!z || z.value) return;
    z.removeAttribute("data-browser-zone");
    var tz = "";
    try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (err) { return; }
    if (!tz) return;
    z.value = tz;
    z.dispatchEvent(new Event("change", { bubbles: true }));
  }
  document.addEventListener("htmx:afterSettle", browserZone);
  // Countdowns (the builder's "Listen for test event"): data-deadline is
  // the end in Unix milliseconds.
  function tick() {
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var left = Math.max(0, Math.round((Number(el.getAttribute("data-deadline")) - Date.now()) / 1000));
      var text = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
      if (el.textContent !== text) el.textContent = text;
    });
  }
  setInterval(tick, 1000);

  // On a phone the navigation scrolls sideways (app.css): the current
  // page's link is brought into view, without scrolling the page.
  function showCurrentNav() {
    var nav = document.querySelector(".topbar nav");
    var cur = nav && nav.querySelector('[aria-current="page"]');
    if (!cur) return;
    var left = cur.offsetLeft - nav.offsetLeft;
    if (left + cur.offsetWidth > nav.clientWidth) nav.scrollLeft = left - 16;
  }

  function init() {
    showCurrentNav();
    document.querySelectorAll("[data-live-src]").forEach(live);
    syncVerify();
    browserZone();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
