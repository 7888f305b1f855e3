// relaydesk: small enhancements only. Every page works without this file.
"use strict";

// Labels of the shared account fields, by profile type (the server renders the right
// one for the type it saw; this keeps them right while the person switches type).
const ACCOUNT_LABELS = {
  generic: { username: "SMTP account address", password: "SMTP account password" },
  graph: { username: "User name", password: "Password" },
};

function setLabel(form, name, text) {
  const label = form.querySelector(`label[for="${name}"]`);
  if (!label) return;
  const optional = label.querySelector(".optional");
  label.textContent = text + (optional ? " " : "");
  if (optional) label.appendChild(optional);
}

function enhanceProfileForm(form) {
  const kind = form.querySelector("#kind");
  const auth = form.querySelector("#auth_required");
  const security = form.querySelector("#security");
  const port = form.querySelector("#port");
  const host = form.querySelector("#host");
  const credentials = form.querySelector("[data-credentials]");

  const update = () => {
    const chosen = kind ? kind.value : "generic";
    form.dataset.kind = chosen;
    form.querySelectorAll("[data-show-kind]").forEach((set) => {
      set.hidden = set.dataset.showKind !== chosen;
    });
    if (credentials) {
      credentials.hidden = chosen === "generic" && auth && !auth.checked;
    }
    // Certificate settings mean nothing without TLS.
    const plain = security && security.value === "none";
    form.querySelectorAll("[data-tls-only]").forEach((el) => {
      el.hidden = plain;
    });
    // Password or OAuth 2.0 (Generic SMTP only), and the chosen provider's fields.
    const signIn = form.querySelector("input[name=sign_in]:checked");
    const oauth = chosen === "generic" && signIn && signIn.value === "oauth";
    form.querySelectorAll("[data-sign-in]").forEach((el) => {
      el.hidden = (el.dataset.signIn === "oauth") !== oauth;
    });
    const provider = form.querySelector("#oauth_provider");
    form.querySelectorAll("[data-provider]").forEach((el) => {
      el.hidden = !provider || el.dataset.provider !== provider.value;
    });
    const labels = ACCOUNT_LABELS[chosen] || ACCOUNT_LABELS.generic;
    setLabel(form, "username", labels.username);
    setLabel(form, "password", labels.password);
    form.querySelectorAll("[data-hint-generic]").forEach((hint) => {
      hint.textContent = chosen === "graph" ? hint.dataset.hintGraph : hint.dataset.hintGeneric;
    });
  };

  // Suggest the usual port for the security mode, unless the person typed another one.
  const defaultPorts = security
    ? Array.from(security.options).map((o) => o.dataset.port)
    : [];
  if (security) security.addEventListener("change", update);
  if (security && port) {
    security.addEventListener("change", () => {
      const suggested = security.selectedOptions[0].dataset.port;
      if (port.value === "" || defaultPorts.includes(port.value)) port.value = suggested;
    });
  }

  // Provider presets fill host, port and security, and the send rate where the provider
  // documents one (a rate another preset filled is cleared; one typed by hand is kept).
  const presets = form.querySelector(".presets");
  const preset = form.querySelector("#preset");
  const rate = form.querySelector("#max_per_minute");
  if (presets && preset && host && port && security) {
    presets.hidden = false;
    let presetRate = "";
    preset.addEventListener("change", () => {
      if (!preset.value) return;
      const [h, p, s, r = ""] = preset.value.split("|");
      host.value = h;
      security.value = s;
      port.value = p;
      // Microsoft 365 and Gmail also choose their OAuth provider, ready for Sign-in OAuth 2.0.
      const oauthProvider = preset.selectedOptions[0].dataset.oauthProvider;
      const providerSelect = form.querySelector("#oauth_provider");
      if (oauthProvider && providerSelect) {
        providerSelect.value = oauthProvider;
        update();
      }
      if (rate && (rate.value === "" || rate.value === presetRate)) {
        rate.value = r;
        presetRate = r;
      }
      host.focus();
    });
  }

  // Switching the credential policy swaps the account and password hints in place, so
  // nothing typed is lost; the server checks by the chosen policy when the form is sent.
  form.querySelectorAll("input[name=policy]").forEach((radio) => {
    radio.addEventListener("change", () => {
      if (!radio.checked) return;
      const passwordHint = form.querySelector("#hint-password");
      const usernameHint = form.querySelector("#hint-username");
      const username = form.querySelector("#username");
      if (passwordHint) passwordHint.dataset.hintGeneric = radio.dataset.hintPassword;
      if (usernameHint) usernameHint.dataset.hintGeneric = radio.dataset.hintUsername;
      if (username) username.type = radio.dataset.usernameType;
      update();
    });
  });

  if (kind) kind.addEventListener("change", update);
  if (auth) auth.addEventListener("change", update);
  form.querySelectorAll("input[name=sign_in]").forEach((radio) => radio.addEventListener("change", update));
  const providerChoice = form.querySelector("#oauth_provider");
  if (providerChoice) providerChoice.addEventListener("change", update);
  update();
}

