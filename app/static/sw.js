// TrocheLog service worker: network-first pages, cached app shell, an offline fallback,
// Background Sync for the outbox (outbox.js, shared with the pages), and push notifications.
// app/pwa.py serves this file with each quoted static address below made hashed (immutable), and
// the cache version's placeholder replaced by a hash of them all: a deploy that changes a file
// installs a new worker with new caches.
importScripts("/static/outbox.js");
const VERSION = "v7-__ASSETS__";
const SHELL_CACHE = `shell-${VERSION}`;
const PAGE_CACHE = `pages-${VERSION}`;
const SHELL = [
  "/offline",
  "/help",
  "/static/app.css",
  "/static/app.js",
  "/static/outbox.js",
  "/static/offline.js",
  "/static/offline-gate.js",
  "/static/privacy.js",
  "/static/push.js",
  "/static/passkeys.js",
  "/static/__HTMX_FILE__",
  "/static/icons/icon-192.png",
  "/manifest.webmanifest",
];

// How long a page's network answer is waited for before its saved copy shows (issue 14: a
// repeat visit shows Today within 300 ms on a slow network, rendering included): 150 ms,
// or not at all when the last page took longer than SLOW_ANSWER_MS to come (a slow phone
// renders for a good part of the budget itself). How long the last one took is kept in
// the pages cache, so a worker the browser stopped while idle still knows.
const SAVED_COPY_AFTER_MS = Number("__SAVED_COPY_AFTER_MS__"); // settings.saved_copy_after_ms
const SLOW_ANSWER_MS = 300;
const ANSWER_TIME = "/__trochelog/last-page-answer-ms";
let lastAnswerMs = null;
// The header of a saved copy's request for the fresh page (app.js), and those in flight.
const FRESH_HEADER = "X-Trochelog-Fresh";
const pendingPages = new Map();
// Answers that say a page is no longer this person's to see: its saved copy goes too.
const GONE = new Set([403, 404, 410]);

self.addEventListener("install", (event) => {
  // Without cookies: a deploy installs this worker while someone is signed in, and the shell's
  // /offline and /help, kept across sign-outs, must not carry their name ("Signed in as …").
  event.waitUntil(caches.open(SHELL_CACHE).then((cache) =>
    cache.addAll(SHELL.map((url) => new Request(url, { credentials: "omit" })))));
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  // Navigation preload: the browser asks the network for a page while it starts this worker
  // (a cheap phone takes a good part of a second to start one), instead of after.
  const preload = self.registration.navigationPreload;
  event.waitUntil(
    Promise.all([
      preload ? preload.enable().catch(() => null) : null,
      caches.keys().then((keys) =>
        Promise.all(
          keys.filter((k) => k !== SHELL_CACHE && k !== PAGE_CACHE).map((k) => caches.delete(k))
        )
      ),
    ]).then(() => self.clients.claim())
  );
});

