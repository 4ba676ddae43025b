// Ctrl+Enter records the consensus (plain Enter stays free for the note field).
(function () {
  const form = document.getElementById("consensus-form");
  if (!form) return;
  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); form.requestSubmit(); }
  });
})();
