// Reward pages: keyboard shortcuts for the document editor and the playground, a live JSON check,
// and htmx settings so that a 400 (bad input) is shown in place instead of being dropped.
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }

  function isEditable(el) {
    return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
  }

  function setupEditor(form) {
    var area = form.querySelector("#id_document");
    var status = document.getElementById("json-status");
    if (!area) return;
    function check() {
      try {
        JSON.parse(area.value);
        status.textContent = "JSON is well-formed; rules and examples are checked on save.";
        status.className = "good";
        return true;
      } catch (err) {
        status.textContent = "JSON error: " + err.message;
        status.className = "bad";
        return false;
      }
    }
    area.addEventListener("input", check);
    check();
    area.addEventListener("keydown", function (e) {
      if (e.key === "Tab" && !e.ctrlKey && !e.metaKey && !e.altKey) {  // indent instead of leaving the field
        e.preventDefault();
        var start = area.selectionStart, end = area.selectionEnd;
        area.setRangeText("  ", start, end, "end");
      }
    });
    document.addEventListener("keydown", function (e) {
      var mod = e.ctrlKey || e.metaKey;
      if (mod && (e.key === "s" || e.key === "S") && !e.shiftKey) {
        e.preventDefault();
        form.requestSubmit();
      } else if (mod && e.shiftKey && (e.key === "F" || e.key === "f")) {
        e.preventDefault();
        if (check()) area.value = JSON.stringify(JSON.parse(area.value), null, 2);
      }
    });
  }

  function setupPlayground(form) {
    document.addEventListener("keydown", function (e) {
      if ((e.ctrlKey || e.metaKey) && e.key === "Enter") {
        e.preventDefault();
        form.requestSubmit();
      } else if (e.key === "/" && !isEditable(document.activeElement)) {
        e.preventDefault();
        document.getElementById("id_dialogue").focus();
      }
    });
  }

  ready(function () {
    if (window.htmx) {
      htmx.config.responseHandling = [
        { code: "204", swap: false },
        { code: "[23]..", swap: true },
        { code: "400", swap: true, error: false },
        { code: "[45]..", swap: false, error: true },
      ];
    }
    var editor = document.getElementById("doc-editor");
    if (editor) setupEditor(editor);
    var playground = document.getElementById("playground-form");
    if (playground) setupPlayground(playground);
  });
})();
