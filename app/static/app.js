// TrocheLog: small enhancements on top of pages that work without JavaScript.

// Run `init` once the page is parsed. boot.js adds the scripts after the first paint, when the
// page has usually been parsed already (DOMContentLoaded has passed).
window.TrocheReady = function (init) {
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
};

// Times as the server writes them (app/web/formats.py): the page carries the server's patterns,
// their CLDR names and the reader's zone (formats.phone_clock), so a time the phone writes reads
// as the server writes it ("Sun Dec 6, 9:30 PM", "dom 6 dic, 9:30 p.m."), in the patient's zone
// whatever the phone's own style and zone. `name`: "time", "weekday_time" or "datetime".
window.TrocheClock = (function () {
  "use strict";
  var WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
  var OWN_STYLE = {  // a page without the server's clock (signed out): the phone's own style
    time: { hour: "numeric", minute: "2-digit" },
    weekday_time: { weekday: "short", hour: "numeric", minute: "2-digit" },
    datetime: { weekday: "short", month: "short", day: "numeric", hour: "numeric",
      minute: "2-digit" },
  };
  function two(n) { return (n < 10 ? "0" : "") + n; }
  function own() { return document.documentElement.lang || []; }
  function settings() {  // the page's, or null (signed out)
    var page = document.querySelector(".page[data-clock]");
    try {
      return page ? JSON.parse(page.getAttribute("data-clock")) : null;
    } catch (e) {
      return null;
    }
  }
  function text(value, name) {
    var when = value instanceof Date ? value : new Date(value);
    if (isNaN(when.getTime())) return "";
    var clock = settings(), parts = {};
    try {
      if (clock) new Intl.DateTimeFormat("en-US", { timeZone: clock.zone, hourCycle: "h23",
        weekday: "short", year: "numeric", month: "numeric", day: "numeric", hour: "numeric",
        minute: "2-digit" }).formatToParts(when).forEach(function (p) { parts[p.type] = p.value; });
    } catch (e) { clock = null; }  // a zone this phone does not know
    var pattern = clock && clock.patterns && clock.patterns[name];
    if (!pattern) return when.toLocaleString(own(), OWN_STYLE[name] || OWN_STYLE.datetime);
    var weekday = WEEKDAYS.indexOf(parts.weekday), month = Number(parts.month);
    var day = Number(parts.day), hour = Number(parts.hour) % 24, minute = Number(parts.minute);
    var names = clock.names || {};
    return pattern.replace(/%-?[a-zA-Z%]/g, function (token) {  // as formats._TOKEN
      switch (token) {
        case "%a": case "%A": return (names[token] || [])[weekday] || parts.weekday;
        case "%b": case "%B": return (names[token] || [])[month - 1] || String(month);
        case "%p": return (names["%p"] || ["AM", "PM"])[hour < 12 ? 0 : 1];
        case "%-I": return String(hour % 12 || 12);
        case "%I": return two(hour % 12 || 12);
        case "%H": return two(hour);
        case "%M": return two(minute);
        case "%-d": return String(day);
        case "%d": return two(day);
        case "%-m": return String(month);
        case "%m": return two(month);
        case "%Y": return parts.year;
        case "%%": return "%";
      }
      return token;
    });
  }
  // A period that ends an abbreviation ends the sentence too ("p.m.", not "p.m.."), as
  // app/i18n.py typeset does for the server's sentences.
  function typeset(sentence) { return sentence.replace(/(\b[ap]\.\s?m\.)\./g, "$1"); }
  // A number in the server's locale (formats.format_number: US conventions in both languages,
  // "12.5" and "1,200"), not the language's default ("es" alone would write "12,5").
  function number(value) {
    var n = Number(value), clock = settings();
    if (!isFinite(n)) return String(value);
    try {
      return n.toLocaleString(clock ? clock.locale : own(), { maximumFractionDigits: 3 });
    } catch (e) {
      return n.toLocaleString(own(), { maximumFractionDigits: 3 });
    }
  }
  // The wall-clock reading of instant `ms` in `zone`, as if it were UTC (ms).
  function wallAsUtc(ms, zone) {
    var parts = {};
    new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", year: "numeric",
      month: "numeric", day: "numeric", hour: "numeric", minute: "2-digit", second: "2-digit" })
      .formatToParts(new Date(ms)).forEach(function (p) { parts[p.type] = p.value; });
    return Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day),
                    Number(parts.hour) % 24, Number(parts.minute), Number(parts.second));
  }
  // A time typed into a datetime-local field, read in the patient's zone as the server reads
  // a form's (doses/routes.py parse_local: the zone's first reading of an ambiguous hour, and
  // a time in the spring gap moved forward): an ISO instant. The phone's own zone when the
  // page has no clock. "" when it cannot be read.
  function instant(value) {
    var m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value || "");
    var clock = settings();
    if (!m || !clock) {
      var own = new Date(value);
      return isNaN(own.getTime()) ? "" : own.toISOString();
    }
    var wall = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]),
                        Number(m[5]), Number(m[6] || 0));
    try {
      // The zone's offset a day before and a day after: each reading that gives this wall
      // time back is a candidate; the earlier wins (Python's fold=0). None does in a spring
      // gap: then the offset before it, as Python reads it.
      var DAY = 864e5;
      var before = wall - (wallAsUtc(wall - DAY, clock.zone) - (wall - DAY));
      var after = wall - (wallAsUtc(wall + DAY, clock.zone) - (wall + DAY));
      var fits = [before, after].filter(function (t) { return wallAsUtc(t, clock.zone) === wall; });
      return new Date(fits.length ? Math.min.apply(null, fits) : before).toISOString();
    } catch (e) {
      return "";  // a zone this phone does not know: the form is kept as typed, unread
    }
  }
  // The other way: an instant as a datetime-local field's value ("2026-12-05T14:05") in the
  // patient's zone, as the server fills the field (templating.local_input).
  function fieldValue(value) {
    var when = value instanceof Date ? value : new Date(value);
    var clock = settings();
    var wall = when.getTime() - when.getTimezoneOffset() * 60000;  // the phone's own zone
    try {
      if (clock) wall = wallAsUtc(when.getTime(), clock.zone);
    } catch (e) { /* a zone this phone does not know: its own */ }
    return new Date(wall).toISOString().slice(0, 16);
  }
  return { text: text, typeset: typeset, number: number, instant: instant,
           fieldValue: fieldValue };
})();

