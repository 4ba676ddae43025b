// The new-queue form's live item count: every change of a field asks the preview endpoint (debounced)
// and shows "N items match" above the form. Without JavaScript the "Count the items" button does the same.
(function () {
  "use strict";
  const form = document.getElementById("queue-form");
  const box = document.getElementById("queue-preview");
  if (!form || !box || !window.fetch) return;
  const url = form.dataset.previewUrl;
  const button = document.getElementById("preview");
  if (button) button.hidden = true;
  let timer = null;
  let sent = 0;

  function show(text, state) {
    box.textContent = text;
    box.classList.remove("good", "warn", "error");
    if (state) box.classList.add(state);
    box.hidden = false;
  }

  function refresh() {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(form).entries()) {
      if (key !== "csrfmiddlewaretoken") params.append(key, value);
    }
    const mine = ++sent;
    box.setAttribute("aria-busy", "true");
    fetch(url + "?" + params.toString(), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        const json = (response.headers.get("Content-Type") || "").indexOf("application/json") === 0;
        if (json) return response.json().then(function (body) { return { ok: response.ok, body: body }; });
        // Refused before the view (a NUL character in a field is refused for every page, as a page).
        return { ok: false, body: { error: "The server refused these settings (HTTP " + response.status + "): check the fields for unusual characters." } };
      })
      .then(function (result) {
        if (mine !== sent) return; // a later change already asked again
        box.removeAttribute("aria-busy");
        if (!result.ok) show(result.body.error || "The count could not be made.", "error");
        else show(result.body.text, result.body.items ? "good" : "warn");
      })
      .catch(function () {
        if (mine !== sent) return;
        box.removeAttribute("aria-busy");
        show("The count could not be made (no answer from the server).", "error");
      });
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  }

  form.addEventListener("input", later);
  form.addEventListener("change", later);
  refresh();
})();