// A navigation's answer from the network: the one the browser preloaded while this worker
// started, when it did (asking again would send the request twice), else a fetch of our own.
function network(event) {
  return Promise.resolve(event.preloadResponse)
    .then((preloaded) => preloaded || fetch(event.request));
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/")) {
    // Not a page (an export's download, say): the network's answer, never a cached copy. A
    // navigation here was preloaded by the browser already; left to the browser, it would
    // ask again, and the server would build the file twice.
    if (request.mode === "navigate") event.respondWith(network(event));
    return;
  }

  if (url.pathname.startsWith("/static/")) {
    event.respondWith(
      caches.match(request).then((hit) => hit || fetch(request))
    );
    return;
  }

  if (request.headers.get(FRESH_HEADER)) {
    // A page shown from its saved copy asks for the fresh one: the answer of the request
    // already in flight for it (see savedCopy), not a second one.
    const pending = pendingPages.get(request.url);
    pendingPages.delete(request.url);
    if (pending) {
      event.respondWith(pending.then((response) =>
        // A redirect (signed out, say) or an error: the page's own request follows it.
        (response.ok && response.type === "basic" ? response.clone() : fetch(request))));
    }
    return;
  }

  if (request.mode === "navigate") {
    // Network first: pages are always fresh when there is signal, the last copy when not. A
    // slow answer (one bar of signal) is not waited for with an empty screen: after
    // SAVED_COPY_AFTER_MS the saved copy shows, marked as such, while the fresh one arrives.
    const started = Date.now();
    const fresh = network(event).then((response) => {
      noteAnswerTime(Date.now() - started);
      // Pages only: a download (an export's CSV or PDF) is not kept on the phone.
      const page = (response.headers.get("Content-Type") || "").startsWith("text/html");
      if (response.ok && !response.redirected && page) {
        const copy = response.clone();
        caches.open(PAGE_CACHE).then((cache) => keep(cache, request, copy, started));
      } else if (GONE.has(response.status)) {
        // No longer this person's to see (a caregiver's link revoked, a record deleted): its
        // old copy must not answer offline either, nor those of the pages under it.
        markGone(request.url);
        caches.open(PAGE_CACHE).then((cache) => dropWithBelow(cache, request.url));
      }
      return response;
    });
    event.respondWith(
      Promise.race([fresh, savedCopy(event, request, fresh)])
        .catch(() =>
          // The signed-in copy first (pages cache), then the shell's anonymous one; a form page
          // reached with a query (the screener after a PHQ-9) falls back to the page itself,
          // which reads its query.
          // The person's own copy says when it was made (offline.js: an old "Due now" is said to
          // be old).
          pagesCopy(request)
            .then((hit) => (hit ? markedCopy(hit, "data-offline-copy")
              : caches.match(request, { ignoreSearch: true, ignoreVary: true })))
            .then((hit) => hit || caches.match("/offline", { ignoreVary: true }))
        )
    );
  }
});

// This person's last copy of a page. Vary (HX-Request, language) is ignored: a page is a page
// for this one person.
function pagesCopy(request, exact) {
  return caches.open(PAGE_CACHE).then((cache) => cache.match(request, { ignoreVary: true })
    .then((hit) => hit ||
      (exact ? null : cache.match(request, { ignoreSearch: true, ignoreVary: true }))));
}

function pathOf(url) {
  return new URL(url, self.location.origin).pathname;
}

// When each page (and the pages under it) was last answered as no longer this person's. A copy
// asked for before that, answered after (a warm-up in flight while the patient stopped sharing),
// is not kept: it would put back what the answer took away.
const goneAt = new Map();
function markGone(url) {
  goneAt.set(pathOf(url), Date.now());
}
function goneSince(url, asked) {
  const path = pathOf(url);
  for (const [gone, at] of goneAt) {
    if (at >= asked && atOrUnder(path, gone)) return true;
  }
  return false;
}
// Keep a page's copy, unless it went meanwhile; checked again once stored, in case it went while
// the copy was being written.
function keep(cache, key, response, asked) {
  const url = typeof key === "string" ? key : key.url;
  if (goneSince(url, asked)) return Promise.resolve();
  return cache.put(key, response).then(() => (goneSince(url, asked)
    ? cache.delete(key, { ignoreVary: true }) : null));
}

// Whether `path` is the page `top` or one under it.
function atOrUnder(path, top) {
  return path === top || path.startsWith(`${top}/`);
}

// Delete the saved copies whose path passes `test`, whatever their query.
function dropWhere(cache, test) {
  return cache.keys().then((requests) => Promise.all(requests
    .filter((kept) => test(pathOf(kept.url)))
    .map((kept) => cache.delete(kept, { ignoreVary: true }))));
}

// A page that is no longer this person's takes the saved copies of the pages under it along (a
// sitter's session pages under the person's page).
function dropWithBelow(cache, url) {
  const gone = pathOf(url);
  return dropWhere(cache, (path) => atOrUnder(path, gone));
}

// A page that lists everyone whose pages may be kept under `prefix` (a sitter's home: each
// person who shares with them, as /supporting/<id>...) asks for the rest to go: a person who
// stopped sharing, or ended the link, is not shown on the sitter's phone offline. Only the
// first part after the prefix (the person) is compared: a page under a kept person stays.
function prune(prefix, urls) {
  if (typeof prefix !== "string" || !prefix.startsWith("/") || !prefix.endsWith("/")) {
    return Promise.resolve();
  }
  const whose = (path) => path.slice(prefix.length).split("/")[0];
  const kept = new Set(urls.filter((url) => typeof url === "string" && url.startsWith(prefix))
    .map(whose));
  const stale = (path) => path.startsWith(prefix) && !kept.has(whose(path));
  for (const url of [...warmedAt.keys()]) if (stale(pathOf(url))) warmedAt.delete(url);
  return caches.open(PAGE_CACHE).then((cache) => dropWhere(cache, stale));
}

