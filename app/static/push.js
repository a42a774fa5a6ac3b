// TrocheLog reminders on this device: the "Turn on reminders" button (permission is asked only
// from that tap: iOS allows nothing else, and a prompt on page load is how people learn to say
// no), the state of this browser in words, and a re-check on every app open that sends the
// server this browser's current subscription (browsers change them now and then).
//
// This browser remembers in localStorage whose reminders it turned on ("on:<user id>") or that
// the person removed it from their devices here ("off:<user id>"). The re-check only sends or
// renews a subscription for the person who turned it on here, so removing "this device" stays
// removed, and a shared computer never starts receiving the next person's reminders unasked.
// Sign-out wipes storage (Clear-Site-Data) and with it the service worker and its subscription.
(function () {
  "use strict";

  var MARK = "trochelog:push";
  var READY_TIMEOUT_MS = 15000;

  function page() { return document.querySelector(".page"); }
  function currentUser() { var p = page(); return (p && p.getAttribute("data-user")) || ""; }

  function supported() {
    return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window &&
      window.isSecureContext !== false;
  }
  function isIos() {
    var ua = navigator.userAgent || "";
    return /iPad|iPhone|iPod/.test(ua) ||
      (navigator.platform === "MacIntel" && navigator.maxTouchPoints > 1);
  }
  function installed() {
    return navigator.standalone === true ||
      (window.matchMedia && window.matchMedia("(display-mode: standalone)").matches);
  }

  function mark() {
    try { return window.localStorage.getItem(MARK) || ""; } catch (e) { return ""; }
  }
  function setMark(value) {
    try { window.localStorage.setItem(MARK, value); } catch (e) { /* private mode: no memory */ }
  }

  // --- talking to the server ------------------------------------------------------------------

  // Who is signed in, and writes as them: outbox.js (loaded before this file) has both.
  function whoAmI() { return window.TrocheOutbox.whoAmI(); }

  function base64UrlToBytes(text) {
    var padded = (text + "===".slice((text.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = window.atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i += 1) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function serverKey() {
    return fetch("/api/v1/push/vapid-public-key", { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) throw new Error("vapid key " + response.status);
        return response.json();
      })
      .then(function (body) {
        var key = typeof body === "string" ? body : body.public_key || body.key;
        if (!key) throw new Error("no vapid key");
        return base64UrlToBytes(key);
      });
  }

  function sameKey(subscription, key) {
    var current = subscription.options && subscription.options.applicationServerKey;
    if (!current) return true; // the browser does not say: keep it
    var bytes = new Uint8Array(current);
    if (bytes.length !== key.length) return false;
    for (var i = 0; i < key.length; i += 1) if (bytes[i] !== key[i]) return false;
    return true;
  }

  // `tapped`: the person asked just now. Otherwise (the re-check) nothing is sent once this
  // device was removed here, even by a re-check that started just before the removal.
  function removedHere() { return mark().indexOf("off:") === 0; }

  function send(me, subscription, oldEndpoint, tapped) {
    if (!tapped && removedHere()) return Promise.resolve(null);
    var json = subscription.toJSON();
    // No name: the server names a new device from its User-Agent ("Chrome on Android").
    var body = { endpoint: json.endpoint, keys: json.keys };
    if (oldEndpoint) body.old_endpoint = oldEndpoint;
    return window.TrocheOutbox.postJSON(me, "/api/v1/push/subscriptions", body)
      .then(function (response) {
        if (!response.ok) throw new Error("subscription refused " + response.status);
        if (tapped || !removedHere()) setMark("on:" + me.id);
        return subscription;
      });
  }

  // The service worker's registration, or a failure after a while (never a hang on a browser
  // where it did not register).
  function ready() {
    return new Promise(function (resolve, reject) {
      var timer = setTimeout(function () { reject(new Error("no service worker")); },
        READY_TIMEOUT_MS);
      navigator.serviceWorker.ready.then(function (reg) { clearTimeout(timer); resolve(reg); },
        reject);
    });
  }

  // Subscribe (or keep the subscription when it uses the server's current key) and send it.
  function subscribeAndSend(me, tapped) {
    return Promise.all([ready(), serverKey()]).then(function (both) {
      var reg = both[0];
      var key = both[1];
      return reg.pushManager.getSubscription().then(function (existing) {
        if (existing && sameKey(existing, key)) return send(me, existing, null, tapped);
        var old = existing ? existing.endpoint : null;
        var gone = existing ? existing.unsubscribe().catch(function () { return false; })
          : Promise.resolve();
        return gone.then(function () {
          return reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
        }).then(function (subscription) { return send(me, subscription, old, tapped); });
      });
    });
  }

  // --- what the page shows ----------------------------------------------------------------------

  function text(box, key) { return box.getAttribute("data-text-" + key) || ""; }

  function show(state, message) {
    document.querySelectorAll("[data-push]").forEach(function (box) {
      var status = box.querySelector("[data-push-status]");
      var button = box.querySelector("[data-push-enable]");
      if (status) status.textContent = message ? text(box, message) : text(box, state);
      if (button) {
        button.hidden = state !== "off";
        button.disabled = false;
      }
    });
  }

  function markThisDevice(endpoint) {
    var label = document.querySelector("[data-push]");
    document.querySelectorAll("[data-push-devices] [data-endpoint]").forEach(function (row) {
      var badge = row.querySelector("[data-this-device]");
      if (!badge) return;
      var mine = !!endpoint && row.getAttribute("data-endpoint") === endpoint;
      badge.hidden = !mine;
      badge.textContent = mine && label ? text(label, "this-device") : "";
    });
  }

  // The state of this browser, for people: never throws, whatever the browser lacks.
  function currentState() {
    if (!supported()) {
      return Promise.resolve({ state: isIos() && !installed() ? "ios-install" : "unsupported" });
    }
    if (Notification.permission === "denied") return Promise.resolve({ state: "denied" });
    return navigator.serviceWorker.getRegistration("/")
      .then(function (reg) { return reg ? reg.pushManager.getSubscription() : null; })
      .then(function (subscription) {
        var on = subscription && Notification.permission === "granted" &&
          mark() === "on:" + currentUser();
        return { state: on ? "on" : "off", endpoint: subscription ? subscription.endpoint : "" };
      })
      .catch(function () { return { state: "off" }; });
  }

  function render() {
    if (!document.querySelector("[data-push]") &&
        !document.querySelector("[data-push-devices]")) return Promise.resolve();
    return currentState().then(function (found) {
      show(found.state);
      markThisDevice(found.endpoint);
    });
  }

  // After turning reminders on from the reminders page, its device list shows the new device.
  function reloadDevices() {
    var list = document.querySelector("[data-push-devices]");
    if (!list) return Promise.resolve();
    return fetch(window.location.pathname, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html")
          .querySelector("[data-push-devices]");
        if (fresh) list.innerHTML = fresh.innerHTML;
      })
      .catch(function () { /* the list catches up on the next visit */ });
  }

  function enable(button) {
    if (!supported()) { render(); return; }
    button.disabled = true;
    // Asked here, in the tap's own handler: Safari refuses a prompt outside a user gesture.
    // Older Safari answers through a callback instead of a promise.
    var asked = new Promise(function (resolve) {
      try {
        var answer = Notification.requestPermission(resolve);
        if (answer && typeof answer.then === "function") {
          answer.then(resolve, function () { resolve(Notification.permission); });
        }
      } catch (e) {
        resolve(Notification.permission);
      }
    });
    asked.then(function (permission) {
      if (permission === "denied") { show("denied"); return null; }
      if (permission !== "granted") { show("off", "not-allowed"); return null; }
      show("working");
      return whoAmI().then(function (me) {
        if (!me) throw new Error("signed out");
        return subscribeAndSend(me, true);
      }).then(function () {
        return reloadDevices().then(render);
      });
    }).catch(function () {
      show("off", "failed");
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element && event.target.closest("[data-push-enable]");
    if (button) enable(button);
  });

  // Removing this very browser from the list: unsubscribe it too, and remember that it was
  // removed here, so the re-check on the next app open does not turn it back on.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-push-remove")) return;
    var row = form.closest("[data-endpoint]");
    var badge = row && row.querySelector("[data-this-device]");
    if (!badge || badge.hidden || !supported()) return;
    setMark("off:" + currentUser());
    navigator.serviceWorker.getRegistration("/")
      .then(function (reg) { return reg ? reg.pushManager.getSubscription() : null; })
      .then(function (subscription) { return subscription && subscription.unsubscribe(); })
      .catch(function () { /* the server forgets it anyway */ });
  }, true);

  // On every app open (and after signing in, a boosted swap), for whoever is signed in: send
  // this browser's subscription again, or renew it when the browser dropped it. The server
  // upserts, so this is harmless when nothing changed.
  var checkedFor = "";
  function recheck() {
    var user = currentUser();
    if (!user || checkedFor === user) return Promise.resolve();
    checkedFor = user;
    if (!supported() || Notification.permission !== "granted") return Promise.resolve();
    var owner = mark();
    return navigator.serviceWorker.getRegistration("/").then(function (reg) {
      return reg ? reg.pushManager.getSubscription() : null;
    }).then(function (subscription) {
      var mine = owner === "on:" + user;
      // A subscription nobody here claimed yet is this person's (they are the one signed in);
      // one that another person turned on here, or that this person removed, stays as it is.
      if (subscription ? !(mine || owner === "") : !mine) return null;
      return whoAmI().then(function (me) {
        if (!me || me.id !== user) return null;
        return subscribeAndSend(me);
      });
    }).catch(function () { /* tried again on the next app open */ }).then(render);
  }

  function init() {
    render().then(recheck).then(function () {
      // Done for this page (tests wait for this too).
      document.documentElement.setAttribute("data-push-checked", "");
    });
  }
  document.addEventListener("htmx:after:swap", init);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
