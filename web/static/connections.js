// Connections without leaving the builder: "+ New connection" beside a
// connection field opens a dialog that saves the connection through the
// API and selects it in that field; "Test connection" asks the service
// whether it accepts the selected connection; connection fields pick up
// connections created elsewhere (another tab, the Connections page) when
// they get focus or the page becomes visible again. No inline script: the
// Content-Security-Policy forbids it.
(function () {
  "use strict";

  function csrfToken() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }

  function api(method, path, body) {
    var opts = { method: method, credentials: "same-origin", headers: { "X-CSRF-Token": csrfToken() } };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(path, opts).then(function (resp) {
      return resp.text().then(function (text) {
        var data = {};
        try { data = text ? JSON.parse(text) : {}; } catch (e) { data = { error: text }; }
        return { status: resp.status, data: data };
      });
    });
  }

  // typesOf lists the connection types a select accepts; empty: any.
  function typesOf(sel) {
    return (sel.getAttribute("data-conn-types") || "").split(",")
      .map(function (s) { return s.trim(); }).filter(Boolean);
  }

  function accepts(sel, type) {
    var ts = typesOf(sel);
    return ts.length === 0 || ts.indexOf(type) >= 0;
  }

  // addOption adds a connection to a select unless it is there.
  function addOption(sel, c) {
    var exists = Array.from(sel.options).some(function (o) { return o.value === c.name; });
    if (exists || !accepts(sel, c.type)) return;
    var o = document.createElement("option");
    o.value = c.name;
    o.textContent = sel.getAttribute("data-conn-show-type") ? c.name + " (" + c.type + ")" : c.name;
    sel.appendChild(o);
  }

  var known = [];
  function refresh() {
    if (!document.querySelector("select[data-conn-types]")) return Promise.resolve();
    return api("GET", "/api/connections").then(function (r) {
      if (r.status !== 200 || !r.data.connections) return;
      known = r.data.connections;
      document.querySelectorAll("select[data-conn-types]").forEach(function (sel) {
        known.forEach(function (c) { addOption(sel, c); });
      });
    }).catch(function () {});
  }
  document.addEventListener("focusin", function (e) {
    if (e.target.matches && e.target.matches("select[data-conn-types]")) refresh();
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") refresh();
  });

  // slug derives a connection id from a label, as web/ui_connname.go
  // does: "HubSpot main" becomes hubspot_main (an id expressions can
  // write as secrets.hubspot_main),
  // with _2, _3 … added when the id is taken, so a new connection never
  // replaces one that exists.
  function slug(label) {
    var s = label.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "")
      .slice(0, 56).replace(/_+$/, "");
    if (s && /^[0-9]/.test(s)) s = "c_" + s;
    return s;
  }

  var dlg = null, target = null, savedName = "";
  function $(id) { return document.getElementById(id); }

  function derivedName() {
    var base = slug($("cd-label").value);
    if (!base) return "";
    if (savedName && (savedName === base || savedName.indexOf(base + "_") === 0)) return savedName;
    var taken = {};
    known.forEach(function (c) { taken[c.name] = true; });
    var name = base, n = 2;
    while (taken[name]) name = base + "_" + n++;
    return name;
  }

  function currentType() { return $("cd-type").value; }

  function showType() {
    var type = currentType();
    document.querySelectorAll("#connection-dialog .cd-fields").forEach(function (fs) {
      var on = fs.getAttribute("data-type") === type;
      fs.hidden = !on;
      fs.disabled = !on;
    });
    var opt = $("cd-type").selectedOptions[0];
    var testable = opt && opt.getAttribute("data-testable") === "true";
    $("cd-test").hidden = !testable;
    $("cd-test-help-line").hidden = !testable;
    $("cd-test-help").textContent = (opt && opt.getAttribute("data-test-help")) || "";
    $("cd-test-url-field").hidden = !(opt && opt.getAttribute("data-test-url") === "true");
  }

  function clearErrors() {
    document.querySelectorAll("#connection-dialog .field-error").forEach(function (d) { d.textContent = ""; });
  }

  function showErrors(data) {
    var details = data.details || [];
    if (details.length === 0) {
      $("cd-error").textContent = data.error || "The connection was not saved.";
      return;
    }
    details.forEach(function (d) {
      var box = null;
      if (d.field === "name") box = $("cd-name-error");
      else if (d.field.indexOf("values.") === 0) {
        box = $("cd-" + currentType().replace(/[^A-Za-z0-9_-]/g, "-") + "-" + d.field.slice(7).replace(/[^A-Za-z0-9_-]/g, "-") + "-error");
      }
      var p = document.createElement("p");
      p.textContent = d.message;
      (box || $("cd-error")).appendChild(p);
    });
    var first = dlg.querySelector(".field-error p");
    var field = first && first.closest(".field") && first.closest(".field").querySelector("input, select, textarea");
    if (field) field.focus();
  }

  // save stores the connection; the fields stay as typed whatever the
  // answer, so a mistake is fixed in place.
  function save() {
    clearErrors();
    var name = derivedName();
    if (!name) {
      $("cd-name-error").textContent = "Give the connection a name, e.g. HubSpot main.";
      $("cd-label").focus();
      return Promise.resolve(null);
    }
    var values = {}, missing = null;
    var fs = dlg.querySelector('.cd-fields[data-type="' + currentType() + '"]');
    fs.querySelectorAll("input, select, textarea").forEach(function (el) {
      if (el.value !== "") values[el.name] = el.value;
      else if (el.hasAttribute("data-required")) {
        var box = $(el.id + "-error");
        if (box) box.textContent = "required";
        missing = missing || el;
      }
    });
    // The server checks the same; asking first keeps a slip off the wire.
    if (missing) {
      missing.focus();
      return Promise.resolve(null);
    }
    return api("POST", "/api/connections", { name: name, type: currentType(), values: values }).then(function (r) {
      if (r.status !== 201) {
        showErrors(r.data);
        return null;
      }
      savedName = name;
      known = known.filter(function (c) { return c.name !== name; }).concat([{ name: name, type: currentType() }]);
      return name;
    });
  }

  function use(name) {
    var c = { name: name, type: currentType() };
    document.querySelectorAll("select[data-conn-types]").forEach(function (sel) { addOption(sel, c); });
    if (target && document.body.contains(target)) {
      target.value = name;
      target.dispatchEvent(new Event("change", { bubbles: true }));
    }
    dlg.close();
    if (target && document.body.contains(target)) target.focus();
  }

  function showResult(el, res) {
    el.textContent = res.message || res.error || "";
    el.classList.toggle("check-ok", !!res.ok);
    el.classList.toggle("check-error", !res.ok);
  }

  function open(sel) {
    dlg = $("connection-dialog");
    if (!dlg || typeof dlg.showModal !== "function") return false;
    target = sel;
    savedName = "";
    $("connection-dialog-form").reset();
    clearErrors();
    $("cd-test-result").textContent = "";
    var types = sel ? typesOf(sel) : [];
    var first = "";
    Array.from($("cd-type").options).forEach(function (o) {
      var ok = types.length === 0 || types.indexOf(o.value) >= 0;
      o.hidden = !ok;
      o.disabled = !ok;
      if (ok && !first) first = o.value;
    });
    $("cd-type").value = first;
    $("cd-name").textContent = "…";
    showType();
    refresh();
    dlg.showModal();
    $("cd-label").focus();
    return true;
  }

  document.addEventListener("click", function (e) {
    var t = e.target;
    var opener = t.closest && t.closest("[data-new-connection]");
    if (opener) {
      if (open($(opener.getAttribute("data-new-connection")))) e.preventDefault();
      return;
    }
    var tester = t.closest && t.closest("[data-test-connection]");
    if (tester) {
      e.preventDefault();
      var id = tester.getAttribute("data-test-connection");
      var sel = $(id), out = $(id + "-test-result");
      if (!sel || !sel.value) {
        showResult(out, { ok: false, message: "Choose a connection first." });
        return;
      }
      out.textContent = "Testing…";
      api("POST", "/api/connections/" + encodeURIComponent(sel.value) + "/test", {}).then(function (r) {
        showResult(out, r.data);
      });
      return;
    }
    if (!dlg || !dlg.contains(t)) return;
    if (t.id === "cd-cancel") {
      dlg.close();
    } else if (t.id === "cd-save") {
      save().then(function (name) { if (name) use(name); });
    } else if (t.id === "cd-test") {
      var res = $("cd-test-result");
      res.textContent = "Saving and testing…";
      res.className = "test-result";
      save().then(function (name) {
        if (!name) { res.textContent = ""; return; }
        return api("POST", "/api/connections/" + encodeURIComponent(name) + "/test", { url: $("cd-test-url").value }).then(function (r) {
          showResult(res, r.data);
        });
      });
    }
  });

  // The Test buttons beside connection fields need this script: show
  // them, also in builder forms htmx swaps in.
  function showTestButtons() {
    document.querySelectorAll("[data-test-connection][hidden]").forEach(function (b) { b.hidden = false; });
  }
  showTestButtons();
  document.addEventListener("htmx:load", showTestButtons);

  document.addEventListener("input", function (e) {
    if (e.target.id === "cd-label") $("cd-name").textContent = derivedName() || "…";
  });
  document.addEventListener("change", function (e) {
    if (e.target.id === "cd-type") showType();
  });
  // Enter in the dialog saves instead of closing it.
  document.addEventListener("submit", function (e) {
    if (e.target.id === "connection-dialog-form") {
      e.preventDefault();
      save().then(function (name) { if (name) use(name); });
    }
  });
})();