function lastAnswer() {
  if (lastAnswerMs !== null) return Promise.resolve(lastAnswerMs);
  return caches.open(PAGE_CACHE)
    .then((cache) => cache.match(ANSWER_TIME))
    .then((kept) => (kept ? kept.text() : null))
    .then((text) => (text === null || isNaN(Number(text)) ? null : Number(text)))
    .catch(() => null);
}

function noteAnswerTime(ms) {
  lastAnswerMs = ms;
  caches.open(PAGE_CACHE)
    .then((cache) => cache.put(ANSWER_TIME, new Response(String(ms))))
    .catch(() => null);
}

// After SAVED_COPY_AFTER_MS without the network's answer: the page's saved copy, marked
// data-saved-copy on <html> (with the time it was made, its Date header). The page then shows
// it as a saved copy, keeps its forms shut and asks for the fresh one (app.js), which this
// worker answers with the request already in flight (pendingPages). Never resolves when
// there is no saved copy, or when the network answered first: the race is the network's.
function savedCopy(event, request, fresh) {
  if (!(SAVED_COPY_AFTER_MS >= 0)) return new Promise(() => {});
  let answered = false;
  fresh.then(() => { answered = true; }, () => { answered = true; });
  return lastAnswer()
    .then((ms) => new Promise((resolve) =>
      setTimeout(resolve, ms !== null && ms > SLOW_ANSWER_MS ? 0 : SAVED_COPY_AFTER_MS)))
    // This address's own copy only: another page of a list is not a copy of this one.
    .then(() => (answered ? null : pagesCopy(request, true)))
    .then((hit) => {
      if (!hit || answered) return new Promise(() => {});
      pendingPages.set(request.url, fresh);
      // The worker stays up until the fresh page is in; an unclaimed one is let go after a minute.
      event.waitUntil(fresh.catch(() => null).then(() => new Promise((done) => setTimeout(() => {
        if (pendingPages.get(request.url) === fresh) pendingPages.delete(request.url);
        done();
      }, 60000))));
      return markedCopy(hit, "data-saved-copy");
    });
}

// A page's saved copy with `attr` on its <html>: the time the copy was made (its Date header).
function markedCopy(hit, attr) {
  return hit.text().then((html) => {
    const made = hit.headers.get("Date") || "";
    const marked = html.replace("<html", `<html ${attr}="${made.replace(/"/g, "")}"`);
    const headers = new Headers(hit.headers);
    headers.delete("Content-Length");
    headers.delete("Content-Encoding");
    return new Response(marked, { status: 200, headers });
  });
}

// Background Sync (Chromium): send the outbox even when no page is open. Pages flush too; the
// server dedupes by client id, so both at once write each entry once.
self.addEventListener("sync", (event) => {
  if (event.tag === "outbox-flush") {
    event.waitUntil(
      self.TrocheOutbox.flush().then((summary) => {
        if (summary.waiting) throw new Error("outbox waits for a signal or a sign-in");
      })
    );
  }
});

// Bumped when a page says the person is signing out: a warm-up still in flight must not put
// their pages back after the sign-out wiped them.
let generation = 0;
// Each page is fetched at most every few minutes: every page load asks, and a phone on a
// metered connection should not fetch a dozen pages for each tap. Kept per page, not per
// warm-up, so a page that failed (one bar of signal) or that is new on the list (a person a
// sitter has just begun to support) is fetched at the next page load, not minutes later.
const WARM_EVERY_MS = 5 * 60 * 1000;
const warmedAt = new Map();
let warming = Promise.resolve();
const SNAPSHOT = "/api/v1/today";
const OFFLINE_COPY_HEADER = "X-Trochelog-Offline-Copy"; // app/audit/service.py

