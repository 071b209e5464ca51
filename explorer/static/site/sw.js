// The static edition's service worker: every file of the folder the page fetches is kept in a cache, so the page
// works offline once it has been loaded (and each tab opened once). Online, the network is asked first (a rebuilt
// edition is seen at once; unchanged files answer 304 from the server's HTTP cache); offline, the kept copy answers.

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
