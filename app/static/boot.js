// TrocheLog: run the page's scripts after its first paint. They only enhance pages that work
// without JavaScript; fetched and run before the first paint, they delayed what a patient sees
// first on a slow phone (issue 14: Lighthouse counts them into Today's LCP). base.html lists
// them, in order, in <template data-scripts> (inert there: neither fetched nor run), and carries
// this file inline (its hash is in the CSP): a request of its own before the first paint cost
// a round trip too.
(function () {
  "use strict";
  // Passkeys are offered only where this browser has WebAuthn: tested here, before the first
  // paint, so the sign-in page does not move down when the offer appears after it (app.css
  // shows it at once; a layout shift Lighthouse counted). passkeys.js reads the same mark.
  if (typeof window.PublicKeyCredential === "function" && navigator.credentials &&
      window.isSecureContext !== false) {
    document.documentElement.setAttribute("data-webauthn", "");
  }
  if (document.readyState === "loading") {
    // Inline in <head>: start once the page is parsed, as a deferred script would.
    document.addEventListener("DOMContentLoaded", boot);
  } else {
    boot();
  }
  function boot() {
  var started = false;
  function load() {
    if (started) return;
    started = true;
    var list = document.querySelector("template[data-scripts]");
    if (!list) return;
    list.content.querySelectorAll("script[src]").forEach(function (listed) {
      var script = document.createElement("script");
      script.src = listed.getAttribute("src");
      script.async = false; // in the listed order: htmx first, then what listens to it
      script.setAttribute("data-loaded-by", "boot");
      document.head.appendChild(script);
    });
  }
  if (document.visibilityState === "hidden") {
    load(); // nothing is painted in a background tab: no reason to wait
    return;
  }
  // A task queued from a frame callback runs once that frame is painted.
  requestAnimationFrame(function () { setTimeout(load, 0); });
  setTimeout(load, 300); // frames can stall (a throttled page): never wait longer than this
  }
})();