// Resolves true when every page was answered: cached, or a final answer not to keep (a
// redirect, a page this person cannot see). A server error or no answer is false: not ready.
function warmPages(requested, started) {
  // The Today snapshot (what the offline gate judges with) is always refreshed: a dose logged a
  // minute ago must count offline.
  const now = Date.now();
  const urls = requested
    .filter((url) => typeof url === "string" && url.startsWith("/"))
    .filter((url) => url === SNAPSHOT || !(now - (warmedAt.get(url) || 0) < WARM_EVERY_MS));
  return caches.open(PAGE_CACHE).then((cache) =>
    Promise.all(
      urls.map((url) => {
        const asked = Date.now();
        // Marked: the server's access log tells this refresh from the person opening the page.
        return fetch(url, { credentials: "same-origin", headers: { [OFFLINE_COPY_HEADER]: "1" } })
          .then((response) => {
            if (generation !== started) return true;
            if (response.status >= 500) return false;
            if (GONE.has(response.status)) {
              markGone(url);
              return dropWithBelow(cache, url).then(() => true);
            }
            if (!response.ok || response.redirected) return true;
            return keep(cache, url, response, asked).then(() => {
              if (generation === started) warmedAt.set(url, Date.now());
              return true;
            });
          })
          .catch(() => false);
      })
    )
  ).then((answered) => answered.every(Boolean));
}

// One warm-up at a time. A page that asks while one is in flight waits for it, then fetches
// what that one did not: its own list may hold pages the other did not. `onlyUnder`: see prune.
function warm(requested, onlyUnder) {
  const started = generation;
  const mine = warming.then(() => (generation === started
    ? prune(onlyUnder, requested).then(() => warmPages(requested, started)) : true));
  warming = mine.catch(() => null);
  return mine;
}

// Every cache but the anonymous app shell: pages, the protocol snapshot, anything else.
function forget() {
  generation += 1;
  warmedAt.clear();
  pendingPages.clear();
  lastAnswerMs = null;
  return caches.keys().then((keys) =>
    Promise.all(keys.filter((k) => k !== SHELL_CACHE).map((k) => caches.delete(k))));
}

// Whose pages the caches hold (the page's data-user, an opaque id), kept beside them. Someone
// else signed in on this phone without the sign-in page (an invitation, a password reset, a
// session that ended by itself first) must not be shown the last person's saved pages.
const OWNER = "/__trochelog/owner";
let owning = Promise.resolve();
function own(user) {
  owning = owning.then(() => caches.open(PAGE_CACHE)
    .then((cache) => cache.match(OWNER))
    .then((kept) => (kept ? kept.text() : null))
    .then((owner) => (owner !== null && owner !== user ? forget() : null))
    .then(() => caches.open(PAGE_CACHE))
    .then((cache) => cache.put(OWNER, new Response(user))))
    .catch(() => null);
  return owning;
}

// Pages ask for the pages a patient needs offline to be kept fresh (after sign-in, online).
self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type === "forget") {
    event.waitUntil(owning.then(forget));
    return;
  }
  if (data.type === "owner" && typeof data.user === "string" && data.user) {
    event.waitUntil(own(data.user));
    return;
  }
  if (data.type !== "warm" || !Array.isArray(data.urls)) return;
  // A page that began loading while this worker was activating is not controlled (the
  // activation's claim ran before it existed): claim it now, or it would not be answered
  // offline until its next navigation.
  const owned = typeof data.user === "string" && data.user ? own(data.user) : owning;
  event.waitUntil(
    Promise.all([self.clients.claim(), owned.then(() => warm(data.urls, data.onlyUnder))])
      .then(([, complete]) => {
        // Tell the page whether its offline copies are in place (tests wait for this too).
        if (event.source) event.source.postMessage({ type: "warmed", complete });
      })
  );
});

// --- Push notifications -------------------------------------------------------------------------
// The payload (app/reminders/dispatcher.py) is {title, body, tag, url, id, actions: {open,
// snooze}}, with neutral texts only. Every push must show a notification (browsers penalise or
// revoke a site whose push shows nothing; iOS requires it), so an unreadable payload still shows
// a generic one.
const PUSH_TITLE = "TrocheLog";
// The payload's texts come in the person's language; this one, for a payload that cannot be read,
// follows the phone's (the only two languages the app speaks).
const PUSH_FALLBACK_BODY = /^es\b/i.test((self.navigator && self.navigator.language) || "")
  ? "Abra la aplicación, por favor." : "Please open the app.";
const PUSH_FALLBACK_TAG = "tl-generic";

