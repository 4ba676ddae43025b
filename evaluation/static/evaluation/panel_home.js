// Enter on the panel's start page opens the next item.
(function () {
  const start = document.getElementById("start");
  if (!start) return;
  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.target.matches("input, textarea, button, a")) start.click();
  });
})();
