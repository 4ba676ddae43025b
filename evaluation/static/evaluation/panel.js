// Keyboard-first blind rating: J/K move between responses, 1-5 rate (or pick a fix status), E marks the
// focused response excellent, F/W/N/S toggle the skills of its label, Enter submits.
(function () {
  const form = document.getElementById("panel-form");
  if (!form) return;
  const responses = Array.from(document.querySelectorAll(".response"));
  const rows = Array.from(document.querySelectorAll(".label-row"));
  const badCase = form.dataset.kind === "bad_case";
  const skillKeys = { f: "fluency", w: "workflow_compliance", n: "negotiation_effectiveness", s: "scope_understanding" };
  let index = 0;

  function label() {
    return responses.length ? responses[index].dataset.label : rows[index] && rows[index].dataset.label;
  }
  function focus(i) {
    const count = responses.length || rows.length;
    if (!count) return;
    index = (i + count) % count;
    responses.forEach((r, j) => r.classList.toggle("focused", j === index));
    rows.forEach((r) => r.classList.toggle("focused", r.dataset.label === label()));
    const el = responses[index] || rows[index];
    el.scrollIntoView({ block: "nearest" });
  }
  function field(name) { return form.querySelector(`[name="${label()}-${name}"]`); }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.matches("input[type=text], textarea")) return;
    const key = event.key.toLowerCase();
    if (key === "j") focus(index + 1);
    else if (key === "k") focus(index - 1);
    else if (/^[1-5]$/.test(key)) {
      const radios = form.querySelectorAll(`[name="${label()}-${badCase ? "fix_status" : "rating"}"]`);
      const radio = badCase ? radios[Number(key) - 1] : Array.from(radios).find((r) => r.value === key);
      if (radio) radio.checked = true;
    } else if (key === "e" && responses.length && !badCase) {
      const box = document.querySelector(`[name="${label()}-excellent"][value="${responses[index].dataset.turn}"]`);
      if (box) box.checked = !box.checked;
    } else if (skillKeys[key]) {
      const box = field(skillKeys[key]);
      if (box) box.checked = !box.checked;
    } else if (key === "enter") {
      form.requestSubmit();
    } else return;
    event.preventDefault();
  });
  focus(0);
  form.dataset.keys = "ready";  // the keys work from here on (a deferred script; browser tests wait for it)
})();
