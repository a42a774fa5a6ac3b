// TrocheLog: privacy on a shared phone. Signed in, ask the browser to keep this device's offline
// data (the outbox, the protocol snapshot) instead of evicting it under storage pressure; before
// a sign-out, which wipes that data (Clear-Site-Data), warn when the outbox still holds entries.
(function () {
  "use strict";

  function signedIn() {
    return document.querySelector('[data-signed-in], form[action="/logout"]') !== null;
  }

  // Once per page load is enough: the grant lasts. Also after an htmx swap, because signing in
  // is a boosted form post that swaps the signed-in page into the sign-in page's document.
  var asked = false;
  function persistStorage() {
    if (asked || !signedIn()) return;
    if (!navigator.storage || typeof navigator.storage.persist !== "function") return;
    asked = true;
    navigator.storage.persisted()
      .then(function (already) { return already || navigator.storage.persist(); })
      .catch(function () { /* not granted: the browser may evict under pressure */ });
  }
  document.addEventListener("DOMContentLoaded", persistStorage);
  document.addEventListener("htmx:after:swap", persistStorage);
  if (document.readyState !== "loading") persistStorage();

  // The outbox shows its count in <span data-outbox-count>N</span> (maybe in several places).
  function unsentCount() {
    var most = 0;
    document.querySelectorAll("[data-outbox-count]").forEach(function (el) {
      var n = parseInt(el.textContent.trim(), 10);
      if (n > most) most = n;
    });
    return most;
  }

  // In the page's language when the page carries the text (data-text-signout-unsent-one and
  // -other, "{n}" for the count), as the outbox's texts are; English otherwise.
  function text(name, fallback) {
    var el = document.querySelector("[data-text-" + name + "]");
    return el ? el.getAttribute("data-text-" + name) : fallback;
  }
  function warning(n) {
    var message = n === 1
      ? text("signout-unsent-one", "1 entry on this phone has not been sent yet. If you sign " +
        "out now it will be deleted. Sign out and delete it?")
      : text("signout-unsent-other", "{n} entries on this phone have not been sent yet. If " +
        "you sign out now they will be deleted. Sign out and delete them?");
    return message.replace("{n}", String(n));
  }

  function currentUser() {
    var p = document.querySelector(".page[data-user]");
    return p && p.getAttribute("data-user");
  }

  // Another account's unsent entries on this phone (their session ended before they were
  // sent) wait for that person: the sign-out asks the server not to wipe storage under them
  // (keep_unsent=others, app/accounts/routes.py) and deletes this person's own here instead.
  function signOutKeepingOthers(form) {
    var me = currentUser();
    var box = window.TrocheOutbox;
    var send = function () {
      document.dispatchEvent(new CustomEvent("trochelog:signing-out")); // offline.js listens
      form.submit(); // a plain post: no submit event, no htmx
    };
    if (!me || !box) return send();
    box.all().then(function (items) {
      var others = items.some(function (item) { return item.user !== me; });
      if (!others) return;
      var keep = document.createElement("input");
      keep.type = "hidden";
      keep.name = "keep_unsent";
      keep.value = "others";
      form.appendChild(keep);
      return box.forgetUser(me);
    }).then(send, send);
  }

  // Capturing on the document runs before htmx's own submit listener on the (boosted) form, so
  // a refusal stops both htmx's request and the browser's plain form post.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || form.getAttribute("action") !== "/logout") return;
    // Offline, nothing is signed out or deleted (offline.js says signing out needs a signal):
    // no warning that something would be.
    if (!navigator.onLine) return;
    var n = unsentCount();
    event.preventDefault();
    event.stopImmediatePropagation();
    if (n > 0 && !window.confirm(warning(n))) return;
    signOutKeepingOthers(form);
  }, true);

  // The sign-in page means nobody is signed in here (signed out, or the session ended by
  // itself): the service worker drops every page it kept, and the protocol snapshot. Storage
  // stays for a session that ended by itself: the outbox's unsent entries wait for their user.
  // (Offline, /login is never shown: the service worker answers with /offline instead.)
  function forgetPages() {
    if (window.location.pathname !== "/login" || !navigator.serviceWorker) return;
    navigator.serviceWorker.ready.then(function (reg) {
      if (reg.active) reg.active.postMessage({ type: "forget" });
    });
  }
  forgetPages();
  document.addEventListener("htmx:after:swap", forgetPages);

  // Signed in: the service worker learns whose pages it keeps, and drops the last person's if
  // this is someone else (signed in by an invitation or a reset link, never seeing /login).
  function claimPages() {
    var user = currentUser();
    if (!user || !navigator.serviceWorker) return;
    navigator.serviceWorker.ready.then(function (reg) {
      if (reg.active) reg.active.postMessage({ type: "owner", user: user });
    });
  }
  claimPages();
  document.addEventListener("htmx:after:swap", claimPages);
})();