(function () {
  "use strict";

  if ("serviceWorker" in navigator) {
    var register = function () {
      navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {
        // The app works without it; offline support is simply unavailable.
      });
    };
    // boot.js adds this script after the first paint, often after the load event.
    if (document.readyState === "complete") register();
    else window.addEventListener("load", register);
  }

  // A boosted swap (signing in, say) brings a new page wrapper but keeps <html>: its lang
  // follows the wrapper's, so the browser and screen readers use the page's language.
  function syncLanguage() {
    var page = document.querySelector(".page[lang]");
    if (page && document.documentElement.lang !== page.lang) {
      document.documentElement.lang = page.lang;
    }
  }
  window.TrocheReady(syncLanguage);
  document.addEventListener("htmx:after:swap", syncLanguage);

  // Select the one-time invite link on focus so it is easy to copy on a phone.
  document.addEventListener("focusin", function (event) {
    var el = event.target;
    if (el && el.classList && el.classList.contains("invite-url")) el.select();
  });
})();

// C-SSRS skip logic: questions 3–5 are asked only after a yes to question 2. Without
// JavaScript they stay visible with a note, and the server ignores them when 2 is "no".
(function () {
  "use strict";
  function update(form) {
    form.querySelectorAll("[data-asked-if]").forEach(function (item) {
      var dep = form.querySelector('input[name="' + item.dataset.askedIf + '"]:checked');
      var asked = dep !== null && dep.value === "yes";
      item.hidden = !asked;
      item.querySelectorAll("input").forEach(function (input) {
        input.required = asked;
        if (!asked) input.checked = false;
      });
    });
    // Number the questions by their place on screen (1, 2, 3, not 1, 2, 6); a follow-up such
    // as "6a" takes the number of the question before it. The "answer only if" notes are for
    // pages without JavaScript: here a question shows only when it is asked.
    var position = 0;
    form.querySelectorAll("fieldset.item").forEach(function (item) {
      var number = item.querySelector(".item-number");
      if (item.hidden || !number) return;
      var own = number.getAttribute("data-number") || number.textContent.replace(".", "");
      number.setAttribute("data-number", own);
      if (/^\d+$/.test(own)) position += 1;
      number.textContent = (/^\d+$/.test(own) ? position : position + own.replace(/^\d+/, "")) + ".";
    });
    form.querySelectorAll(".asked-if-hint").forEach(function (hint) { hint.hidden = true; });
  }
  function init() {
    document.querySelectorAll("form.questionnaire").forEach(function (form) {
      if (!form.querySelector("[data-asked-if]")) return;
      update(form);
      form.addEventListener("change", function () { update(form); });
    });
  }
  window.TrocheReady(init);
  document.addEventListener("htmx:after:swap", init);
})();