// Links marked data-dialog open their page's panel in a <dialog> instead of navigating.
// The page behind the link is a complete form, so without script the link just works.
function enhanceDialogLinks() {
  if (typeof HTMLDialogElement !== "function") return;
  const dialog = document.createElement("dialog");
  dialog.className = "panel-dialog";
  dialog.setAttribute("aria-modal", "true");
  document.body.appendChild(dialog);
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) dialog.close();
  });
  // Closing (Esc, Cancel, a click outside) gives focus back to what opened the dialog: the
  // link, or the actions menu's button when the link sat in a menu that is now closed.
  let opener = null;
  dialog.addEventListener("close", () => {
    if (opener && opener.isConnected) opener.focus();
    opener = null;
  });

  document.querySelectorAll("a[data-dialog]").forEach((link) => {
    link.addEventListener("click", async (event) => {
      event.preventDefault();
      let html;
      try {
        const response = await fetch(link.href, { credentials: "same-origin" });
        if (!response.ok) throw new Error(String(response.status));
        html = await response.text();
      } catch {
        window.location.href = link.href;
        return;
      }
      const page = new DOMParser().parseFromString(html, "text/html");
      const panel = page.querySelector("[data-panel]");
      if (!panel) {
        window.location.href = link.href;
        return;
      }
      dialog.replaceChildren(document.importNode(panel, true));
      const heading = dialog.querySelector("h1");
      if (heading) {
        heading.id = "dialog-title";
        dialog.setAttribute("aria-labelledby", "dialog-title");
      }
      // Cancel closes the dialog rather than leaving the page.
      dialog.querySelectorAll("a.cancel").forEach((cancel) => {
        cancel.addEventListener("click", (e) => {
          e.preventDefault();
          dialog.close();
        });
      });
      const menu = link.closest("details");
      if (menu) menu.open = false;
      opener = menu ? menu.querySelector("summary") : link;
      dialog.showModal();
      const first = dialog.querySelector("input:not([type=hidden]), select, button");
      if (first) first.focus();
    });
  });
}

// The email log's "Retry now" without leaving the page: the same form is sent in the
// background, asking for the row alone (the x-relaydesk-row header), and the row is
// swapped for its new state; while the message waits for the worker ("data-due-now") the
// row is asked for again each second, 30 times at most. On any failure the form is
// submitted as usual.
const ROW_HEADER = "x-relaydesk-row";

function rowFrom(html) {
  const doc = new DOMParser().parseFromString(`<table><tbody>${html}</tbody></table>`, "text/html");
  const row = doc.querySelector("tr");
  return row ? document.importNode(row, true) : null;
}

function enhanceRetry(form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const announce = document.querySelector("#retry-status");
    let row = form.closest("tr");
    const button = form.querySelector("button");
    if (button) {
      button.disabled = true;
      button.textContent = "Retrying…";
    }
    const swap = (html) => {
      const fresh = rowFrom(html);
      if (!fresh || !row) return;
      row.replaceWith(fresh);
      row = fresh;
      fresh.querySelectorAll("form[data-retry]").forEach(enhanceRetry);
    };
    try {
      const response = await fetch(form.action, {
        method: "POST",
        credentials: "same-origin",
        headers: { [ROW_HEADER]: "1", "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(new FormData(form)),
      });
      if (!response.ok) throw new Error(String(response.status));
      swap(await response.text());
    } catch {
      form.submit();
      return;
    }
    if (announce) announce.textContent = "Trying again now.";
    const rowUrl = form.action.replace(/\/retry$/, "");
    for (let i = 0; i < 30 && row.hasAttribute("data-due-now"); i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      try {
        const response = await fetch(rowUrl, { credentials: "same-origin", headers: { [ROW_HEADER]: "1" } });
        if (!response.ok) break;
        swap(await response.text());
      } catch {
        break;
      }
    }
    const badge = row.querySelector(".badge");
    if (announce && badge) announce.textContent = `${badge.textContent}.`;
  });
}

// The operator's new-organization form: the name and password of the first administrator
// are asked only when the operator chooses them (not when the administrator is invited).
function enhanceNewTenantForm(form) {
  const fields = form.querySelector("[data-password-fields]");
  const invite = form.querySelector("#first_admin-invite");
  if (!fields || !invite) return;
  const update = () => {
    fields.hidden = invite.checked;
  };
  form.querySelectorAll("input[name=first_admin]").forEach((radio) => radio.addEventListener("change", update));
  update();
}

document.addEventListener("DOMContentLoaded", () => {
  enhanceDialogLinks();
  document.querySelectorAll("form#new-tenant-form").forEach(enhanceNewTenantForm);
  document.querySelectorAll("form[data-retry]").forEach(enhanceRetry);
  // Move focus to the error summary after a failed submit, so it is announced.
  const summary = document.querySelector(".error-summary[tabindex]");
  if (summary) summary.focus();

  document.querySelectorAll("form.profile-form").forEach(enhanceProfileForm);

  // Copy buttons for links shown once.
  document.querySelectorAll("button[data-copy]").forEach((button) => {
    const source = document.querySelector(button.dataset.copy);
    if (!source) return;
    button.hidden = false;
    button.addEventListener("click", async () => {
      source.select();
      try {
        await navigator.clipboard.writeText(source.value);
      } catch {
        document.execCommand("copy");
      }
      button.textContent = "Copied";
    });
  });
});
