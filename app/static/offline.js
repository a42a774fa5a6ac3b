// TrocheLog offline behaviour on pages: the offline banner, navigation that always leads
// somewhere, forms that save to the outbox when there is no signal, the unsent count and the
// list of entries still on this phone. Needs outbox.js (loaded first). With JavaScript off,
// forms post directly as always.
(function () {
  "use strict";
  var Outbox = window.TrocheOutbox;
  if (!Outbox || !window.indexedDB) return;

  // The PHQ-9 a screener opened offline follows (its client id), kept for that page only.
  var FOLLOWS = "trochelog:screener-follows";
  // What the next page should say about an entry just kept on the phone, in the words of the
  // form that kept it (a dose offline goes on to Today, whose saved copy cannot know of it).
  var KEPT_NOTE = "trochelog:kept-note";
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

  // Times as the server writes them, in the patient's zone (app.js TrocheClock).
  var Clock = window.TrocheClock;

  // --- reading a form as the server would (the same field names the routes read) -----------

  // The button that sent the form, when it carries a value (one-tap mood: each number is a
  // submit button named "mood"): the browser posts its value, so the outbox keeps it too.
  var submitter = null;
  function field(form, name) {
    if (submitter && submitter.form === form && submitter.name === name) return submitter.value;
    var el = form.elements.namedItem(name);
    if (!el) return "";
    if (el instanceof RadioNodeList) return el.value || "";
    if (el.type === "checkbox") return el.checked ? el.value : "";
    return (el.value || "").trim();
  }
  function localToIso(value) {
    // A datetime-local value in the patient's zone (the page's clock), as the server reads the
    // same form online: not the phone's zone, which may be another.
    if (!value) return "";
    return Clock.instant(value) || value;
  }
  // A form's hidden field of that name, added when the form has none.
  function hiddenField(form, name) {
    var found = form.elements.namedItem(name);
    if (found) return found;
    var added = document.createElement("input");
    added.type = "hidden";
    added.name = name;
    form.appendChild(added);
    return added;
  }
  function intOrRaw(raw) { return /^-?\d+$/.test(raw) ? parseInt(raw, 10) : raw; }
  function drop(data) {
    Object.keys(data).forEach(function (k) { if (data[k] === "" || data[k] === null) delete data[k]; });
    return data;
  }

  var ADAPTERS = {
    gate: function (form) {
      var checklist = {};
      Array.prototype.forEach.call(form.querySelectorAll(".checklist input[type=checkbox]"),
        function (box) { checklist[box.name] = box.checked; });
      return drop({
        systolic: intOrRaw(field(form, "systolic")),
        diastolic: intOrRaw(field(form, "diastolic")),
        heart_rate: intOrRaw(field(form, "heart_rate")),
        checklist: checklist
      });
    },
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
    sitter_checkin: function (form) {
      // A sitter's entry for the patient the form names; without a dose id (the page was
      // loaded before the dose synced) the server joins it to the session it falls in.
      var data = ADAPTERS.checkin(form);
      data.patient_id = form.getAttribute("data-patient");
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
    dose_revision: function (form) {
      // As the history route builds it: lot and Rx number always, amount and time when given.
      var changes = { lot: field(form, "lot"), rx_number: field(form, "rx_number") };
      if (field(form, "dose_mg")) changes.dose_mg = field(form, "dose_mg");
      if (field(form, "taken_at")) changes.taken_at = localToIso(field(form, "taken_at"));
      return { dose_id: form.getAttribute("data-dose-id"), reason: field(form, "reason"),
               changes: changes };
    },
    dose_entered_in_error: function (form) {
      return { dose_id: form.getAttribute("data-dose-id"), reason: field(form, "reason") };
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

  // Whether the note at the top says an entry is kept on the phone, to be sent: it must not
  // go on saying so once the entry was sent or refused, whoever sent it (settleKept).
  var keptSaid = false;
  function sayKept(message) {
    say(message);
    keptSaid = true;
  }

  // `quietly`: said without taking the focus, for news that arrives while the person may be
  // typing (a send in the background); the note is a status, read out where it is.
  function say(message, kind, quietly) {
    keptSaid = false;
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
    if (!quietly) note.focus();
  }

  // Everything sent: the page was drawn before the server had it (Check-ins still said the mood
  // was due, Today named the dose before: a phone tester), so the way to the page as it is now.
  function saySent(quietly) {
    say(text("sent"), "alert-ok", quietly);
    linkInNote(window.location.pathname + window.location.search, text("show-fresh"));
  }

  // A link after what `say` just said: where to go about it.
  function linkInNote(href, words) {
    var note = document.getElementById("offline-saved");
    if (!note) return;
    var link = document.createElement("a");
    link.href = href;
    link.textContent = words;
    note.appendChild(document.createTextNode(" "));
    note.appendChild(link);
  }

  function queue(form) {
    var kind = form.getAttribute("data-sync-kind");
    var idField = form.getAttribute("data-sync-id");
    var item = {
      id: field(form, idField) || newId(),
      kind: kind,
      recorded_at: field(form, "written_at") || new Date().toISOString(),
      data: ADAPTERS[kind](form),
      user: currentUser(),
      label: form.getAttribute("data-sync-label") || kind
    };
    if (form.hasAttribute("data-offline-result")) {
      item.data.offline_verdict = form.getAttribute("data-offline-result");
    }
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

  // --- the offline gate: the same rules on the phone (offline-gate.js), the server judges again

  function snapshot() {
    // The Today snapshot the service worker keeps fresh (data-offline-pages lists it).
    return caches.match("/api/v1/today", { ignoreVary: true })
      .then(function (response) { return response ? response.json() : null; })
      .catch(function () { return null; });
  }

  // The C-SSRS screener's answers (item order: q1…q6, then q6's "past 3 months") hold dosing
  // until a prescriber reviews them when the server's triage is "high" (instruments.py
  // cssrs_risk): intent or a plan, or behaviour not known to be older than 3 months.
  function screenHolds(answers) {
    if (answers[3] === true || answers[4] === true) return true;
    return answers[5] === true && answers[6] !== false;
  }

  // Sent and accepted, but perhaps after the snapshot was made: the snapshot is the server's
  // word only for what it had by its `now`, taken before it read. An entry the server
  // committed before that `now` (its answer's `answered_at`, a second on for the clocks of
  // two app servers) is in the snapshot: the phone lets it go.
  var CLOCKS_APART_MS = 1000;
  function unseenSent(body, sent) {
    var made = Date.parse(body && body.now);
    var reflected = [];
    var unseen = sent.filter(function (item) {
      var seen = made > Date.parse(item.answered_at) + CLOCKS_APART_MS;
      if (seen) reflected.push(item.id);
      return !seen;
    });
    Outbox.forgetSent(reflected).catch(function () { /* tried again next time */ });
    return unseen;
  }

  // The rules' inputs on this phone: the snapshot, with what the phone logged since folded in
  // (entries still in the outbox, and those sent after the snapshot was made). Null without a
  // snapshot.
  function gateInputs() {
    var Gate = window.TrocheGate;
    var user = currentUser();
    return Promise.all([snapshot(), Outbox.all(user), Outbox.sent(user)]).then(function (found) {
      var inputs = Gate && Gate.fromToday(found[0]);
      if (!inputs) return null;
      // A copy saved before the record said whether a screener is pending cannot clear a
      // check: it cannot tell (the phone says so and the server judges when it can).
      if (inputs.state && typeof inputs.state.screener_pending !== "boolean") return null;
      var history = inputs.history;
      var state = inputs.state;
      // In the order they were made (the sent ones come after the unsent in the two lists): a
      // screener clears the PHQ-9 answer before it, never one after it.
      var mine = found[1].concat(unseenSent(found[0], found[2])).sort(function (a, b) {
        return (Date.parse(a.recorded_at) || 0) - (Date.parse(b.recorded_at) || 0);
      });
      // A correction of a recorded dose, not yet in the snapshot: judged as the server will,
      // at its corrected time and amount (a dose marked entered in error keeps counting
      // until the server has it: the careful side).
      mine.forEach(function (item) {
        if (item.kind !== "dose_revision" || item.status === "rejected") return;
        var changes = item.data.changes || {};
        history.forEach(function (dose) {
          if (!dose.id || dose.id !== item.data.dose_id) return;
          if (changes.taken_at) dose.taken_at = changes.taken_at;
          if (changes.dose_mg) dose.dose_mg = String(changes.dose_mg);
        });
      });
      mine.forEach(function (item) {
        // What this phone has logged since the snapshot counts too.
        var counts = item.status === "pending" || item.answered_at;
        if (item.kind === "dose" && counts && item.data.taken_at) {
          history.push({ taken_at: item.data.taken_at, dose_mg: String(item.data.dose_mg) });
        }
        // A crisis reading, at a safety check or in a check-in (the server's bp_emergency
        // event, app/checkins/service.py): the lockout and the 5-minute rest start from it.
        var reading = item.kind === "gate" ? item.data
          : item.kind === "checkin" ? (item.data.values || {}) : null;
        if (reading && (reading.systolic >= Gate.CRISIS_SYSTOLIC ||
            reading.diastolic >= Gate.CRISIS_DIASTOLIC)) {
          state = Gate.noteEmergency(state, item.recorded_at);
        }
        if (item.kind === "questionnaire" && item.data.instrument === "cssrs" &&
            screenHolds(item.data.answers || [])) {
          state = Gate.noteReview(state);
        }
        // PHQ-9 item 9 above 0 holds dosing until a screener answered after it (the server's
        // safety state, app/safety/service.py); a screener the server refused clears nothing.
        if (item.kind === "questionnaire" && item.data.instrument === "phq9") {
          var item9 = (item.data.answers || [])[8];
          if (typeof item9 === "number" && item9 > 0) {
            state = Gate.noteScreener(state, true, item.recorded_at);
          }
        }
        if (item.kind === "questionnaire" && item.data.instrument === "cssrs" &&
            item.status !== "rejected") {
          state = Gate.noteScreener(state, false, item.recorded_at);
        }
      });
      // When the server last told this phone the record: a dose logged on another device
      // since then is not known here, so the verdict says as of when it judges.
      return { snapshot: inputs.snapshot, history: history, state: state,
               asOf: found[0] && found[0].now,
               checks: mine.filter(function (item) {
                 return item.kind === "gate" && item.status !== "rejected";
               }) };
    });
  }

  // The phone's verdict on a check ({result, asOf}): the result is null when it cannot judge,
  // and asOf the time of the record it judged with (the snapshot's), null without one.
  function offlineVerdict(form, data) {
    var Gate = window.TrocheGate;
    return gateInputs().then(function (inputs) {
      if (!inputs) return { result: null, asOf: null };
      var asOf = inputs.asOf || null;
      try {
        var now = new Date().toISOString();
        var wait = Gate.emergencyRecheckAt(inputs.state, now);
        // As the server: rest first, then measure.
        if (wait) return { result: { recheckAt: wait }, asOf: asOf };
        return { result: Gate.evaluateGate(inputs.snapshot, inputs.history, data, now,
                                           form.getAttribute("data-proposed-mg"), inputs.state),
                 asOf: asOf };
      } catch (e) {
        return { result: null, asOf: asOf }; // cannot judge: never an OK
      }
    });
  }

  // A dose logged with a safety check that passed: the amount and time typed in are judged as
  // the server will judge them (app/doses/service.py record_dose): the interval and the rolling
  // maximums at its time, and the holds since the check. None of these can be overridden, so
  // the phone keeps nothing that breaks them and says why. A dose already taken, or one without
  // a check, is recorded as it happened and flagged by the server.
  function doseBreaks(form) {
    var Gate = window.TrocheGate;
    var data = ADAPTERS.dose(form);
    if (!data.gate_id || data.already_taken === true) return Promise.resolve([]);
    return gateInputs().then(function (inputs) {
      if (!inputs) return [];
      try {
        var at = data.taken_at || new Date().toISOString();
        // The record's holds at the dose's time and ten minutes on, as the server judges them
        // (record_holds): a form's time is its minute, and a crisis reading just after it
        // (in another tab) must hold the dose too.
        var later = new Date(Date.parse(at) + FUTURE_TOLERANCE_MS).toISOString();
        var holds = {};
        Gate.safetyHoldReasons(inputs.snapshot, inputs.state, later)
          .concat(Gate.safetyHoldReasons(inputs.snapshot, inputs.state, at))
          .forEach(function (r) { holds[r.code] = r; });
        var held = Object.keys(holds).map(function (code) { return holds[code]; })
          .concat(newerCheckHolds(inputs, data, at));
        var reasons = Gate.doseLimitReasons(inputs.snapshot, inputs.history, at, data.dose_mg)
          .concat(held);
        // A hold means the check no longer stands (an amount or a time can be put right in
        // the form; a hold cannot).
        reasons.checkHeld = held.length > 0;
        return reasons;
      } catch (e) {
        return []; // an amount or time it cannot read: the server answers for it
      }
    });
  }

  // A newer check's readings and checklist hold a dose that names an older one, as the server
  // judges it (app/doses/service.py _newer_check, READING_CODES): the latest reading decides.
  // A phone tester passed at 128/82 in one tab, was held at 160/100 in another, and the first
  // tab's "Log dose" kept the dose offline ("saved on this phone"), refused once sent.
  // A newer emergency reading holds through the record's lockout (doseBreaks), as on the
  // server: not listed twice.
  var READING_CODES = ["bp_hold", "pulse_hold", "sitter_required", "checklist_failed"];
  var FUTURE_TOLERANCE_MS = 10 * 60 * 1000;  // app/doses/service.py FUTURE_TOLERANCE
  function newerCheckHolds(inputs, data, takenAt) {
    var Gate = window.TrocheGate;
    var valid = (inputs.snapshot.gate_valid_minutes || 30) * 60000;
    var named = inputs.checks.filter(function (c) { return c.id === data.gate_id; })[0];
    // Written down now (a dose already taken is not judged here), so a check made before now
    // and after the named one counts; with the named one not on this phone (made online), any
    // within a check's validity: the careful side.
    var until = Date.now() + 60000;  // a form's time is its minute
    var since = named ? Date.parse(named.recorded_at)
      : Math.min(Date.parse(takenAt) || Date.now(), Date.now()) - valid;
    var newer = inputs.checks.filter(function (c) {
      var t = Date.parse(c.recorded_at);
      return c.id !== data.gate_id && t >= since && t < until;
    }).sort(function (a, b) { return Date.parse(a.recorded_at) - Date.parse(b.recorded_at); });
    var latest = newer[newer.length - 1];
    if (!latest) return [];
    var judged = Gate.evaluateGate(inputs.snapshot, inputs.history, latest.data,
                                   latest.recorded_at, data.dose_mg, inputs.state);
    return judged.reasons.filter(function (r) { return READING_CODES.indexOf(r.code) >= 0; });
  }

  // The words for a reason code live with the offline verdict's (the safety check's section,
  // or its copy kept in a <template> on a page that shows a passed check).
  var shownWords = null; // the words of a verdict this page has shown (its section replaced)
  function verdictWords() {
    var words = document.querySelector("[data-offline-verdict]") || shownWords;
    var kept = document.getElementById("offline-gate-start");
    if (!words && kept) words = kept.content.querySelector("[data-offline-verdict]");
    return function (key) { return (words && words.getAttribute("data-text-" + key)) || ""; };
  }

  /** A reason in the page's words: the server's sentence for its code (app/doses/reasons.py)
   * with each {slot} filled from the parameter of that name, as the server fills it online. */
  function reasonWords(reason, w) {
    var sentence = reason.message || w("reason-" + reason.code);
    if (!sentence) return String(reason.code).replace(/_/g, " ");
    var params = reason.params || {};
    return Clock.typeset(sentence.replace(/\{(\w+)\}/g, function (slot, name) {
      var value = params[name];
      var instant = /_at$|^until$/.test(name);  // as app/doses/reasons.py _INSTANTS
      if (value === null || value === undefined || value === "") return instant ? "" : "\u2014";
      if (Array.isArray(value)) {
        // The checklist's items not ticked: each its own sentence, one after another.
        return value.map(function (item) { return w("item-" + item) || item; }).join(" ");
      }
      if (instant) return Clock.text(value, "datetime");
      return Clock.number(value);
    }));
  }

  function showVerdict(form, item, result, judgedAsOf) {
    var words = document.querySelector("[data-offline-verdict]");
    var section = document.getElementById("gate-result");
    if (!words || !section) { sayKept(text("saved-offline")); return; }
    shownWords = words;
    function w(key) { return words.getAttribute("data-text-" + key) || ""; }
    var template = document.getElementById("offline-dose-form"); // before the section empties
    var clinic = document.getElementById("offline-clinic-call");
    var crisis = document.getElementById("offline-crisis");
    var screener = document.getElementById("offline-screener");
    // Which session an extra dose would push back (_extra_notice.html), said first beside a
    // check that passes, as online: the offline verdict dropped it.
    var extra = document.getElementById("extra-notice");
    if (!document.getElementById("offline-gate-start")) {
      // The check as it was before this verdict, for checkAgain: a pass that a hold overtakes
      // gives way to it.
      var start = document.createElement("template");
      start.id = "offline-gate-start";
      Array.prototype.forEach.call(section.childNodes, function (node) {
        start.content.appendChild(node.cloneNode(true));
      });
      document.body.appendChild(start);
    }
    section.textContent = "";
    var heading = document.createElement("h2");
    heading.id = "gate-heading";
    var verdict = result ? result.verdict : "hold";
    heading.textContent = w(verdict === "ok" ? "ok" : verdict === "emergency" ? "emergency" : "hold");
    section.appendChild(heading);
    if (verdict === "ok" && extra) section.appendChild(extra);
    var alert = document.createElement("div");
    alert.className = "alert " + (verdict === "ok" ? "alert-ok" : verdict === "emergency"
      ? "alert-crisis" : "alert-hold");
    alert.setAttribute("role", verdict === "ok" ? "status" : "alert");
    var lines = [];
    if (!result) lines.push(w("cannot-check"));
    if (verdict === "emergency") lines.push(w("guidance"));
    var list = document.createElement("ul");
    (result ? result.reasons : []).forEach(function (reason) {
      var li = document.createElement("li");
      li.textContent = reasonWords(reason, w);
      list.appendChild(li);
    });
    lines.forEach(function (line) {
      var p = document.createElement("p");
      p.textContent = line;
      alert.appendChild(p);
    });
    if (list.children.length) alert.appendChild(list);
    if (verdict === "hold" && result) {
      var wait = document.createElement("p");
      wait.textContent = w("wait");
      alert.appendChild(wait);
    }
    // The lockout a crisis reading starts, said as online (_gate_section.html).
    if (verdict === "emergency" && w("lockout")) {
      var lockout = document.createElement("p");
      lockout.textContent = w("lockout");
      alert.appendChild(lockout);
    }
    var here = document.createElement("p");
    here.className = "hint";
    var asOf = judgedAsOf && Clock.text(judgedAsOf, "datetime");
    here.textContent = asOf ? Clock.typeset(w("checked-here-as-of").replace("{time}", asOf))
      : w("checked-here");
    alert.appendChild(here);
    section.appendChild(alert);
    if (verdict === "emergency") {
      var call = document.createElement("a");
      call.className = "button crisis";
      call.href = "tel:911";
      call.textContent = w("call");
      section.appendChild(call);
    }
    // What the page keeps for an offline hold (_gate_start.html), copied in as online
    // (doses/_hold_help.html) when called for.
    function besideVerdict(template, wanted) {
      if (wanted && template && template.content.firstElementChild) {
        section.appendChild(template.content.firstElementChild.cloneNode(true));
      }
    }
    var codes = (result ? result.reasons : []).map(function (reason) { return reason.code; });
    var unfinished = codes.indexOf("screener_pending") >= 0;
    // The way to end a hold for the safety questions: the screener works offline too.
    besideVerdict(screener, unfinished);
    // "Call my clinic" beside a hold or an emergency.
    besideVerdict(clinic, verdict !== "ok");
    // A suicidality answer always leads to the crisis resources, offline too.
    besideVerdict(crisis, unfinished || codes.indexOf("safety_review") >= 0);
    // Online, a crisis reading offers "Measure again" under its guidance; offline the phone
    // judges the new reading too (its rest and lockout start from this one).
    if (verdict === "emergency" && w("measure-again")) {
      var again = document.createElement("button");
      again.type = "button";
      again.className = "button";
      again.textContent = w("measure-again");
      again.addEventListener("click", function () {
        checkAgain(section);
        var first = section.querySelector("input:not([type=hidden])");
        if (first) first.focus();
      });
      var row = document.createElement("p");
      row.appendChild(again);
      section.appendChild(row);
    }
    if (verdict === "ok") {
      var dose = template.content.firstElementChild.cloneNode(true);
      dose.elements.namedItem("gate_id").value = item.id;
      dose.elements.namedItem("dose_client_id").value = newId();
      var taken = dose.elements.namedItem("taken_at");
      if (taken) taken.value = Clock.fieldValue(new Date());
      section.appendChild(dose);
    }
    section.setAttribute("data-focus", "");
    section.setAttribute("tabindex", "-1");
    // After the removed form's button lets go of focus: the verdict is what the patient sees.
    setTimeout(function () { section.focus(); }, 0);
  }

  function sitterEmergency(item) {
    // Hard to rouse, or a breathing concern: the guidance shows at once, not after a sync.
    if (item.kind !== "sitter_checkin") return false;
    var values = item.data.values || {};
    if (values.sedation !== 3 && values.breathing !== true) return false;
    var template = document.getElementById("sitter-emergency");
    var main = document.getElementById("main");
    if (!template || !main) return false;
    var guidance = template.content.firstElementChild.cloneNode(true);
    guidance.tabIndex = -1;
    main.insertBefore(guidance, main.firstChild);
    guidance.focus();
    return true;
  }

  function afterQueued(form, item) {
    var next = form.getAttribute("data-offline-next");
    if (sitterEmergency(item)) {
      form.reset();
      sayKept(text("saved-offline"));
      var shown = document.querySelector("#main > .alert-crisis");
      if (shown) shown.focus();
      return;
    }
    if (item.kind === "questionnaire" && item.data.instrument === "phq9") {
      var item9 = item.data.answers[8];
      if (typeof item9 === "number" && item9 > 0) {
        // The safety path does not wait for a signal: straight on to the screener, which is
        // linked to this answer on the phone (never in the address: ?follows= there would
        // tell a proxy's log how item 9 was answered).
        try { window.sessionStorage.setItem(FOLLOWS, item.id); } catch (e) { /* private mode */ }
        window.location.assign("/questionnaires/cssrs");
        return;
      }
    }
    if (next) {
      var note = form.getAttribute("data-text-kept");
      if (note) {
        try { window.sessionStorage.setItem(KEPT_NOTE, note); } catch (e) { /* private mode */ }
      }
      window.location.assign(next);
      return;
    }
    form.reset();
    sayKept(text("saved-offline"));
  }

  // Every entry form says when it was written, by this phone's clock, online or not (first,
  // before htmx reads the form): the server keeps that time (app/sync/ids.py WRITTEN_AT), and
  // if the answer is lost the outbox keeps the same one, so its replay is the entry the
  // server may already hold, not "an id already used for a different entry".
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-sync-kind")) return;
    var stamp = hiddenField(form, "written_at");
    // Once per entry (its client id): a double tap sends the first stamp again, so the server
    // knows it for the same entry whatever this phone's clock says.
    var entry = field(form, form.getAttribute("data-sync-id") || "");
    if (!stamp.value || stamp.getAttribute("data-entry") !== entry) {
      stamp.value = new Date().toISOString();
      stamp.setAttribute("data-entry", entry);
    }
  }, true);

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || navigator.onLine) return; // online: as usual
    if (!form.hasAttribute("data-sync-kind")) {
      if ((form.method || "get").toLowerCase() === "post") {
        // Not something the phone can keep (a sign-out, a prescriber's form): say so plainly
        // rather than leave the browser's own error page.
        event.preventDefault();
        event.stopImmediatePropagation();
        // A sign-out says who is still signed in: someone handing the phone over must know.
        say(text(form.getAttribute("action") === "/logout" ? "signout-offline" : "needs-signal"),
            "alert-error");
      }
      return;
    }
    event.preventDefault();
    event.stopImmediatePropagation();
    if (!form.reportValidity()) return;
    keepOnPhone(form, event.submitter);
  }, true);

  // An entry kept in the outbox (no signal, or a send that failed on the way), after the checks
  // the server would make of it; a safety check shows the phone's verdict.
  function keepOnPhone(form, pressed) {
    submitter = pressed && pressed.name ? pressed : null;
    // A session entry that is not open yet is refused as the server would refuse it, with the
    // form's own notice, and nothing is kept (it was "saved on this phone", refused when sent).
    var opensAt = Date.parse(form.getAttribute("data-opens-at") || "");
    if (opensAt && Date.now() < opensAt) {
      var notice = document.getElementById("opens-notice");
      say((notice ? notice.textContent : "").trim() || text("not-saved"), "alert-error");
      return;
    }
    if (form.getAttribute("data-sync-kind") === "dose") {
      doseBreaks(form).then(function (reasons) {
        if (!reasons.length) {
          return queue(form).then(function (item) { afterQueued(form, item); });
        }
        var w = verdictWords();
        say([form.getAttribute("data-text-breaks") || ""].concat(reasons.map(function (r) {
          return reasonWords(r, w);
        }), [form.getAttribute("data-text-nothing-saved") || ""]).join(" ").trim(),
            "alert-error");
        // Held since it passed: "Safety check passed … You can take your dose now" and its
        // Log dose button stayed under the refusal (a phone tester read both at once). The
        // page offers the check again instead.
        var section = form.closest("#gate-result");
        if (reasons.checkHeld && section) checkAgain(section);
        return null;
      }).catch(function () { say(text("not-saved"), "alert-error"); });
      return;
    }
    if (form.getAttribute("data-sync-kind") === "gate") {
      var data = ADAPTERS.gate(form);
      // As the server refuses it (GateInput): said at the field, nothing saved.
      var lower = form.elements.namedItem("diastolic");
      if (lower && data.diastolic >= data.systolic) {
        lower.setCustomValidity(form.getAttribute("data-text-diastolic-below") || "");
        lower.addEventListener("input", function () { lower.setCustomValidity(""); },
                               { once: true });
        form.reportValidity();
        return;
      }
      offlineVerdict(form, data).then(function (judged) {
        var result = judged.result;
        if (result && result.recheckAt) {
          // Nothing is saved: the server would refuse this reading too.
          var from = Clock.text(result.recheckAt, "time");
          say(Clock.typeset(text("recheck-wait").replace("{time}", from)), "alert-error");
          return null;
        }
        // The verdict travels with the check, so the server can say where it disagrees.
        form.setAttribute("data-offline-result", result ? result.verdict : "hold");
        return queue(form).then(function (item) {
          showVerdict(form, item, result, judged.asOf);
        });
      }).catch(function () { say(text("not-saved"), "alert-error"); });
      return;
    }
    queue(form).then(function (item) { afterQueued(form, item); }, function () {
      say(text("not-saved"), "alert-error");
    });
  }

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
    if (!ctx || !ctx.request) return;
    if ((ctx.request.method || "GET").toUpperCase() === "GET") {
      fullNavigation(ctx.request.action);
      return;
    }
    // A write that never got its answer (the signal went mid-send, though the phone thought it
    // was online): kept on the phone with the same client id, so if the server did get it the
    // outbox's replay is a duplicate it ignores. Never lost without a word.
    var form = ctx.sourceElement;
    if (form instanceof HTMLFormElement && form.hasAttribute("data-sync-kind") &&
        form.hasAttribute("data-sync-id")) {
      keepOnPhone(form, ctx.sourceEvent && ctx.sourceEvent.submitter);
    }
  });

  // --- what the page shows: banner, count, the entries still on this phone ------------------

  // A copy shown offline that is this old says when it was saved: a Today saved yesterday
  // still reads "Due now" for yesterday's session.
  var OLD_COPY_MS = 10 * 60 * 1000;
  function banner() {
    var el = document.querySelector("[data-offline-banner]");
    if (!el) return;
    el.hidden = navigator.onLine;
    var made = new Date(document.documentElement.getAttribute("data-offline-copy") || "");
    var words = el.getAttribute("data-text-old-copy");
    if (!navigator.onLine && words && !isNaN(made.getTime()) &&
        Date.now() - made.getTime() > OLD_COPY_MS) {
      el.textContent = words.replace("{time}", Clock.text(made, "datetime"));
    }
  }

  function renderNotices(user) {
    var box = document.querySelector("[data-outbox-notices]");
    if (!box) return Promise.resolve();
    return Outbox.notices(user).then(function (list) {
      box.textContent = "";
      list.forEach(function (n) {
        var p = document.createElement("div");
        p.className = "alert alert-error";
        p.setAttribute("role", "alert");
        p.setAttribute("data-notice", n.id);
        var words = document.createElement("p");
        words.textContent = text(n.kind);
        p.appendChild(words);
        var ok = document.createElement("button");
        ok.type = "button";
        ok.className = "button";
        ok.textContent = text("understood");
        ok.addEventListener("click", function () { Outbox.dismiss(n.id).then(render); });
        p.appendChild(ok);
        box.appendChild(p);
      });
    });
  }

  function button(label, onClick) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "button";
    b.textContent = label;
    b.addEventListener("click", onClick);
    return b;
  }

  // What the person is typing into a refused entry's account, kept across re-renders: a flush
  // in the background redraws the list, and must not wipe their words or move their focus.
  var drafts = {};

  // Drawing only reads the outbox. Signing out wipes its storage, and a redraw already under
  // way then finds the connection closed: nothing is lost (the wipe was the point) and there is
  // nothing left to draw, so that rejection ends quietly instead of as an uncaught page error.
  function render() {
    return draw().catch(function () { /* storage closed by the sign-out wipe */ });
  }

  // Today's session card drawn before a dose this phone has not sent yet: it read "Due now …
  // Last dose: Sun Nov 29" as if nothing had been logged (a phone tester). It says so, until
  // the dose is sent and the server draws the card.
  function doseOnPhone(items) {
    var card = document.querySelector(".session-card[data-text-dose-on-phone]");
    if (!card) return;
    var doses = items.filter(function (item) {
      return item.kind === "dose" && item.status !== "rejected" && item.data &&
        item.data.taken_at;
    }).sort(function (a, b) {
      return Date.parse(a.data.taken_at) - Date.parse(b.data.taken_at);
    });
    var line = card.querySelector("[data-dose-on-phone]");
    // "No session is scheduled now, so this would be an extra dose" was judged before the dose
    // on this phone: it read as if none had been taken. The check judges the next one. Once
    // hidden it stays hidden on this page: the dose sent, the notice is still older than it
    // (a phone tester saw it come back the moment the outbox emptied).
    var extra = document.getElementById("extra-notice");
    if (extra && doses.length) extra.hidden = true;
    var when = card.querySelector("[data-dose-window]");
    var badge = when && when.querySelector(".state");
    var last = card.querySelector("[data-last-dose]");
    if (!doses.length) {
      if (line) line.remove();
      var refused = items.some(function (item) {
        return item.kind === "dose" && item.status === "rejected";
      });
      if (refused && last) last.hidden = false;
      if (badge && badge.hasAttribute("data-on-phone")) {
        // Sent: the session is taken (the server counts it so: it was in the window).
        // Refused: the card as the server drew it, and the outbox list says why.
        var against = badge.getAttribute("data-on-phone") === "against";
        badge.removeAttribute("data-on-phone");
        badge.className = refused ? badge.getAttribute("data-was-class")
                                  : against ? "state state-against" : "state state-taken";
        badge.textContent = refused ? badge.getAttribute("data-was-text")
                                    : when.getAttribute(against ? "data-text-against-sent"
                                                                : "data-text-taken-sent");
      }
      return;
    }
    var newest = doses[doses.length - 1].data.taken_at;
    line = line || card.insertBefore(infoNote("data-dose-on-phone"),
                                     card.querySelector("h2").nextSibling);
    line.textContent = withTime(card.getAttribute("data-text-dose-on-phone"), newest);
    // The card still read "Due now" and "Last dose: Mon Nov 30" above it, as if this session
    // were yet to be taken (a phone tester). A dose in the session's window is its dose, as the
    // server will count it; the older last dose gives way to the line above.
    if (badge && !badge.hasAttribute("data-on-phone")) {
      var window_ = when.getAttribute("data-dose-window").split(" ");
      var inWindow = doses.filter(function (item) {
        var at = Date.parse(item.data.taken_at);
        return at >= Date.parse(window_[0]) && at <= Date.parse(window_[1]);
      })[0];
      if (inWindow) {
        // Recorded under the hold the card shows (with the patient's account of it): taken
        // against it, and it says so, never a plain green "Taken".
        var held = badge.hasAttribute("data-text-held-no-more") &&
          Boolean(inWindow.data.override_reason);
        badge.setAttribute("data-on-phone", held ? "against" : "");
        badge.setAttribute("data-was-class", badge.className);
        badge.setAttribute("data-was-text", badge.textContent);
        badge.className = held ? "state state-against" : "state state-taken";
        badge.textContent = when.getAttribute(held ? "data-text-against-on-phone"
                                                   : "data-text-taken-on-phone");
      }
    }
    if (last && Date.parse(last.getAttribute("data-last-dose")) < Date.parse(newest)) {
      last.hidden = true;
    }
  }

  // An information line a page adds (marked by `marker`), and its words with the {time} of an
  // entry on this phone filled in.
  function infoNote(marker) {
    var note = document.createElement("p");
    note.className = "alert alert-info";
    note.setAttribute(marker, "");
    return note;
  }
  function withTime(words, at) {
    return Clock.typeset(words.replace("{time}", Clock.text(at, "weekday_time")));
  }

  // The entries this page last showed as waiting to be sent (null before its first draw).
  // Whoever sends them (this page, another tab, the service worker's Background Sync, which
  // often wins the race on reconnecting), the page says how it ended: the list used to just
  // vanish when someone other than this page's own flush had sent it (a phone tester).
  var shownWaiting = null;
  function sayHowWaitingEnded(items) {
    var before = shownWaiting;
    shownWaiting = items.filter(function (item) { return item.status === "pending"; })
      .map(function (item) { return item.id; });
    if (!before || !before.length) return;
    var note = document.getElementById("offline-saved");
    var refused = items.some(function (item) {
      return item.status === "rejected" && before.indexOf(item.id) !== -1;
    });
    if (refused) {
      if (!note || note.textContent !== text("some-rejected")) {
        say(text("some-rejected"), "alert-error", true);
      }
    } else if (!items.length && navigator.onLine && !shownWithoutSignal &&
               !(note && note.classList.contains("alert-ok"))) {
      // A page shown from its saved copy says so with its own words (allSentSinceShown).
      saySent(true);
    }
  }

  function draw() {
    var user = currentUser();
    if (!user) return Promise.resolve();
    renderNotices(user).catch(function () { /* as render */ });
    return Outbox.all(user).then(function (items) {
      sayHowWaitingEnded(items);
      var active = document.activeElement;
      var focusedDraft = active && active.getAttribute && active.getAttribute("data-draft-for");
      var refocus = null;
      Array.prototype.forEach.call(document.querySelectorAll("[data-outbox-count]"), function (el) {
        el.textContent = String(items.length);
        el.hidden = items.length === 0;
        // The menu's link to them too: with nothing waiting it is no stop for the keyboard
        // (an empty link read as "Not yet sent: 0").
        var link = el.closest(".outbox-link");
        if (link) link.hidden = items.length === 0;
      });
      doseOnPhone(items);
      var panel = document.querySelector("[data-outbox]");
      if (!panel) return;
      panel.hidden = items.length === 0;
      // An entry the server refused needs the person: the list comes first on the page (under
      // the notices), not below everything else where it went unseen.
      var notices = document.querySelector("[data-outbox-notices]");
      var refused = items.some(function (item) { return item.status === "rejected"; });
      if (refused && notices && notices.parentNode === panel.parentNode &&
          notices.nextElementSibling !== panel) {
        notices.parentNode.insertBefore(panel, notices.nextElementSibling);
      }
      var list = panel.querySelector("ul");
      list.textContent = "";
      items.forEach(function (item) {
        var li = document.createElement("li");
        li.className = "outbox-item outbox-" + item.status;
        li.setAttribute("data-outbox-item", item.id);
        var title = document.createElement("span");
        // The time the entry is about (when the dose was taken, the troches counted), as the
        // note on Today gives it: the list gave when it was written down, a dose logged at
        // 10:37 PM as taken at 9:00 PM read "Dose · Sun 10:37 PM" (a phone tester).
        var about = item.data && (item.kind === "dose" ? item.data.taken_at :
          item.kind === "ledger_count" ? item.data.counted_at : null);
        title.textContent = item.label + " · " + Clock.text(about || item.recorded_at,
                                                            "weekday_time");
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
          // The safety check it was logged with is not one the server can use (not found, used
          // already, too old): if the dose was taken, it is recorded without one, in the
          // patient's words, and flagged, never only "sent again" to fail again or discarded.
          var checkRefused = item.kind === "dose" && item.data.gate_id && item.result &&
            item.result.errors && item.result.errors.gate_id;
          if (item.kind === "dose" && item.result && (item.result.reasons || checkRefused) &&
              !(item.data.already_taken && item.data.override_reason)) {
            // A dose the rules hold: if it was already taken, the record must still show it.
            var label = document.createElement("label");
            label.textContent = text("what-happened");
            var account = document.createElement("textarea");
            account.rows = 2;
            account.maxLength = 500;
            account.setAttribute("data-draft-for", item.id);
            account.value = drafts[item.id] || "";
            account.addEventListener("input", function () { drafts[item.id] = account.value; });
            label.appendChild(account);
            li.appendChild(label);
            li.appendChild(button(text("record-taken"), function () {
              var said = (drafts[item.id] || account.value).trim();
              if (!said) { account.focus(); return; }
              delete drafts[item.id];
              var taken = checkRefused
                ? { already_taken: true, gate_id: null, no_gate_reason: said }
                : { already_taken: true, override_reason: said };
              Outbox.retry(item.id, taken).then(flushSoon);
            }));
            if (focusedDraft === item.id) refocus = account;
          }
          li.appendChild(button(text("send-again"), function () {
            Outbox.retry(item.id).then(flushSoon);
          }));
          li.appendChild(button(text("discard"), function () {
            if (window.confirm(text("discard-confirm"))) Outbox.remove(item.id).then(render);
          }));
        }
        list.appendChild(li);
      });
      if (refocus) refocus.focus();
    });
  }

  // A page shown from the phone's saved copy without a signal knows nothing of what was sent
  // since: Today would still say the dose is "saved on this phone, not yet sent" and offer the
  // safety check for it again. Once everything is in (sent by this page or by the service
  // worker's Background Sync), the note says so, with the way to the page as it is now. Not a
  // reload of its own: the person may be typing.
  var shownWithoutSignal = !navigator.onLine;
  function allSentSinceShown() {
    if (!shownWithoutSignal || !navigator.onLine) return;
    Outbox.all(currentUser()).then(function (items) {
      if (items.length || !shownWithoutSignal) return; // a rejected one is shown, and said
      shownWithoutSignal = false;
      say(text("sent-page-older"), "alert-ok");
      linkInNote(window.location.pathname + window.location.search, text("show-fresh"));
    }).catch(function () { /* the outbox cannot be read: the next page load is fresh */ });
  }

  function signInToSend() {
    Outbox.all(currentUser()).then(function (items) {
      if (!items.length) return;
      say(text("signed-out-waiting"), "alert-error");
      linkInNote("/login?next=" + encodeURIComponent(window.location.pathname),
                 text("sign-in-again"));
    }).catch(function () { /* the outbox cannot be read: nothing to say about it */ });
  }

  // The service worker's Background Sync may send (or see refused) what this page said was
  // kept, with this page's own flush finding nothing left to report: the note follows the
  // outbox, so a refused dose is never left under "it will be sent".
  function settleKept() {
    if (!keptSaid) return;
    Outbox.all(currentUser()).then(function (items) {
      if (!keptSaid) return;
      if (items.some(function (item) { return item.status === "rejected"; })) {
        say(text("some-rejected"), "alert-error");
      } else if (!items.length && navigator.onLine) {
        saySent();
      }
    }).catch(function () { /* the outbox cannot be read: the list below still shows it */ });
  }

  var flushTimer = null;
  var signingOut = false; // this page sent the sign-out: no flush may start after it
  function flushSoon() {
    if (signingOut || !navigator.onLine || !currentUser()) return;
    clearTimeout(flushTimer);
    flushTimer = setTimeout(function () {
      if (!currentUser()) return; // signed out in the meantime (the page was swapped)
      Outbox.flush().then(function (summary) {
        if (summary.sent && !summary.rejected) saySent();
        if (summary.rejected) say(text("some-rejected"), "alert-error");
        // The session ended while entries waited: "sent when you are back online" is no longer
        // true (online, they wait for a sign-in), and a sign-in is what sends them.
        if (summary.signedOut) signInToSend();
        render();
        settleKept();
        allSentSinceShown();
      });
    }, 50);
  }

  // A warm-up that could not fetch every page (a server error, the signal dropping) is asked
  // again a few times while this page is open: these are the pages the next offline hour needs.
  var WARM_RETRY_MS = [3000, 15000, 60000];
  var warmRetries = 0;
  var warmRetryTimer = null;

  function warmCache() {
    // Keep the pages a patient needs offline fresh in the service worker's cache.
    var urls = (page() && page().getAttribute("data-offline-pages")) || "";
    if (!urls || !navigator.onLine || !navigator.serviceWorker) return;
    navigator.serviceWorker.ready.then(function (reg) {
      if (reg.active) {
        reg.active.postMessage({
          type: "warm", urls: urls.split(" "), user: currentUser(),
          // A page listing everyone whose pages may be kept under this path (see sw.js prune).
          onlyUnder: page().getAttribute("data-offline-only-under") || undefined,
        });
      }
    });
  }

  // Signing out (privacy.js sends the sign-out, once its warning did not stop it): the service
  // worker drops the pages it keeps for this person, and stops any warm-up still in flight.
  // The server's Clear-Site-Data wipes the rest.
  document.addEventListener("trochelog:signing-out", function () {
    // The page stays until the sign-out's answer arrives: a flush started meanwhile would ask
    // who is signed in after the session has ended.
    signingOut = true;
    clearTimeout(flushTimer);
    if (navigator.serviceWorker && navigator.serviceWorker.controller) {
      navigator.serviceWorker.controller.postMessage({ type: "forget" });
    }
  });

  window.addEventListener(Outbox.CHANGED, function () { render(); settleKept(); });
  if (navigator.serviceWorker) {
    navigator.serviceWorker.addEventListener("message", function (event) {
      if (event.data && event.data.type === Outbox.CHANGED) {
        render();
        allSentSinceShown();
        settleKept();
      }
      if (event.data && event.data.type === "warmed") {
        clearTimeout(warmRetryTimer);
        if (event.data.complete !== false) {
          warmRetries = 0; // a later failure (after a boosted swap, say) is retried afresh
          // A fresh snapshot: the doses it has seen need no note of their own any more.
          Promise.all([snapshot(), Outbox.sent(currentUser())])
            .then(function (found) { unseenSent(found[0], found[1]); })
            .catch(function () { /* kept: they only make the phone more careful */ })
            .then(function () {
              document.documentElement.setAttribute("data-offline-ready", "");
            });
        } else if (warmRetries < WARM_RETRY_MS.length) {
          warmRetryTimer = setTimeout(warmCache, WARM_RETRY_MS[warmRetries]);
          warmRetries += 1;
        }
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
  // A boosted swap can bring a signed-in page (after sign-in) into a page that had none.
  document.addEventListener("htmx:after:swap", function () {
    signingOut = false; // the signed-out page is in: whoever signs in next flushes again
    retireSpentCheck();
    liftEndedScreenerHold();
    banner();
    render();
    flushSoon();
    warmCache();
  });

  function freshIds(root) {
    Array.prototype.forEach.call(root.querySelectorAll("form[data-sync-id]"), function (f) {
      var hidden = f.elements.namedItem(f.getAttribute("data-sync-id"));
      if (hidden) hidden.value = newId();
    });
  }

  // A page that says "Safety check passed" offers that check's dose form only while the server
  // would: a saved copy shown offline may be hours old, or from before a dose this phone logged
  // with that check. Then the page shows the safety check as before any verdict, to check again.
  var retireTimer = null;
  function retireSpentCheck() {
    var section = document.querySelector("#gate-result[data-gate-id]");
    var template = document.getElementById("offline-gate-start");
    if (!section || !template) return Promise.resolve();
    var gateId = section.getAttribute("data-gate-id");
    var until = Date.parse(section.getAttribute("data-gate-until"));
    // A page fresh from the server says how long the check has left by the server's clock:
    // counted from when this phone first showed it, by the phone's own, which may be hours
    // off (a phone two hours fast hid a check that had just passed, again at every check). A
    // saved copy can only compare clocks.
    var left = parseInt(section.getAttribute("data-gate-left-ms"), 10);
    var root = document.documentElement;
    if (!isNaN(left) && !root.hasAttribute("data-saved-copy") &&
        !root.hasAttribute("data-offline-copy")) {
      if (!section.hasAttribute("data-seen-at")) section.setAttribute("data-seen-at", Date.now());
      until = parseInt(section.getAttribute("data-seen-at"), 10) + left;
    }
    var user = currentUser();
    return Promise.all([Outbox.all(user), Outbox.sent(user), snapshot()]).then(function (found) {
      // Used by a dose on this phone, or by the last dose the server had (logged online).
      var last = found[2] && found[2].last_dose;
      var used = (last && last.gate_id === gateId) ||
        found[0].concat(found[1]).some(function (item) {
          return item.kind === "dose" && item.data && item.data.gate_id === gateId;
        });
      var expired = !(Date.now() < until);
      if (!used && !expired) {
        clearTimeout(retireTimer);
        retireTimer = setTimeout(retireSpentCheck, Math.min(until - Date.now() + 50, 2147483647));
        return;
      }
      checkAgain(section);
    }).catch(function () { /* the outbox cannot be read: the server judges the dose again */ });
  }

  // The safety check as before any verdict, in place of a verdict that no longer stands.
  function checkAgain(section) {
    var template = document.getElementById("offline-gate-start");
    if (!template) return;
    // Kept for the next time: the server draws it inside the section it replaces.
    if (section.contains(template)) document.body.appendChild(template);
    section.removeAttribute("data-gate-id");
    section.removeAttribute("data-screener-hold");
    section.textContent = "";
    section.appendChild(template.content.cloneNode(true));
    // A clone keeps what was typed (the crisis reading itself, sent again by a tap on Check):
    // a new check starts from the form as the server drew it.
    Array.prototype.forEach.call(section.querySelectorAll("form"), function (form) {
      form.reset();
    });
    freshIds(section);
  }

  // Today held for the safety questions alone, and the screener answered on this phone: once
  // what the phone holds ends the hold as the server will end it (a low-risk screen after the
  // PHQ-9 answer), the page drops the prompt and offers the safety check. A phone tester's
  // Today still said the questions were unfinished, with no check to do, and a second
  // screener was stored when they were answered again.
  function liftEndedScreenerHold() {
    var section = document.querySelector("#gate-result[data-screener-hold]");
    var template = document.getElementById("offline-gate-start");
    var Gate = window.TrocheGate;
    if (!section || !template || !Gate) return Promise.resolve();
    return gateInputs().then(function (inputs) {
      if (!inputs || Gate.safetyHoldReasons(inputs.snapshot, inputs.state,
                                            new Date().toISOString()).length) return;
      checkAgain(section);
      var prompt = document.querySelector("[data-unscreened]");
      if (prompt) prompt.remove();
      // The session's badge said "Due, but on hold" above the check now offered.
      var badge = document.querySelector(".session-card [data-text-held-no-more]");
      if (badge && badge.hasAttribute("data-on-phone")) {
        // Taken on this phone already (doseOnPhone): that stands; "Due now" is what the
        // badge goes back to only if the dose is refused.
        badge.setAttribute("data-was-text", badge.getAttribute("data-text-held-no-more"));
        badge.setAttribute("data-was-class", "state state-due");
        badge.removeAttribute("data-text-held-no-more");
      } else if (badge) {
        badge.textContent = badge.getAttribute("data-text-held-no-more");
        badge.className = "state state-due";
        badge.removeAttribute("data-text-held-no-more");
      }
    }).catch(function () { /* cannot judge: the page stays as the server drew it */ });
  }

  // The screener's form again (Back, or Today's link on a saved copy) after it was answered
  // on this phone and not yet sent: a phone tester answered twice, and two screeners were
  // stored. Answering again stays possible; the page says it is not needed.
  function answeredHere(form) {
    var user = currentUser();
    if (!form || !user || !form.hasAttribute("data-text-answered-here")) return;
    Outbox.all(user).then(function (items) {
      var mine = items.filter(function (item) {
        return item.kind === "questionnaire" && item.status !== "rejected" &&
          item.data && item.data.instrument === "cssrs";
      });
      if (!mine.length || document.querySelector("[data-answered-here]")) return;
      var note = infoNote("data-answered-here");
      note.setAttribute("role", "status");
      note.textContent = withTime(form.getAttribute("data-text-answered-here"),
                                  mine[mine.length - 1].recorded_at);
      form.parentNode.insertBefore(note, form);
    }).catch(function () { /* storage closed: the form as it is */ });
  }

  function start() {
    if (!navigator.onLine || document.documentElement.hasAttribute("data-saved-copy")) {
      // A page from the service worker's cache carries the client ids it was rendered with;
      // every entry made from it offline needs ids of its own.
      freshIds(document);
    }
    retireSpentCheck();
    liftEndedScreenerHold();
    banner();
    render();
    flushSoon();
    warmCache();
    if (new URLSearchParams(window.location.search).get("screened") === "offline") {
      sayKept(text("saved-offline"));
    }
    var kept = null;
    try {
      kept = window.sessionStorage.getItem(KEPT_NOTE);
      window.sessionStorage.removeItem(KEPT_NOTE);
    } catch (e) { /* private mode */ }
    // Without it the saved Today looks as if nothing was logged, and invites a second dose.
    if (kept) sayKept(kept);
    // The screener after a PHQ-9 answered on this phone: linked to it, whatever PHQ-9 the
    // saved copy of the page named.
    var screener = document.querySelector('form[data-instrument="cssrs"]');
    answeredHere(screener);
    var follows = null;
    try { follows = window.sessionStorage.getItem(FOLLOWS); } catch (e) { /* private mode */ }
    if (screener && follows) {
      hiddenField(screener, "follows").value = follows;
      try { window.sessionStorage.removeItem(FOLLOWS); } catch (e) { /* private mode */ }
    }
    // A form page served offline from a cached copy without its query: a session check-in for
    // a dose (?dose=), or a screener address saved with ?follows=. Link them as the server would.
    var query = new URLSearchParams(window.location.search);
    [['form[data-instrument="cssrs"]', "follows", "follows"],
     ['form[data-sync-kind="checkin"]', "dose", "dose_id"]].forEach(function (link) {
      var form = document.querySelector(link[0]);
      var value = query.get(link[1]);
      if (form && value && !form.elements.namedItem(link[2])) {
        var hidden = document.createElement("input");
        hidden.type = "hidden";
        hidden.name = link[2];
        hidden.value = value;
        form.appendChild(hidden);
      }
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
