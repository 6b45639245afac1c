// simrenew: progressive enhancement only; every page works without this file.
"use strict";
(function () {
  // Installable app: the service worker caches the shell and the last pages seen.
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {});
  }
  // An honest banner while offline (also shown when the worker served a cached copy).
  var banner = document.getElementById("offline");
  function showOffline() { if (banner) banner.hidden = navigator.onLine && !document.documentElement.dataset.offline; }
  window.addEventListener("online", showOffline);
  window.addEventListener("offline", showOffline);
  showOffline();
  // A pending order refreshes itself (the page also has a no-JS refresh link).
  var pending = document.querySelector("[data-refresh]");
  if (pending) {
    setTimeout(function () { location.reload(); }, parseInt(pending.getAttribute("data-refresh"), 10) * 1000);
  }
  // Print links (receipts): shown only when scripts run.
  document.querySelectorAll("[data-print]").forEach(function (a) {
    a.hidden = false;
    a.addEventListener("click", function (e) { e.preventDefault(); window.print(); });
  });
  // Copy buttons.
  document.querySelectorAll("[data-copy]").forEach(function (b) {
    b.hidden = false;
    b.addEventListener("click", function () {
      if (!navigator.clipboard) return;
      navigator.clipboard.writeText(b.getAttribute("data-copy")).then(function () {
        var done = b.getAttribute("data-copied");
        if (done) b.textContent = done;
      }, function () {});
    });
  });
})();
