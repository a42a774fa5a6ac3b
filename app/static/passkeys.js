// TrocheLog passkeys (WebAuthn): add one on the Passkeys page, sign in with one on /login, and
// confirm it is you with one on /reauth. Each is a form marked data-passkey-add,
// data-passkey-sign-in or data-passkey-reauth, hidden until this file finds WebAuthn here
// (without it, or without JavaScript, the pages say so and the password keeps working).
// The form is never posted as a form: its submit runs the ceremony, which talks JSON to the
// server with the form's own CSRF token in the X-CSRF-Token header.
(function () {
  "use strict";

  // WebAuthn here: boot.js (inline in every page's <head>) tested it before the first paint and
  // marked <html> for app.css, so the offer is already in place; one test, read here.
  function supported() {
    return document.documentElement.hasAttribute("data-webauthn");
  }

  // Loaded on every page (base.html): a boosted navigation swaps pages in without loading
  // scripts, so the forms are revealed again after every swap.
  function reveal() {
    var ok = supported();
    document.querySelectorAll("[data-passkey-supported]").forEach(function (el) { el.hidden = !ok; });
    document.querySelectorAll("[data-passkey-unsupported]").forEach(function (el) { el.hidden = ok; });
  }
  document.addEventListener("DOMContentLoaded", reveal);
  document.addEventListener("htmx:after:swap", reveal);
  document.addEventListener("htmx:after:settle", reveal);
  if (document.readyState !== "loading") reveal();

  // --- base64url <-> bytes -----------------------------------------------------------------

  function toBytes(text) {
    var padded = (text + "===".slice((text.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = window.atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i += 1) bytes[i] = raw.charCodeAt(i);
    return bytes.buffer;
  }
  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i += 1) raw += String.fromCharCode(bytes[i]);
    return window.btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function withIds(list) {
    return (list || []).map(function (c) {
      return { type: c.type, id: toBytes(c.id), transports: c.transports };
    });
  }
  function creationOptions(o) {
    o.challenge = toBytes(o.challenge);
    o.user.id = toBytes(o.user.id);
    o.excludeCredentials = withIds(o.excludeCredentials);
    return o;
  }
  function requestOptions(o) {
    o.challenge = toBytes(o.challenge);
    o.allowCredentials = withIds(o.allowCredentials);
    return o;
  }

  // The credential as JSON, in the shape py_webauthn reads (the browser's own toJSON where it
  // has one).
  function credentialJSON(cred) {
    var r = cred.response;
    var out = {
      id: cred.id,
      rawId: toText(cred.rawId),
      type: cred.type,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: toText(r.clientDataJSON) }
    };
    if (cred.authenticatorAttachment) out.authenticatorAttachment = cred.authenticatorAttachment;
    if (r.attestationObject) {
      out.response.attestationObject = toText(r.attestationObject);
      out.response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
    } else {
      out.response.authenticatorData = toText(r.authenticatorData);
      out.response.signature = toText(r.signature);
      if (r.userHandle) out.response.userHandle = toText(r.userHandle);
    }
    return out;
  }

  // --- talking to the server ---------------------------------------------------------------

  function post(form, url, body) {
    var token = form.querySelector('input[name="csrf_token"]');
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: {
        "Content-Type": "application/json",
        "X-CSRF-Token": token ? token.value : ""
      },
      body: JSON.stringify(body)
    }).then(function (response) {
      var json = (response.headers.get("content-type") || "").indexOf("application/json") === 0;
      return (json ? response.json() : Promise.resolve(null)).then(function (data) {
        return { ok: response.ok, status: response.status, data: data || {} };
      });
    });
  }

  function text(form, name) {
    return form.getAttribute("data-text-" + name) || "";
  }

  function showError(form, message) {
    var box = form.querySelector("[data-passkey-error]");
    if (!box) return;
    box.textContent = message;
    box.hidden = !message;
  }

  // A refusal from the server: follow its redirect (to /reauth, or home when already signed
  // in), or say its reason.
  function refused(form, answer) {
    if (answer.data.redirect) {
      window.location.assign(answer.data.redirect);
      return;
    }
    showError(form, answer.data.detail || text(form, "failed"));
  }

  function ceremonyFailed(form, error) {
    // NotAllowedError: the person cancelled, or no passkey for this site was found or chosen.
    var name = error && error.name;
    if (name === "NotAllowedError" || name === "AbortError") showError(form, text(form, "cancelled"));
    else if (name === "InvalidStateError") showError(form, text(form, "exists"));
    else showError(form, text(form, "failed"));
  }

  function run(form, optionsUrl, optionsBody, ceremony, answerUrl, answerBody) {
    var button = form.querySelector('button[type="submit"]');
    if (button) button.disabled = true;
    showError(form, "");
    return post(form, optionsUrl, optionsBody).then(function (answer) {
      if (!answer.ok) { refused(form, answer); return null; }
      return ceremony(answer.data).then(function (credential) {
        return post(form, answerUrl, answerBody(credentialJSON(credential))).then(function (done) {
          if (!done.ok) { refused(form, done); return; }
          window.location.assign(done.data.redirect || "/");
        });
      }, function (error) { ceremonyFailed(form, error); });
    }).catch(function () {
      showError(form, text(form, "failed"));
    }).then(function () {
      if (button) button.disabled = false;
    });
  }

  function nextOf(form) {
    var field = form.querySelector('input[name="next"]');
    return field ? field.value : "/";
  }

  function addPasskey(form) {
    var name = form.querySelector('input[name="name"]').value;
    return run(form, "/account/passkeys/options", { name: name }, function (options) {
      return navigator.credentials.create({ publicKey: creationOptions(options) });
    }, "/account/passkeys", function (credential) {
      return { name: name, credential: credential };
    });
  }

  function signIn(form) {
    return run(form, "/login/passkey/options", {}, function (options) {
      return navigator.credentials.get({ publicKey: requestOptions(options) });
    }, "/login/passkey", function (credential) {
      return { credential: credential, next: nextOf(form) };
    });
  }

  function reauth(form) {
    return run(form, "/reauth/passkey/options", {}, function (options) {
      return navigator.credentials.get({ publicKey: requestOptions(options) });
    }, "/reauth/passkey", function (credential) {
      return { credential: credential, next: nextOf(form) };
    });
  }

  // Capturing on the document runs before htmx's own submit listener, so neither htmx nor the
  // browser posts these forms.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    var action = form.hasAttribute("data-passkey-add") ? addPasskey
      : form.hasAttribute("data-passkey-sign-in") ? signIn
        : form.hasAttribute("data-passkey-reauth") ? reauth : null;
    if (!action) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    if (!supported()) return;
    action(form);
  }, true);
}());
