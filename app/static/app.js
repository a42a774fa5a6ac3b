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
