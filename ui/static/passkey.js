// passkey.js: Clinch's only script. It hands the options Clinch gives out
// to the browser's WebAuthn API (navigator.credentials.create or get) and
// sends the answer back in the page's own form, so Clinch decides what
// follows exactly as for any form. Every page works without it; only
// passkeys need it. Loaded from /static (CSP script-src 'self'): no inline
// script, no eval.
//
// Forms it drives:
//   <form data-passkey="create|get" data-passkey-begin="/…/begin">
//     csrf_token, ceremony and credential fields, a submit button and an
//     element marked data-passkey-error for messages. Submitting it fetches
//     the options (POST, X-CSRF-Token header), runs the ceremony, fills
//     ceremony and credential, and submits the form.
//   data-passkey-password on an input of a "create" form: its value (the
//     user's current password) goes in the begin request's JSON body, not
//     in the form (the input has no name), and is cleared once sent.
//   data-passkey-autofill on a "get" form: also offer the passkeys in the
//     autofill of the input whose autocomplete names "webauthn"
//     (conditional mediation), where the browser can.
// Elements marked data-passkey-show are shown, and data-passkey-unsupported
// hidden, only where the browser can use passkeys here.
"use strict";

(function () {
  const PKC = window.PublicKeyCredential;
  if (!PKC || !navigator.credentials || !window.isSecureContext) {
    return; // passkey controls stay hidden; the page says why
  }

  function fromB64u(s) {
    const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4);
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function toB64u(buf) {
    const bytes = new Uint8Array(buf);
    let bin = "";
    for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map((c) => Object.assign({}, c, { id: fromB64u(c.id) }));
  }

  // The options as create() and get() take them: binary members decoded.
  function creationOptions(o) {
    return Object.assign({}, o, {
      challenge: fromB64u(o.challenge),
      user: Object.assign({}, o.user, { id: fromB64u(o.user.id) }),
      excludeCredentials: descriptors(o.excludeCredentials),
    });
  }

  function requestOptions(o) {
    return Object.assign({}, o, {
      challenge: fromB64u(o.challenge),
      allowCredentials: descriptors(o.allowCredentials),
    });
  }

  // The PublicKeyCredential as JSON, binary members base64url-encoded.
  function credentialJSON(c) {
    const r = c.response;
    const out = {
      id: c.id,
      rawId: toB64u(c.rawId),
      type: c.type,
      clientExtensionResults: {},
      response: { clientDataJSON: toB64u(r.clientDataJSON) },
    };
    if (c.authenticatorAttachment) out.authenticatorAttachment = c.authenticatorAttachment;
    if (r.attestationObject) {
      out.response.attestationObject = toB64u(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = toB64u(r.authenticatorData);
      out.response.signature = toB64u(r.signature);
      if (r.userHandle) out.response.userHandle = toB64u(r.userHandle);
    }
    return JSON.stringify(out);
  }

  async function begin(form) {
    const body = {};
    const pw = form.querySelector("input[data-passkey-password]");
    if (pw) {
      body.password = pw.value;
      pw.value = "";
    }
    const res = await fetch(form.dataset.passkeyBegin, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": form.elements.csrf_token.value },
      body: JSON.stringify(body),
    });
    let answer = {};
    try {
      answer = await res.json();
    } catch (e) {
      // not JSON: the status says enough
    }
    if (!res.ok) {
      throw new Error(answer.error || "Clinch could not start the passkey request (" + res.status + "). Reload the page and try again.");
    }
    return answer;
  }

  function send(form, ceremony, credential) {
    form.elements.ceremony.value = ceremony;
    form.elements.credential.value = credentialJSON(credential);
    const remember = document.getElementById("remember");
    if (remember && form.elements.remember) form.elements.remember.value = remember.checked ? "1" : "";
    form.submit();
  }

  function say(form, message) {
    const el = form.querySelector("[data-passkey-error]");
    if (!el) return;
    el.textContent = message;
    el.hidden = !message;
  }

  function explain(err) {
    switch (err && err.name) {
      case "NotAllowedError":
        return "The passkey request was cancelled or timed out. Try again when you are ready.";
      case "InvalidStateError":
        return "This device already holds a passkey for your account here.";
      case "SecurityError":
        return "This browser refused passkeys at this address. Open Clinch at its own address over https.";
      default:
        return (err && err.message) || "Something went wrong with the passkey request.";
    }
  }

  // The autofill request waiting on a "get" form, aborted when the person
  // clicks the button instead.
  let autofill = null;

  async function run(form) {
    const button = form.querySelector("button[type=submit], button:not([type])");
    if (autofill) {
      autofill.abort();
      autofill = null;
    }
    say(form, "");
    if (button) button.disabled = true;
    try {
      const ch = await begin(form);
      const cred = form.dataset.passkey === "create"
        ? await navigator.credentials.create({ publicKey: creationOptions(ch.publicKey) })
        : await navigator.credentials.get({ publicKey: requestOptions(ch.publicKey) });
      if (!cred) throw new Error("The browser returned no passkey.");
      send(form, ch.ceremony, cred);
    } catch (err) {
      say(form, explain(err));
      if (button) button.disabled = false;
    }
  }

  async function offerAutofill(form) {
    if (!PKC.isConditionalMediationAvailable || !(await PKC.isConditionalMediationAvailable())) return;
    const ctl = new AbortController();
    autofill = ctl;
    try {
      const ch = await begin(form);
      const cred = await navigator.credentials.get({
        mediation: "conditional",
        publicKey: requestOptions(ch.publicKey),
        signal: ctl.signal,
      });
      if (cred && autofill === ctl) send(form, ch.ceremony, cred);
    } catch (err) {
      // A request the person never started says nothing: the button is
      // still there.
    }
  }

  function init() {
    document.querySelectorAll("[data-passkey-show]").forEach((el) => { el.hidden = false; });
    document.querySelectorAll("[data-passkey-unsupported]").forEach((el) => { el.hidden = true; });
    document.querySelectorAll("form[data-passkey]").forEach((form) => {
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        run(form);
      });
      if (form.dataset.passkey === "get" && form.hasAttribute("data-passkey-autofill") &&
          document.querySelector("input[autocomplete~=webauthn]")) {
        offerAutofill(form);
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