// The phone's bottom bar takes two rows when large text makes its places too wide for one
// (app.css): the page keeps room for the bar as it stands, so it never covers the page's end.
(function () {
  "use strict";
  var observer = null;
  var watched = null;
  function measure() {
    var fixed = watched && watched.isConnected &&
      getComputedStyle(watched.parentNode).position === "fixed";
    document.documentElement.style.setProperty(
      "--nav-height", fixed ? (watched.offsetHeight + 1) + "px" : "");
  }
  function follow() {
    var bar = document.querySelector(".site-nav ul");
    if (!window.ResizeObserver || bar === watched) return;
    if (!observer) observer = new ResizeObserver(measure);
    if (watched) observer.unobserve(watched);
    watched = bar;  // a boosted page brings its own menu
    if (bar) observer.observe(bar); else measure();
  }
  window.TrocheReady(follow);
  document.addEventListener("htmx:after:swap", follow);
})();

// A questionnaire's unanswered questions, online or offline, marked as the server marks them:
// each with its own error beside it, in words (the browser's own bubble names only the first,
// and the browser still focuses it). An answer clears its question's error.
(function () {
  "use strict";
  function itemOf(input) {
    var form = input.form;
    if (!form || !form.classList.contains("questionnaire")) return null;
    return input.closest("fieldset.item");
  }
  document.addEventListener("invalid", function (event) {
    var item = event.target && event.target.form ? itemOf(event.target) : null;
    if (!item || item.querySelector(".field-error")) return;
    var error = document.createElement("p");
    error.className = "field-error";
    error.id = item.getAttribute("data-answer-key") + "-error";
    error.textContent = item.closest("form").getAttribute("data-text-unanswered") || "";
    item.appendChild(error);
    item.setAttribute("aria-invalid", "true");
    item.setAttribute("aria-describedby", error.id);
  }, true);
  document.addEventListener("change", function (event) {
    var item = event.target && event.target.form ? itemOf(event.target) : null;
    if (!item || !item.querySelector("input:checked")) return;
    var error = item.querySelector(".field-error");
    if (error) error.remove();
    item.removeAttribute("aria-invalid");
    item.removeAttribute("aria-describedby");
  });
})();

// A verdict, a refusal or an error is the first thing the patient sees: move focus to it (and
// so scroll to it) when the page or an htmx swap brings one.
(function () {
  "use strict";
  // Else a form that came back refused: its first marked field (a tester's password change
  // came back with focus on the last field, the page scrolled to the top and the error 1,300
  // px below, unannounced). Focus reads the field's label and its error (aria-describedby).
  function firstInvalid() {
    var marked = document.querySelector("main [aria-invalid='true']");
    if (!marked || marked.matches("input, select, textarea")) return marked;
    return marked.querySelector("input:not([type=hidden]), select, textarea");
  }
  function focusVerdict() {
    var target = document.querySelector("[data-focus]") || firstInvalid();
    if (target) target.focus();
  }
  window.TrocheReady(focusVerdict);
  document.addEventListener("htmx:after:swap", focusVerdict);
})();

