// Keyboard-first answering on the turn view. The keys are the task kind's (annotation/kinds/, rendered into
// the page as the JSON script "task-keys") and are shown on screen beside each control. Each key does one
// of: "check" tick the input name=value, "score" answer the current 1–5 question and move to the next,
// "turn" move through the dialogue's turns, "guidelines" show or hide them, "skip" give the task back and
// take the next, "submit" submit.
(function () {
  "use strict";
  const form = document.getElementById("answer-form");
  const keysData = document.getElementById("task-keys");
  if (!form || !keysData) return;
  const keymap = JSON.parse(keysData.textContent);
  const turns = Array.from(document.querySelectorAll(".dialogue .bubble"));
  let cursor = Math.max(0, turns.findIndex((el) => el.classList.contains("current")));
  let scoreIndex = 0;

  function check(name, value) {
    const input = form.querySelector(`input[name="${name}"][value="${value}"]`);
    if (input) { input.checked = true; input.dispatchEvent(new Event("change", { bubbles: true })); }
    return Boolean(input);
  }
  function score(value) {
    const sets = Array.from(form.querySelectorAll("fieldset.score"));
    if (sets.length && check(sets[scoreIndex].dataset.name, value)) scoreIndex = Math.min(sets.length - 1, scoreIndex + 1);
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
  const actions = {
    check: (binding) => check(binding.name, binding.value),
    score: (binding) => score(binding.value),
    turn: (binding) => focusTurn(Number(binding.value)),
    guidelines: toggleGuidelines,
    submit: () => form.requestSubmit(),
    skip: () => { const skip = document.getElementById("skip-form"); if (skip) skip.requestSubmit(); },
  };
  // Bad case: "nothing wrong" folds the editor away (its fields are ignored by the server then).
  function showEditor() {
    const fine = document.getElementById("verdict-fine");
    const editor = form.querySelector(".bad-case-editor");
    if (fine && editor) editor.hidden = fine.checked;
  }
  form.addEventListener("change", showEditor);
  showEditor();
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
    const binding = keymap[event.key.toLowerCase()];
    const action = binding && actions[binding.do];
    if (!action) return;
    action(binding);
    event.preventDefault();
  });
  // The keys work from here on: a deferred script runs after the form is parsed, so a key pressed before
  // this line is lost; browser tests wait for the mark before they press one.
  form.dataset.keys = "ready";
})();