function pushText(value, fallback) {
  return typeof value === "string" && value.trim() ? value.slice(0, 200) : fallback;
}

// Only a path on this site: a notification never opens another one.
function localPath(value) {
  if (typeof value !== "string" || !value.startsWith("/") || value.startsWith("//") ||
      value.includes("\\")) return "/";
  try {
    const url = new URL(value, self.location.origin);
    return url.origin === self.location.origin ? url.pathname + url.search + url.hash : "/";
  } catch (e) {
    return "/";
  }
}

function readPush(event) {
  try {
    const payload = event.data ? event.data.json() : null;
    return payload && typeof payload === "object" && !Array.isArray(payload) ? payload : {};
  } catch (e) {
    return {};
  }
}

self.addEventListener("push", (event) => {
  const payload = readPush(event);
  const options = {
    body: pushText(payload.body, PUSH_FALLBACK_BODY),
    // The same tag replaces an earlier notification instead of stacking a second one.
    tag: pushText(payload.tag, PUSH_FALLBACK_TAG),
    data: { url: localPath(payload.url), id: pushText(payload.id, "") },
  };
  const actions = payload.actions && typeof payload.actions === "object" ? payload.actions : {};
  const buttons = ["open", "snooze"]
    .filter((key) => typeof actions[key] === "string" && actions[key])
    .map((key) => ({ action: key, title: pushText(actions[key], key) }));
  if (buttons.length) options.actions = buttons;
  event.waitUntil(
    self.registration.showNotification(pushText(payload.title, PUSH_TITLE), options)
      // A browser that refuses the options (too many actions, an old engine) still shows one.
      .catch(() => self.registration.showNotification(PUSH_TITLE, {
        body: PUSH_FALLBACK_BODY, tag: options.tag, data: options.data,
      }))
  );
});

// Who is signed in, and writes as them: from outbox.js, imported above.
const { whoAmI, postJSON } = self.TrocheOutbox;

// Focus a TrocheLog window and take it to the page, or open one.
function openPage(path) {
  return self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
    const mine = windows.find((w) => new URL(w.url).origin === self.location.origin);
    if (!mine) return self.clients.openWindow(path);
    return mine.focus().then((focused) => {
      const client = focused || mine;
      // navigate() works only on a window this worker controls; otherwise open a new one.
      if (typeof client.navigate !== "function") return self.clients.openWindow(path);
      return client.navigate(path).then((moved) => moved || client)
        .catch(() => self.clients.openWindow(path));
    });
  });
}

function snooze(id) {
  return whoAmI().then((who) => {
    if (!who) throw new Error("signed out");
    return postJSON(who, "/api/v1/push/snooze", { id });
  }).then((response) => {
    if (!response.ok) throw new Error(`snooze answered ${response.status}`);
  });
}

self.addEventListener("notificationclick", (event) => {
  const notification = event.notification;
  const data = notification.data || {};
  const path = localPath(data.url);
  notification.close();
  if (event.action === "snooze" && data.id) {
    // Signed out, offline or refused: open the page instead, so the reminder is not lost.
    event.waitUntil(snooze(data.id).catch(() => openPage(path)));
    return;
  }
  event.waitUntil(openPage(path));
});

// The browser replaced (or dropped) the subscription: subscribe again with the same key and tell
// the server which one it replaces. Signed out, the next app open's re-check (push.js) does it.
self.addEventListener("pushsubscriptionchange", (event) => {
  const old = event.oldSubscription;
  const options = (old && old.options) || null;
  event.waitUntil(
    (event.newSubscription
      ? Promise.resolve(event.newSubscription)
      : options && options.applicationServerKey
        ? self.registration.pushManager.subscribe({
          userVisibleOnly: true, applicationServerKey: options.applicationServerKey,
        })
        : Promise.resolve(null))
      .then((subscription) => {
        if (!subscription) return null;
        return whoAmI().then((who) => {
          if (!who) return null;
          const json = subscription.toJSON();
          const body = { endpoint: json.endpoint, keys: json.keys };
          if (old && old.endpoint && old.endpoint !== json.endpoint) {
            body.old_endpoint = old.endpoint;
          }
          return postJSON(who, "/api/v1/push/subscriptions", body);
        });
      })
      .catch(() => null)
  );
});
