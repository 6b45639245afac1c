// simrenew service worker: keeps the app shell and the last copy of the pages a person
// opened, so that offline the installed app still shows their last known balance with
// its as-of time and an "offline" banner. Pages are network first; assets cache first.
"use strict";
const VERSION = "__VERSION__";
const SHELL = ["__SHELL__", "/offline"];
const PAGES = "pages-" + VERSION;
const STATIC = "static-" + VERSION;

self.addEventListener("install", (e) => {
  e.waitUntil(caches.open(STATIC).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (e) => {
  e.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== PAGES && k !== STATIC).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

// Pages worth keeping for offline reading: the account and the lines (balances).
function keepable(url) {
  return url.pathname === "/account" || url.pathname.startsWith("/lines/") || url.pathname === "/" || url.pathname === "/help";
}

self.addEventListener("fetch", (e) => {
  const req = e.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== location.origin) return;
  if (url.pathname.startsWith("/assets/")) {
    e.respondWith(caches.match(req).then((hit) => hit || fetch(req).then((res) => {
      const copy = res.clone();
      caches.open(STATIC).then((c) => c.put(req, copy));
      return res;
    })));
    return;
  }
  if (req.mode !== "navigate") return;
  e.respondWith(
    fetch(req).then((res) => {
      if (res.ok && keepable(url)) {
        const copy = res.clone();
        caches.open(PAGES).then((c) => c.put(url.pathname, copy));
      }
      return res;
    }).catch(() =>
      caches.open(PAGES).then((c) => c.match(url.pathname, { ignoreVary: true })).then((hit) => {
        if (hit) {
          // Mark the stored copy so that it shows the offline banner (see app.css).
          return hit.text().then((html) => new Response(html.replace("<html ", "<html data-offline=\"1\" "), {
            headers: { "Content-Type": "text/html; charset=utf-8" },
          }));
        }
        return caches.match("/offline");
      })
    )
  );
});
