// Keyboard-first answering on the turn view. Keys are shown on screen beside each control.
// A/B/E/X pick the side (pairwise), 1–3 the strength (pairwise) or 1–5 a score (rubric, rating),
// J/K move through the dialogue's turns, G toggles the guidelines, Enter submits.
(function () {
  "use strict";
  const form = document.getElementById("answer-form");
  if (!form) return;
  const kind = form.dataset.kind;
  const turns = Array.from(document.querySelectorAll(".dialogue .bubble"));
  let cursor = Math.max(0, turns.findIndex((el) => el.classList.contains("current")));
  let scoreIndex = 0;

  function check(name, value) {
    const input = form.querySelector(`input[name="${name}"][value="${value}"]`);
    if (input) { input.checked = true; input.dispatchEvent(new Event("change", { bubbles: true })); }
    return Boolean(input);
  }
  function focusTurn(delta) {
    if (!turns.length) return;
    turns[cursor].classList.remove("cursor");
    cursor = Math.min(turns.length - 1, Math.max(0, cursor + delta));
    turns[cursor].classList.add("cursor");
    turns[cursor].scrollIntoView({ block: "nearest" });
  }
  function toggleGuidelines() {
    const panel = document.getElementById("guideline-panel");
    if (panel) panel.hidden = !panel.hidden;
  }
  function markChosen() {
    form.querySelectorAll(".candidate").forEach((card) => {
      const radio = card.querySelector("input[name=side]");
      card.classList.toggle("chosen", radio.checked);
    });
  }
  form.addEventListener("change", markChosen);

  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.metaKey) return;
    const target = event.target;
    const typing = target.matches("textarea, input[type=text], select");
    if (typing) {
      if (event.key === "Escape") target.blur();
      else if (event.key === "Enter" && event.ctrlKey) { event.preventDefault(); form.requestSubmit(); }
      return;
    }
    if (event.ctrlKey) return;
    const key = event.key.toLowerCase();
    let handled = true;
    if (key === "j") focusTurn(1);
    else if (key === "k") focusTurn(-1);
    else if (key === "g") toggleGuidelines();
    else if (key === "enter") form.requestSubmit();
    else if (kind === "pairwise" && key === "a") check("side", "A");
    else if (kind === "pairwise" && key === "b") check("side", "B");
    else if (kind === "pairwise" && key === "e") check("side", "equal");
    else if (kind === "pairwise" && key === "x") check("side", "both_bad");
    else if (kind === "pairwise" && ["1", "2", "3"].includes(key)) check("strength", key);
    else if ((kind === "rubric" || kind === "rating") && ["1", "2", "3", "4", "5"].includes(key)) {
      const sets = Array.from(form.querySelectorAll("fieldset.score"));
      if (sets.length && check(sets[scoreIndex].dataset.name, key)) scoreIndex = Math.min(sets.length - 1, scoreIndex + 1);
    } else handled = false;
    if (handled) event.preventDefault();
  });
})();
