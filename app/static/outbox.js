// TrocheLog outbox: writes made without a signal wait in IndexedDB and go to POST /api/v1/sync
// when the phone is back online. Used by pages (app.js) and by the service worker (Background
// Sync), so nothing here touches the DOM.
//
// An item is {id, kind, recorded_at, data, user, label, status: "pending" | "rejected",
// detail, errors, queued_at}. Its id is the client UUID the server dedupes on, so a flush that
// runs twice (Background Sync and a tab at once) writes each entry once. An item leaves the
// outbox only when the server answered "created" or "duplicate"; a "rejected" one stays, with
// the server's reason, until the person fixes or discards it. Items belong to the user who
// made them: a flush sends only the signed-in user's items, and pages list only theirs.
(function (root) {
  "use strict";

  var DB_NAME = "trochelog";
  var STORE = "outbox";
  // What the server said that the patient must still read (an offline verdict it did not
  // agree with), kept until they dismiss it: a flush may run in the service worker with no
  // page open.
  var NOTICES = "notices";
  // Doses, safety checks, check-ins, screens and corrections the server accepted (what the
  // offline gate folds in), kept until a Today snapshot made after that answer is on the
  // phone: the snapshot may predate them, and a dose that left the outbox must not leave the
  // phone's count with it (a second dose would look allowed).
  var SENT = "sent";
  var KEPT_WHEN_SENT = ["dose", "gate", "checkin", "questionnaire", "dose_revision"];
  var BATCH = 50;
  var CHANGED = "trochelog:outbox-changed";

  function open() {
    return new Promise(function (resolve, reject) {
      var request = root.indexedDB.open(DB_NAME, 3);
      request.onupgradeneeded = function () {
        var db = request.result;
        if (!db.objectStoreNames.contains(STORE)) {
          db.createObjectStore(STORE, { keyPath: "id" }).createIndex("queued_at", "queued_at");
        }
        if (!db.objectStoreNames.contains(NOTICES)) {
          db.createObjectStore(NOTICES, { keyPath: "id" });
        }
        if (!db.objectStoreNames.contains(SENT)) {
          db.createObjectStore(SENT, { keyPath: "id" });
        }
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function withStore(mode, work, name) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(name || STORE, mode);
        var result = work(tx.objectStore(name || STORE));
        tx.oncomplete = function () { db.close(); resolve(result && result.value); };
        // A transaction aborted because the connection was closed under it (the sign-out wipe
        // deletes the database) has no error of its own: reject with one that says so.
        tx.onerror = function () { db.close(); reject(tx.error || new Error("The outbox storage was closed.")); };
        tx.onabort = function () { db.close(); reject(tx.error || new Error("The outbox storage was closed.")); };
      });
    });
  }

  function announce() {
    // Pages redraw their count; the service worker tells its pages.
    if (typeof root.dispatchEvent === "function" && typeof CustomEvent === "function") {
      try { root.dispatchEvent(new CustomEvent(CHANGED)); } catch (e) { /* worker */ }
    }
    if (root.clients && root.clients.matchAll) {
      root.clients.matchAll({ includeUncontrolled: true }).then(function (list) {
        list.forEach(function (client) { client.postMessage({ type: CHANGED }); });
      });
    }
  }

  function all(user) {
    return withStore("readonly", function (store) {
      var box = { value: [] };
      store.index("queued_at").openCursor().onsuccess = function (event) {
        var cursor = event.target.result;
        if (!cursor) return;
        if (user === undefined || cursor.value.user === user) box.value.push(cursor.value);
        cursor.continue();
      };
      return box;
    });
  }

  function add(item) {
    item.status = "pending";
    item.queued_at = item.queued_at || new Date().toISOString();
    return withStore("readwrite", function (store) { store.put(item); })
      .then(function () { announce(); return item; });
  }

  function remove(id) {
    return withStore("readwrite", function (store) { store.delete(id); }).then(announce);
  }

  function update(id, patch) {
    return withStore("readwrite", function (store) {
      store.get(id).onsuccess = function (event) {
        var item = event.target.result;
        if (!item) return;
        Object.keys(patch).forEach(function (key) { item[key] = patch[key]; });
        store.put(item);
      };
    });
  }

  // Every record of `name` (a store keyed by id, not by time) that belongs to `user`.
  function usersRecords(name, user) {
    return withStore("readonly", function (store) {
      var box = { value: [] };
      store.openCursor().onsuccess = function (event) {
        var cursor = event.target.result;
        if (!cursor) return;
        if (cursor.value.user === user) box.value.push(cursor.value);
        cursor.continue();
      };
      return box;
    }, name);
  }

  function notices(user) { return usersRecords(NOTICES, user); }

  function notice(user, kind, id) {
    return withStore("readwrite", function (store) {
      store.put({ id: id, user: user, kind: kind, at: new Date().toISOString() });
    }, NOTICES);
  }

  // What the server accepted of `items` (KEPT_WHEN_SENT), with when it answered by its own
  // clock (the answer's `answered_at`, after its commit), to compare with a snapshot's `now`.
  function keepSent(user, items, answeredAt) {
    if (!items.length) return Promise.resolve();
    return withStore("readwrite", function (store) {
      items.forEach(function (item) {
        store.put({ id: item.id, user: user, kind: item.kind, recorded_at: item.recorded_at,
                    data: item.data, answered_at: answeredAt });
      });
    }, SENT);
  }

  function sent(user) { return usersRecords(SENT, user); }

  function forgetSent(ids) {
    if (!ids.length) return Promise.resolve();
    return withStore("readwrite", function (store) {
      ids.forEach(function (id) { store.delete(id); });
    }, SENT);
  }

  function dismiss(id) {
    return withStore("readwrite", function (store) { store.delete(id); }, NOTICES)
      .then(announce);
  }

  // A refused entry, fixed (`changes` merged into its data) or just tried again: pending once
  // more. The server remembers only what it accepted, so the same id can carry the fix.
  function retry(id, changes) {
    return withStore("readwrite", function (store) {
      store.get(id).onsuccess = function (event) {
        var item = event.target.result;
        if (!item) return;
        Object.keys(changes || {}).forEach(function (key) { item.data[key] = changes[key]; });
        item.status = "pending";
        item.detail = "";
        item.errors = null;
        store.put(item);
      };
    }).then(announce);
  }

  // Who is signed in, and their CSRF token; null when nobody is (the queue waits for them).
  function me() {
    return fetch("/api/v1/me", { credentials: "same-origin", cache: "no-store" });
  }

  function whoAmI() {
    return me().then(function (response) { return response.ok ? response.json() : null; });
  }

  // As whoAmI, for the flush: null only when the server says nobody is signed in (401, 403),
  // so a flush can tell "sign in again to send these" from "the server could not answer".
  function signedIn() {
    return me().then(function (response) {
      if (response.ok) return response.json();
      if (response.status === 401 || response.status === 403) return null;
      throw new Error("/api/v1/me answered " + response.status);
    });
  }

  // A JSON write as the signed-in user (`me` from whoAmI): the one way the outbox, push.js and
  // the service worker talk to the API.
  function postJSON(me, url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": me.csrf_token },
      body: JSON.stringify(body)
    });
  }

  function sendBatch(me, items) {
    var body = {
      items: items.map(function (item) {
        return { id: item.id, kind: item.kind, recorded_at: item.recorded_at, data: item.data };
      })
    };
    var answeredAt = null;
    return postJSON(me, "/api/v1/sync", body).then(function (response) {
      if (!response.ok) {
        // 401/403: signed out or a stale token; 413/5xx: try again later. Keep everything.
        var stop = new Error("sync answered " + response.status);
        stop.status = response.status;
        throw stop;
      }
      // Failing the server's own time: its Date header, to the second and refreshed once a
      // second, two seconds on (the careful side: the phone keeps the entries longer).
      var date = Date.parse(response.headers.get("Date") || "");
      answeredAt = new Date((isNaN(date) ? Date.now() : date) + 2000).toISOString();
      return response.json();
    }).then(function (answer) {
      var committed = Date.parse(answer.answered_at);
      if (!isNaN(committed)) answeredAt = new Date(committed).toISOString();
      var byId = {};
      items.forEach(function (item) { byId[item.id] = item; });
      var accepted = answer.results.filter(function (result) {
        var item = byId[result.id];
        return item && KEPT_WHEN_SENT.indexOf(item.kind) >= 0 &&
          (result.status === "created" || result.status === "duplicate");
      }).map(function (result) { return byId[result.id]; });
      // Kept before the outbox lets them go: a page judging meanwhile sees one or the other.
      return keepSent(me.id, accepted, answeredAt).then(function () { return answer; });
    }).then(function (answer) {
      var done = [];
      answer.results.forEach(function (result) {
        if (result.status === "created" && result.offline_verdict && result.verdict &&
            result.offline_verdict !== result.verdict) {
          done.push(notice(me.id, "gate-disagreed", result.id));
        }
        if (result.status === "created" || result.status === "duplicate") {
          done.push(remove(result.id));
        } else {
          done.push(update(result.id, {
            status: "rejected",
            detail: result.detail || "",
            errors: result.errors || null,
            code: result.code || null,
            result: result
          }));
        }
      });
      return Promise.all(done).then(function () { return answer.results; });
    });
  }

  // Everything this phone keeps for `user` (their entries, notices and sent records): a
  // sign-out that must leave another account's unsent entries in place deletes the leaver's
  // own this way, instead of wiping all storage (privacy.js).
  function forgetUser(user) {
    return Promise.all([STORE, NOTICES, SENT].map(function (name) {
      return withStore("readwrite", function (store) {
        store.openCursor().onsuccess = function (event) {
          var cursor = event.target.result;
          if (!cursor) return;
          if (cursor.value.user === user) cursor.delete();
          cursor.continue();
        };
      }, name);
    })).then(announce);
  }

  var running = null;
  var again = false; // asked for while a flush ran: it may have missed a just-fixed entry

  // Send the signed-in user's pending items in order, in batches, one flush at a time (a Web
  // Lock across tabs and the service worker where the browser has it). Resolves to a summary.
  function flush() {
    if (running) {
      again = true;
      return running;
    }
    var work = function () {
      // Nothing waiting on this phone (anyone's): nothing to ask the server. Every page load
      // asked /api/v1/me for nothing, and one in flight as the person signed out came back 401.
      return all().then(function (queued) {
        if (!queued.some(function (item) { return item.status === "pending"; })) {
          return { sent: 0, rejected: 0, disagreed: 0, waiting: false };
        }
        return sendAsSignedIn();
      });
    };
    var sendAsSignedIn = function () {
      return signedIn().then(function (me) {
        if (!me) return { sent: 0, rejected: 0, waiting: true, signedOut: true };
        return all(me.id).then(function (items) {
          var pending = items.filter(function (item) { return item.status === "pending"; });
          var summary = { sent: 0, rejected: 0, disagreed: 0, waiting: false };
          var chain = Promise.resolve();
          for (var i = 0; i < pending.length; i += BATCH) {
            (function (batch) {
              chain = chain.then(function () {
                return sendBatch(me, batch).then(function (results) {
                  results.forEach(function (r) {
                    if (r.status === "rejected") summary.rejected += 1;
                    else summary.sent += 1;
                    if (r.status === "created" && r.offline_verdict && r.verdict &&
                        r.offline_verdict !== r.verdict) summary.disagreed += 1;
                  });
                });
              });
            })(pending.slice(i, i + BATCH));
          }
          return chain.then(function () { return summary; });
        });
      });
    };
    var locked = root.navigator && root.navigator.locks
      ? root.navigator.locks.request("trochelog-outbox", work)
      : work();
    running = locked.then(function (summary) {
      running = null;
      announce();
      if (again) {
        again = false;
        return flush();
      }
      return summary;
    }, function (error) {
      running = null;
      again = false;
      announce();
      return { sent: 0, rejected: 0, waiting: true, error: String(error) };
    });
    return running;
  }

  root.TrocheOutbox = {
    CHANGED: CHANGED,
    add: add,
    all: all,
    notices: notices,
    sent: sent,
    forgetSent: forgetSent,
    dismiss: dismiss,
    remove: remove,
    retry: retry,
    flush: flush,
    whoAmI: whoAmI,
    postJSON: postJSON,
    forgetUser: forgetUser
  };
})(typeof self !== "undefined" ? self : window);