// After any other htmx swap, focus must not be lost on <body> (a screen reader would start
// again from the top, saying nothing of what changed): a new page focuses its h1, a swapped
// part its first heading. A status message the swap brought is a live region inserted together
// with its text, which screen readers often do not announce: its content is put back a moment
// later, inside the region now on the page, so it is read out.
(function () {
  "use strict";
  function region(event) {
    var ctx = event.detail && event.detail.ctx;
    var target = ctx && ctx.target;
    if (!target || !target.isConnected || target === document.body || target.contains(document.querySelector("main"))) {
      return document.querySelector("main");
    }
    return target;
  }
  function announce(el) {
    var nodes = Array.prototype.slice.call(el.childNodes);
    nodes.forEach(function (node) { el.removeChild(node); });
    setTimeout(function () {
      // A script that wrote a newer message meanwhile (push.js replaces the no-JavaScript text)
      // has been read out already; putting the old text back would show both, run together.
      if (!el.firstChild) nodes.forEach(function (node) { el.appendChild(node); });
      el.setAttribute("data-announced", "");
    }, 150);
  }
  document.addEventListener("htmx:after:swap", function (event) {
    var where = region(event);
    if (!where) return;
    // The fresh page replacing its saved copy is the page loading, not a move: focus stays
    // where a page load leaves it (a verdict still takes it, above).
    var loading = event.detail && event.detail.ctx && event.detail.ctx.replacesSavedCopy;
    setTimeout(function () {
      var active = document.activeElement;
      if (!loading && (!active || active === document.body || !active.isConnected)) {
        var heading = where.querySelector("h1") || where.querySelector("h2, h3, [data-focus]") ||
          (where.matches("h1, h2, h3") ? where : null);
        if (heading) {
          if (!heading.hasAttribute("tabindex")) heading.setAttribute("tabindex", "-1");
          heading.focus();
        }
      }
      where.querySelectorAll("[role=status]:not([hidden])").forEach(function (el) {
        if (!el.contains(document.activeElement) && el.textContent.trim()) announce(el);
      });
    }, 0);
  });
})();

// The sitter's session timer: minutes since the dose, and a prompt whose time has come shown as
// due, without reloading. The page says the same in words when it loads (no JavaScript needed).
(function () {
  "use strict";
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-elapsed-since]").forEach(function (el) {
      var since = Date.parse(el.getAttribute("data-elapsed-since"));
      if (isNaN(since)) return;
      var minutes = Math.max(0, Math.floor((now - since) / 60000));
      // "1 minute", "2 minutes": the page carries both forms in its language (ngettext); a
      // page kept from before it did carries the one plural text.
      var words = el.getAttribute(minutes === 1 ? "data-text-elapsed-one"
        : "data-text-elapsed-other") || el.getAttribute("data-text-elapsed") || "{m}";
      el.textContent = words.replace("{m}", minutes);
    });
    document.querySelectorAll("[data-prompt-state='upcoming']").forEach(function (el) {
      var at = Date.parse(el.getAttribute("data-prompt-at"));
      if (isNaN(at) || now < at - 5 * 60000) return;
      var state = el.querySelector(".state");
      el.setAttribute("data-prompt-state", "due");
      if (state) {
        state.className = "state state-due";
        state.textContent = state.getAttribute("data-text-due") || state.textContent;
      }
    });
  }
  function init() {
    if (!document.querySelector("[data-elapsed-since]")) return;
    tick();
    if (!window.__trocheTimer) window.__trocheTimer = setInterval(tick, 15000);
  }
  window.TrocheReady(init);
  document.addEventListener("htmx:after:swap", init);
})();

// Pass on an invite link. Copy puts the link on the clipboard and says
// so; Share opens the phone's share sheet where the browser has the Web Share API. Both stay
// hidden where the browser cannot do it; the link is selectable text either way.
(function () {
  "use strict";
  function init() {
    document.querySelectorAll("[data-invite-share]").forEach(function (box) {
      if (box.hasAttribute("data-ready")) return;
      box.setAttribute("data-ready", "");
      var input = box.querySelector("[data-invite-url]");
      var copy = box.querySelector("[data-copy-invite]");
      var share = box.querySelector("[data-share-invite]");
      var status = box.querySelector("[data-invite-status]");
      if (!input) return;
      function say(key) {
        if (status) status.textContent = status.getAttribute("data-text-" + key) || "";
      }
      if (copy && navigator.clipboard && navigator.clipboard.writeText) {
        copy.hidden = false;
        copy.addEventListener("click", function () {
          navigator.clipboard.writeText(input.value).then(function () { say("copied"); },
            function () { input.focus(); input.select(); say("copy-failed"); });
        });
      }
      if (share && typeof navigator.share === "function") {
        share.hidden = false;
        share.addEventListener("click", function () {
          navigator.share({ title: share.getAttribute("data-share-title") || "", url: input.value })
            .catch(function () { /* cancelled: nothing to say */ });
        });
      }
    });
  }
  window.TrocheReady(init);
  document.addEventListener("htmx:after:swap", init);
})();

