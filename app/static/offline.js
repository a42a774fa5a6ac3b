// TrocheLog offline behaviour on pages: the offline banner, navigation that always leads
// somewhere, forms that save to the outbox when there is no signal, the unsent count and the
// list of entries still on this phone. Needs outbox.js (loaded first). With JavaScript off,
// forms post directly as always.
(function () {
  "use strict";
  var Outbox = window.TrocheOutbox;
  if (!Outbox || !window.indexedDB) return;

  function page() { return document.querySelector(".page"); }
  function currentUser() { var p = page(); return p ? p.getAttribute("data-user") || "" : ""; }
  function text(key) {
    var p = page();
    return (p && p.getAttribute("data-text-" + key)) || "";
  }
  function newId() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    // RFC 4122 version 4 from getRandomValues (older Safari).
    var b = window.crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); });
    return h.slice(0, 4).join("") + "-" + h.slice(4, 6).join("") + "-" + h.slice(6, 8).join("") +
      "-" + h.slice(8, 10).join("") + "-" + h.slice(10).join("");
  }

  // --- reading a form as the server would (the same field names the routes read) -----------

  function field(form, name) {
    var el = form.elements.namedItem(name);
    if (!el) return "";
    if (el instanceof RadioNodeList) return el.value || "";
    if (el.type === "checkbox") return el.checked ? el.value : "";
    return (el.value || "").trim();
  }
  function localToIso(value) {
    // A datetime-local value in this phone's zone, as an instant with its offset.
    if (!value) return "";
    var when = new Date(value);
    return isNaN(when.getTime()) ? value : when.toISOString();
  }
  function intOrRaw(raw) { return /^-?\d+$/.test(raw) ? parseInt(raw, 10) : raw; }
  function drop(data) {
    Object.keys(data).forEach(function (k) { if (data[k] === "" || data[k] === null) delete data[k]; });
    return data;
  }

  var ADAPTERS = {
    checkin: function (form) {
      var values = {};
      Array.prototype.forEach.call(form.querySelectorAll("[data-measure]"), function (el) {
        var key = el.getAttribute("data-measure");
        var kind = el.getAttribute("data-measure-kind");
        var raw = field(form, key);
        if (!raw) return;
        if (kind === "scale" || kind === "choice" || kind === "int") values[key] = intOrRaw(raw);
        else if (kind === "bool") values[key] = raw === "yes";
        else values[key] = raw;
      });
      var data = { slot: form.getAttribute("data-slot"), values: values };
      var dose = field(form, "dose_id");
      if (dose) data.dose_id = dose;
      return data;
    },
    questionnaire: function (form) {
      // Answers in item order, null for an item not asked (not on the page, or hidden by the
      // skip logic), as the server's form reader does.
      var answers = [];
      var count = parseInt(form.getAttribute("data-answers") || "0", 10);
      for (var i = 0; i < count; i += 1) answers.push(null);
      Array.prototype.forEach.call(form.querySelectorAll("[data-answer-index]"), function (box) {
        if (box.hidden) return;
        var raw = field(form, box.getAttribute("data-answer-key"));
        if (!raw) return;
        answers[parseInt(box.getAttribute("data-answer-index"), 10)] =
          raw === "yes" ? true : raw === "no" ? false : intOrRaw(raw);
      });
      var data = { instrument: form.getAttribute("data-instrument"), answers: answers };
      if (field(form, "follows")) data.follows_id = field(form, "follows");
      if (field(form, "version")) data.version = field(form, "version");
      return data;
    },
    dose: function (form) {
      var hold = field(form, "hold_minutes");
      return drop({
        taken_at: localToIso(field(form, "taken_at")),
        dose_mg: field(form, "dose_mg") || "0",
        route: field(form, "route"),
        gate_id: field(form, "gate_id"),
        override_reason: field(form, "override_reason"),
        no_gate_reason: field(form, "no_gate_reason"),
        already_taken: field(form, "already_taken") === "yes" ? true : "",
        lot: field(form, "lot"),
        rx_number: field(form, "rx_number"),
        hold_minutes: /^\d+$/.test(hold) ? parseInt(hold, 10) : "",
        swallowed: { swallowed: true, spat: false }[field(form, "swallowed")]
      });
    },
    ledger_count: function (form) {
      return { counted_at: localToIso(field(form, "count_counted_at")),
               count: field(form, "count_count") };
    },
    ledger_fill: function (form) {
      var data = {};
      ["filled_on", "count", "strength_mg", "rx_number", "pharmacy", "lot"].forEach(function (k) {
        var v = field(form, "fill_" + k);
        if (v) data[k] = v;
      });
      return data;
    }
  };

  // --- saving to the outbox -----------------------------------------------------------------

  function say(message, kind) {
    var main = document.getElementById("main");
    if (!main) return;
    var note = document.getElementById("offline-saved");
    if (!note) {
      note = document.createElement("p");
      note.id = "offline-saved";
      note.setAttribute("role", "status");
      main.insertBefore(note, main.firstChild);
    }
    note.className = "alert " + (kind || "alert-info");
    note.textContent = message;
    note.tabIndex = -1;
    note.focus();
  }

  function queue(form) {
    var kind = form.getAttribute("data-sync-kind");
    var idField = form.getAttribute("data-sync-id");
    var item = {
      id: field(form, idField) || newId(),
      kind: kind,
      recorded_at: new Date().toISOString(),
      data: ADAPTERS[kind](form),
      user: currentUser(),
      label: form.getAttribute("data-sync-label") || kind
    };
    return Outbox.add(item).then(function () {
      // The next entry from this form is a new one.
      var hidden = form.elements.namedItem(idField);
      if (hidden) hidden.value = newId();
      if ("serviceWorker" in navigator && window.SyncManager) {
        navigator.serviceWorker.ready.then(function (reg) {
          return reg.sync.register("outbox-flush");
        }).catch(function () { /* Background Sync is a bonus; pages flush too */ });
      }
      return item;
    });
  }

  function afterQueued(form, item) {
    var next = form.getAttribute("data-offline-next");
    if (item.kind === "questionnaire" && item.data.instrument === "phq9") {
      var item9 = item.data.answers[8];
      if (typeof item9 === "number" && item9 > 0) {
        // The safety path does not wait for a signal: straight on to the screener.
        window.location.assign("/questionnaires/cssrs?follows=" + encodeURIComponent(item.id));
        return;
      }
    }
    if (next) { window.location.assign(next); return; }
    form.reset();
    say(text("saved-offline"));
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || navigator.onLine) return; // online: as usual
    if (!form.hasAttribute("data-sync-kind")) {
      if ((form.method || "get").toLowerCase() === "post") {
        // Not something the phone can keep (a sign-out, a prescriber's form): say so plainly
        // rather than leave the browser's own error page.
        event.preventDefault();
        event.stopImmediatePropagation();
        say(text("needs-signal"), "alert-error");
      }
      return;
    }
    event.preventDefault();
    event.stopImmediatePropagation();
    if (!form.reportValidity()) return;
    queue(form).then(function (item) { afterQueued(form, item); }, function () {
      say(text("not-saved"), "alert-error");
    });
  }, true);

  // --- navigation: offline, always somewhere visible -----------------------------------------

  var leaving = false;
  function fullNavigation(url) {
    // Once: htmx may also report the cancelled request as an error.
    if (leaving) return;
    leaving = true;
    window.location.assign(url);
  }

  document.addEventListener("htmx:before:request", function (event) {
    var ctx = event.detail && event.detail.ctx;
    if (!ctx || navigator.onLine) return;
    if ((ctx.request.method || "GET").toUpperCase() === "GET") {
      // A boosted fetch fails silently offline; a real navigation reaches the service worker.
      event.preventDefault();
      fullNavigation(ctx.request.action);
    }
  });
  document.addEventListener("htmx:error", function (event) {
    var ctx = event.detail && event.detail.ctx;
    if (ctx && ctx.request && (ctx.request.method || "GET").toUpperCase() === "GET") {
      fullNavigation(ctx.request.action);
    }
  });

  // --- what the page shows: banner, count, the entries still on this phone ------------------

  function banner() {
    var el = document.querySelector("[data-offline-banner]");
    if (el) el.hidden = navigator.onLine;
  }

  function render() {
    var user = currentUser();
    if (!user) return Promise.resolve();
    return Outbox.all(user).then(function (items) {
      Array.prototype.forEach.call(document.querySelectorAll("[data-outbox-count]"), function (el) {
        el.textContent = String(items.length);
        el.hidden = items.length === 0;
      });
      var panel = document.querySelector("[data-outbox]");
      if (!panel) return;
      panel.hidden = items.length === 0;
      var list = panel.querySelector("ul");
      list.textContent = "";
      items.forEach(function (item) {
        var li = document.createElement("li");
        li.className = "outbox-item outbox-" + item.status;
        li.setAttribute("data-outbox-item", item.id);
        var when = new Date(item.recorded_at);
        var title = document.createElement("span");
        title.textContent = item.label + " · " + when.toLocaleString([], {
          weekday: "short", hour: "2-digit", minute: "2-digit" });
        li.appendChild(title);
        var state = document.createElement("span");
        state.className = "badge";
        state.textContent = item.status === "rejected" ? text("rejected") : text("pending");
        li.appendChild(document.createTextNode(" "));
        li.appendChild(state);
        if (item.status === "rejected") {
          var why = document.createElement("p");
          why.className = "field-error";
          why.textContent = item.detail;
          li.appendChild(why);
          var discard = document.createElement("button");
          discard.type = "button";
          discard.className = "button";
          discard.textContent = text("discard");
          discard.addEventListener("click", function () {
            if (window.confirm(text("discard-confirm"))) Outbox.remove(item.id).then(render);
          });
          li.appendChild(discard);
        }
        list.appendChild(li);
      });
    });
  }

  var flushTimer = null;
  function flushSoon() {
    if (!navigator.onLine || !currentUser()) return;
    clearTimeout(flushTimer);
    flushTimer = setTimeout(function () {
      Outbox.flush().then(function (summary) {
        if (summary.sent && !summary.rejected) say(text("sent"), "alert-ok");
        if (summary.rejected) say(text("some-rejected"), "alert-error");
        render();
      });
    }, 50);
  }

  function warmCache() {
    // Keep the pages a patient needs offline fresh in the service worker's cache.
    var urls = (page() && page().getAttribute("data-offline-pages")) || "";
    if (!urls || !navigator.onLine || !navigator.serviceWorker) return;
    navigator.serviceWorker.ready.then(function (reg) {
      if (reg.active) reg.active.postMessage({ type: "warm", urls: urls.split(" ") });
    });
  }

  // Signing out (a sign-out the warning did not stop): the service worker drops the pages it
  // keeps for this person, and stops any warm-up still in flight. The server's Clear-Site-Data
  // wipes the rest.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || form.getAttribute("action") !== "/logout") return;
    if (navigator.serviceWorker && navigator.serviceWorker.controller) {
      navigator.serviceWorker.controller.postMessage({ type: "forget" });
    }
  }, true); // capture, after privacy.js's warning (loaded first), before htmx

  window.addEventListener(Outbox.CHANGED, render);
  if (navigator.serviceWorker) {
    navigator.serviceWorker.addEventListener("message", function (event) {
      if (event.data && event.data.type === Outbox.CHANGED) render();
      if (event.data && event.data.type === "warmed") {
        document.documentElement.setAttribute("data-offline-ready", "");
      }
    });
  }
  window.addEventListener("online", function () { banner(); flushSoon(); });
  window.addEventListener("offline", banner);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") flushSoon();
  });
  document.addEventListener("htmx:after:request", function (event) {
    var ctx = event.detail && event.detail.ctx;
    if (ctx && ctx.response && ctx.response.status < 400) flushSoon();
  });
  document.addEventListener("htmx:after:swap", function () { banner(); render(); });

  function start() {
    if (!navigator.onLine) {
      // A page from the service worker's cache carries the client ids it was rendered with;
      // every entry made from it offline needs ids of its own.
      Array.prototype.forEach.call(document.querySelectorAll("form[data-sync-id]"), function (f) {
        var hidden = f.elements.namedItem(f.getAttribute("data-sync-id"));
        if (hidden) hidden.value = newId();
      });
    }
    banner();
    render();
    flushSoon();
    warmCache();
    if (new URLSearchParams(window.location.search).get("screened") === "offline") {
      say(text("saved-offline"));
    }
    // The screener reached offline from a cached copy: link it to the PHQ-9 it follows.
    var form = document.querySelector('form[data-instrument="cssrs"]');
    var follows = new URLSearchParams(window.location.search).get("follows");
    if (form && follows && !form.elements.namedItem("follows")) {
      var hidden = document.createElement("input");
      hidden.type = "hidden";
      hidden.name = "follows";
      hidden.value = follows;
      form.appendChild(hidden);
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
