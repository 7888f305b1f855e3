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

  // Provider presets fill host, port and security.
  const presets = form.querySelector(".presets");
  const preset = form.querySelector("#preset");
  if (presets && preset && host && port && security) {
    presets.hidden = false;
    preset.addEventListener("change", () => {
      if (!preset.value) return;
      const [h, p, s] = preset.value.split("|");
      host.value = h;
      security.value = s;
      port.value = p;
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

document.addEventListener("DOMContentLoaded", () => {
  enhanceDialogLinks();
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
