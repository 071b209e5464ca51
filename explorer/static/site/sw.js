// The static edition's service worker: every file of the folder the page fetches is kept in a cache, so the page
// works offline once it has been loaded (each tab opened once: a tab's files are fetched when it opens). What the
// first visit fetched before this worker controlled it, the page names in a message ("keep"), and it is kept too.
// Online, the network is asked first (a rebuilt edition is seen at once; unchanged files come from the browser's
// HTTP cache); offline, the kept copy answers.

const CACHE = "latent-explorer-static";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

async function answer(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(request, response.clone());
    return response;
  } catch (error) {
    const kept = await cache.match(request, { ignoreSearch: request.mode === "navigate" });
    if (kept) return kept;
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  event.respondWith(answer(event.request));
});

self.addEventListener("message", (event) => {
  // {type: "keep", urls}: files the page fetched before this worker controlled it; answered {type: "kept", count}
  if (!event.data || event.data.type !== "keep") return;
  const urls = event.data.urls.filter((u) => new URL(u).origin === self.location.origin);
  event.waitUntil(caches.open(CACHE).then(async (cache) => {
    const kept = await Promise.all(urls.map((u) => cache.match(u).then((hit) => hit || cache.add(u)).then(() => 1, () => 0)));
    event.source.postMessage({ type: "kept", count: kept.reduce((a, b) => a + b, 0) });
  }));
});
