// TrocheLog service worker: network-first pages, cached app shell, an offline fallback, and
// Background Sync for the outbox (outbox.js, shared with the pages).
importScripts("/static/outbox.js");
const VERSION = "v2";
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
  "/static/__HTMX_FILE__",
  "/static/icons/icon-192.png",
  "/manifest.webmanifest",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((cache) => cache.addAll(SHELL)));
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys().then((keys) =>
      Promise.all(
        keys.filter((k) => k !== SHELL_CACHE && k !== PAGE_CACHE).map((k) => caches.delete(k))
      )
    ).then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/")) return;

  if (url.pathname.startsWith("/static/")) {
    event.respondWith(
      caches.match(request).then((hit) => hit || fetch(request))
    );
    return;
  }

  if (request.mode === "navigate") {
    // Network first: pages are always fresh when there is signal, the last copy when not.
    event.respondWith(
      fetch(request)
        .then((response) => {
          if (response.ok && !response.redirected) {
            const copy = response.clone();
            caches.open(PAGE_CACHE).then((cache) => cache.put(request, copy));
          }
          return response;
        })
        .catch(() =>
          // The signed-in copy first (pages cache), then the shell's anonymous one; a form page
          // reached with a query (the screener after a PHQ-9) falls back to the page itself,
          // which reads its query.
          // Vary (HX-Request, language) is ignored: a page is a page for this one person.
          caches.open(PAGE_CACHE)
            .then((cache) => cache.match(request, { ignoreVary: true })
              .then((hit) => hit || cache.match(request, { ignoreSearch: true, ignoreVary: true })))
            .then((hit) => hit || caches.match(request, { ignoreSearch: true, ignoreVary: true }))
            .then((hit) => hit || caches.match("/offline", { ignoreVary: true }))
        )
    );
  }
});

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
// One warm-up at a time, and at most every few minutes: every page load asks, and a phone on
// a metered connection should not fetch a dozen pages for each tap.
const WARM_EVERY_MS = 5 * 60 * 1000;
let warming = null;
let warmedAt = 0;
const SNAPSHOT = "/api/v1/today";

function warm(requested) {
  if (warming) return warming;
  // The Today snapshot (what the offline gate judges with) is always refreshed: a dose logged a
  // minute ago must count offline. The pages, at most every few minutes.
  const recent = Date.now() - warmedAt < WARM_EVERY_MS;
  const urls = recent ? requested.filter((url) => url === SNAPSHOT) : requested;
  const started = generation;
  warming = caches.open(PAGE_CACHE).then((cache) =>
    Promise.all(
      urls
        .filter((url) => typeof url === "string" && url.startsWith("/"))
        .map((url) =>
          fetch(url, { credentials: "same-origin" })
            .then((response) => {
              if (response.ok && !response.redirected && generation === started) {
                return cache.put(url, response);
              }
              return null;
            })
            .catch(() => null)
        )
    )
  ).then(() => {
    if (generation === started && !recent) warmedAt = Date.now();
  }).finally(() => {
    warming = null;
  });
  return warming;
}

// Pages ask for the pages a patient needs offline to be kept fresh (after sign-in, online).
self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type === "forget") {
    // Every cache but the anonymous app shell: pages, the protocol snapshot, anything else.
    generation += 1;
    warmedAt = 0;
    event.waitUntil(
      caches.keys().then((keys) =>
        Promise.all(keys.filter((k) => k !== SHELL_CACHE).map((k) => caches.delete(k))))
    );
    return;
  }
  if (data.type !== "warm" || !Array.isArray(data.urls)) return;
  event.waitUntil(
    warm(data.urls).then(() => {
      // Tell the page its offline copies are in place (tests wait for this too).
      if (event.source) event.source.postMessage({ type: "warmed" });
    })
  );
});
