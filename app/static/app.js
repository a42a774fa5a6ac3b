// TrocheLog: small enhancements on top of pages that work without JavaScript.
(function () {
  "use strict";

  if ("serviceWorker" in navigator) {
    window.addEventListener("load", function () {
      navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {
        // The app works without it; offline support is simply unavailable.
      });
    });
  }

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
  }
  function init() {
    document.querySelectorAll("form.questionnaire").forEach(function (form) {
      if (!form.querySelector("[data-asked-if]")) return;
      update(form);
      form.addEventListener("change", function () { update(form); });
    });
  }
  document.addEventListener("DOMContentLoaded", init);
  document.addEventListener("htmx:after:swap", init);
})();

// A verdict, a refusal or an error is the first thing the patient sees: move focus to it (and
// so scroll to it) when the page or an htmx swap brings one.
(function () {
  "use strict";
  function focusVerdict() {
    var target = document.querySelector("[data-focus]");
    if (target) target.focus();
  }
  document.addEventListener("DOMContentLoaded", focusVerdict);
  document.addEventListener("htmx:after:swap", focusVerdict);
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
      el.textContent = (el.getAttribute("data-text-elapsed") || "{m}").replace("{m}", minutes);
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
  document.addEventListener("DOMContentLoaded", init);
  document.addEventListener("htmx:after:swap", init);
})();