// Protocol form (protocols/_phase.html): show only the fields of the chosen schedule, weekdays
// for "On chosen weekdays", N for "Every N days". Without JavaScript both stay visible.
(function () {
  "use strict";
  function update(select) {
    var phase = select.closest("fieldset");
    if (!phase) return;
    phase.querySelectorAll("[data-cadence-for]").forEach(function (el) {
      var hidden = el.getAttribute("data-cadence-for") !== select.value;
      el.hidden = hidden;
      // A hidden field is not sent either: what is sent is what the prescriber sees.
      el.querySelectorAll("input").forEach(function (input) { input.disabled = hidden; });
    });
  }
  function init() {
    document.querySelectorAll("select[data-cadence]").forEach(update);
  }
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el && el.matches && el.matches("select[data-cadence]")) update(el);
  });
  window.TrocheReady(init);
  document.addEventListener("htmx:after:swap", init);
})();

// A live count under a text area with a limit. The text area has
// data-maxlength (a maxlength attribute would cut pasted text silently); without JavaScript the
// hint "At most N characters" shows and the server refuses longer text with a message.
(function () {
  "use strict";
  function init() {
    document.querySelectorAll("textarea[data-maxlength]").forEach(function (area) {
      if (area.hasAttribute("data-counted")) return;
      var limit = parseInt(area.getAttribute("data-maxlength"), 10);
      var hint = document.getElementById(area.id + "-limit");
      if (!hint || !limit) return;
      area.setAttribute("data-counted", "");
      function update() {
        var left = limit - area.value.length;
        var key = left >= 0 ? "data-text-left" : "data-text-over";
        hint.textContent = (hint.getAttribute(key) || "").replace("{n}", String(Math.abs(left)));
        hint.classList.toggle("over-limit", left < 0);
      }
      area.addEventListener("input", update);
      update();
    });
  }
  window.TrocheReady(init);
  document.addEventListener("htmx:after:swap", init);
})();

