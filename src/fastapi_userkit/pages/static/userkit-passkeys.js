/* fastapi-userkit account pages: passkeys (WebAuthn). No dependency, no build step.

   Each passkey form carries data-uk-passkey="create" or "get" and data-uk-options, the page
   endpoint that answers the ceremony's options (JSON). On submit the script:
     1. posts the form's fields (its CSRF token among them) to data-uk-options;
     2. hands the options to navigator.credentials.create() or .get(), after the base64url
        conversions WebAuthn needs;
     3. puts the credential, as JSON, in the form's hidden "credential" field and sends the form
        the ordinary way: the server answers with a redirect or a page, as for every other form.
   The passkey forms carry `hidden` until this script sees window.PublicKeyCredential, so they stay
   hidden in a browser without WebAuthn or without JavaScript; no other form needs this script. */
(function () {
  "use strict";

  if (!window.PublicKeyCredential || !navigator.credentials || !window.fetch) {
    return;
  }

  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) {
      base64 += "=";
    }
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) {
      binary += String.fromCharCode(bytes[i]);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      var copy = Object.assign({}, item);
      copy.id = toBytes(item.id);
      return copy;
    });
  }

  function creationOptions(json) {
    var options = Object.assign({}, json);
    options.challenge = toBytes(json.challenge);
    options.user = Object.assign({}, json.user, { id: toBytes(json.user.id) });
    options.excludeCredentials = descriptors(json.excludeCredentials);
    return options;
  }

  function requestOptions(json) {
    var options = Object.assign({}, json);
    options.challenge = toBytes(json.challenge);
    options.allowCredentials = descriptors(json.allowCredentials);
    return options;
  }

  /* PublicKeyCredential.toJSON() where the browser has it, the same shape by hand otherwise. */
  function credentialJSON(credential) {
    var response = credential.response;
    var json = {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      response: { clientDataJSON: toText(response.clientDataJSON) },
    };
    if (response.attestationObject) {
      json.response.attestationObject = toText(response.attestationObject);
      json.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      json.response.authenticatorData = toText(response.authenticatorData);
      json.response.signature = toText(response.signature);
      json.response.userHandle = response.userHandle ? toText(response.userHandle) : null;
    }
    return json;
  }

  function show(form, message) {
    var alert = form.querySelector("[data-uk-passkey-message]");
    if (!alert) {
      return;
    }
    if (!alert.hasAttribute("data-uk-default")) {
      alert.setAttribute("data-uk-default", alert.textContent);
    }
    alert.textContent = message || alert.getAttribute("data-uk-default");
    alert.hidden = false;
    alert.focus();
  }

  function fields(form) {
    var body = new URLSearchParams();
    Array.prototype.forEach.call(form.elements, function (element) {
      if (element.name && element.name !== "credential" && typeof element.value === "string") {
        body.append(element.name, element.value);
      }
    });
    return body;
  }

  function run(form, button) {
    var kind = form.getAttribute("data-uk-passkey");
    button.disabled = true;
    fetch(form.getAttribute("data-uk-options"), {
      method: "POST",
      body: fields(form),
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (answer) {
        return answer.json().then(function (json) {
          if (json.redirect) {
            window.location.assign(json.redirect);
            return null;
          }
          if (!answer.ok) {
            throw new Error(json.message || "");
          }
          var publicKey = kind === "create" ? creationOptions(json) : requestOptions(json);
          var ceremony = kind === "create" ? navigator.credentials.create({ publicKey: publicKey })
            : navigator.credentials.get({ publicKey: publicKey });
          return ceremony.catch(function () {
            // Cancelled, timed out, or no passkey for this site: the page's own sentence says so.
            throw new Error("");
          });
        });
      })
      .then(function (credential) {
        if (credential) {
          form.elements.credential.value = JSON.stringify(credentialJSON(credential));
          form.submit();
        }
      })
      .catch(function (error) {
        button.disabled = false;
        show(form, error && error.message);
      });
  }

  function start() {
    var forms = document.querySelectorAll("form[data-uk-passkey]");
    Array.prototype.forEach.call(forms, function (form) {
      var button = form.querySelector("button");
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        run(form, button);
      });
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-uk-passkey-area]"), function (area) {
      area.hidden = false;
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
