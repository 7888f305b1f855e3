// relaydesk: small enhancements only. Every page works without this file.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Move focus to the error summary after a failed submit, so it is announced.
  const summary = document.querySelector(".error-summary[tabindex]");
  if (summary) summary.focus();
});