// A saved copy of this page, shown by the service worker because the network was slow
// (sw.js marks it data-saved-copy on <html>, with the time it was made). It may be out of
// date, so nothing is done from it: its forms stay shut (inputs too: what is typed there
// would be lost in the swap) while the fresh page, already on its way, is fetched (the worker
// answers with that same request) and swapped in. Signed out meanwhile: where the server
// sends us. No answer (none within FRESH_WAIT_MS, an error): the copy stays, said to be
// possibly out of date, and its forms work as they do offline (the server checks every entry
// again); a fresh page that comes later is not swapped over what the person is doing.
(function () {
  "use strict";
  var FRESH_WAIT_MS = 10000;
  var root = document.documentElement;
  if (!root.hasAttribute("data-saved-copy")) return;
  var shut = [];
  // waiting → fresh (swapped in), unchecked (kept, said so) or leaving (signed out).
  var state = "waiting";
  document.querySelectorAll("main form").forEach(function (form) {
    form.querySelectorAll("button, input:not([type=hidden]), select, textarea")
      .forEach(function (control) {
        if (!control.disabled) { control.disabled = true; shut.push(control); }
      });
  });
  function clock(when) {
    return isNaN(when.getTime()) ? "?" : window.TrocheClock.text(when, "time");
  }
  function unchecked() {
    if (state === "unchecked" || state === "fresh" || state === "leaving") return;
    state = "unchecked";
    var made = new Date(root.getAttribute("data-saved-copy"));
    root.removeAttribute("data-saved-copy");
    shut.forEach(function (control) { control.disabled = false; });
    var banner = document.querySelector("[data-saved-copy-banner]");
    if (!banner) return;
    banner.textContent = window.TrocheClock.typeset(
      (banner.getAttribute("data-text-unchecked") || "").replace("{time}", clock(made)));
    banner.setAttribute("data-unchecked", "");
  }
  setTimeout(function () { if (state === "waiting") unchecked(); }, FRESH_WAIT_MS);
  // The fresh page's banner says when it came, at the copy's height, in the same task as the
  // swap: the page does not move up under the reader when the copy goes (no layout shift), and
  // a screen reader told "checking" hears the outcome. The next page a link opens has none.
  var bannerHeight = 0;
  document.addEventListener("htmx:after:swap", function (event) {
    if (!(event.detail && event.detail.ctx && event.detail.ctx.replacesSavedCopy)) return;
    var banner = document.querySelector("[data-saved-copy-banner]");
    if (!banner) return;
    banner.textContent = window.TrocheClock.typeset(
      (banner.getAttribute("data-text-checked") || "").replace("{time}", clock(new Date())));
    banner.setAttribute("data-checked", "");
    // Through the CSSOM, which the CSP (no inline styles) allows, unlike a style attribute.
    if (bannerHeight) banner.style.minHeight = bannerHeight + "px";
  });
  fetch(window.location.href.split("#")[0],
    { headers: { "X-Trochelog-Fresh": "1" }, credentials: "same-origin" })
    .then(function (response) {
      if (state !== "waiting") return null;
      if (response.redirected) {
        state = "leaving";
        window.location.replace(response.url);
        return null;
      }
      var type = response.headers.get("Content-Type") || "";
      // The server's refusal of this page is its answer too: a sitter the patient removed read
      // the saved copy of their session page ("No answer from TrocheLog") over the 404, its
      // forms switched back on. Only no answer, or trouble on the server, keeps the copy.
      var refused = [401, 403, 404, 410].indexOf(response.status) >= 0;
      if ((!response.ok && !refused) || type.indexOf("text/html") !== 0) {
        throw new Error("no fresh page");
      }
      return response.text().then(function (text) {
        var old = document.querySelector(".page");
        if (state !== "waiting") return null;
        // Not a reload instead: the worker could answer it with the saved copy again.
        if (!window.htmx || !old) throw new Error("nothing to swap the page with");
        state = "swapping"; // a swap that fails leaves the copy, said to be unchecked
        var banner = document.querySelector("[data-saved-copy-banner]");
        bannerHeight = banner ? banner.offsetHeight : 0;
        // As a boosted navigation swaps a page in: scripts listening for htmx:after:swap
        // bind to the new content.
        return window.htmx.swap({ text: text, target: old, swap: "outerHTML", select: ".page",
          sourceElement: document.body, replacesSavedCopy: true }).then(function () {
          state = "fresh";
          root.removeAttribute("data-saved-copy");
          if (window.performance && performance.mark) performance.mark("trochelog:fresh");
        });
      });
    })
    .catch(unchecked);
})();

// A table box (app.css .table-box) that scrolls sideways, a wide table on a small screen or
// with large text, can be focused to scroll it from the keyboard, as a region named by its
// caption (WCAG 2.1.1). Only then: a box that fits adds no stop to the tab order.
(function () {
  "use strict";
  function check(box) {
    var scrolls = box.scrollWidth > box.clientWidth + 1;
    if (scrolls === box.hasAttribute("data-scrolls")) return;
    if (scrolls) {
      var caption = box.querySelector("caption");
      box.setAttribute("data-scrolls", "");
      box.setAttribute("tabindex", "0");
      box.setAttribute("role", "region");
      box.setAttribute("aria-label",
        (caption ? caption.textContent : box.getAttribute("data-label") || "").trim());
    } else {
      ["data-scrolls", "tabindex", "role", "aria-label"].forEach(function (name) {
        box.removeAttribute(name);
      });
    }
  }
  function init() {
    document.querySelectorAll(".table-box").forEach(check);
  }
  window.TrocheReady(init);
  document.addEventListener("htmx:after:swap", init);
  window.addEventListener("resize", init);
  // A table inside a closed disclosure has no width until it opens.
  document.addEventListener("toggle", init, true);
})();
