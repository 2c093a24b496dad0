// What the IOC's pages (/wall, /upload, /console) do alike, in one place: the key taken from
// the address's fragment and kept in the browser, the login form, the language kept and
// toggled, HTML escaping, the province's time zone, a file fetched with the key and saved.
// Served as GET /static/pages.js (services/api/pages/endpoints.py); each page loads it before
// its own script and uses it as IOC.
"use strict";
const IOC = (() => {
  const ZONE = "Asia/Ho_Chi_Minh";  // the province's time, whatever the screen's own zone
  const LANGUAGE = "ioc.lang";  // one choice of language for every page

  function escape(value) {
    return String(value ?? "").replace(/[&<>"]/g,
      (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
  }

  // Each page keeps its own kind of key under its own name: a reader key is not an agency's.
  function readKey(name) {
    const match = location.hash.match(/key=([^&]+)/);
    if (match) {
      localStorage.setItem(name, decodeURIComponent(match[1]));
      history.replaceState(null, "", location.pathname);  // the key leaves the address bar
    }
    return localStorage.getItem(name);
  }

  function forgetKey(name) { localStorage.removeItem(name); location.reload(); }

  // The key from #key=, else the one kept; without one the page shows its login form
  // (body.no-key), whose key is kept and the page loaded again.
  function key(name) {
    const found = readKey(name);
    document.body.classList.toggle("no-key", !found);
    document.getElementById("login").addEventListener("submit", (event) => {
      event.preventDefault();
      localStorage.setItem(name, document.getElementById("key").value.trim());
      location.reload();
    });
    return found;
  }

  function language() { return localStorage.getItem(LANGUAGE) || "vi"; }

  // The #lang button switches between Vietnamese and English, kept for the next visit;
  // ``switched`` redraws the page in the language it is given.
  function onLanguageToggle(switched) {
    document.getElementById("lang").addEventListener("click", () => {
      const next = language() === "vi" ? "en" : "vi";
      localStorage.setItem(LANGUAGE, next);
      switched(next);
    });
  }

  // A plain link cannot carry the key: what was fetched with it is handed to the browser.
  function save(blob, filename) {
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob); link.download = filename;
    document.body.append(link); link.click(); link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
  }

  return Object.freeze({ ZONE, escape, readKey, forgetKey, key, language, onLanguageToggle, save });
})();
