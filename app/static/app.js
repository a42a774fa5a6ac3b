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
