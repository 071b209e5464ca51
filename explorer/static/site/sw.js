// The static edition's service worker: every file of the folder the page fetches is kept in a cache, so the page
// works offline once it has been loaded (each tab opened once: a tab's files are fetched when it opens). What the
// first visit fetched before this worker controlled it, the page names in messages ("keep"), and it is kept too.
// The page (index.html) and site.json are asked of the network first; every other file is answered from the cache
// when it is there. The message carries the edition's version (site.json's): a rebuilt edition empties the cache.

const CACHE = "latent-explorer-static";
const VERSION = "latent-explorer-version"; // the cache entry that names the edition the cache holds

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

const putting = new Map(); // URL -> its put in progress: one put per file at a time (a second put of the same
                          // file replaces the first, and one whose body fails then leaves no entry at all)

async function keep(cache, request, response, replace = false) {
  const url = typeof request === "string" ? request : request.url;
  if (!response.ok || putting.has(url) || (!replace && (await cache.match(url)))) return;
  const put = cache.put(url, response).catch(() => {}); // a file that could not be kept is fetched next time
  putting.set(url, put);
  await put;
  putting.delete(url);
}

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    await keep(cache, request, response.clone(), true); // the page and site.json: the newest is kept
    return response;
  } catch (error) {
    const kept = await cache.match(request, { ignoreSearch: request.mode === "navigate" });
    if (kept) return kept;
    throw error;
  }
}

async function cacheFirst(request) {
  const cache = await caches.open(CACHE);
  const kept = await cache.match(request);
  if (kept) return kept;
  const response = await fetch(request);
  await keep(cache, request, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  const fresh = event.request.mode === "navigate" || url.pathname.endsWith("/site.json");
  event.respondWith(fresh ? networkFirst(event.request) : cacheFirst(event.request));
});

async function keepFirstVisit(version, urls) {
  // the files the page fetched before this worker controlled it, one at a time; a new edition starts afresh
  let cache = await caches.open(CACHE);
  const held = await cache.match(VERSION);
  if (held && (await held.text()) !== version) {
    await caches.delete(CACHE);
    cache = await caches.open(CACHE);
  }
  await cache.put(VERSION, new Response(version));
  const failed = [];
  for (const url of urls) {
    await putting.get(url);
    if (await cache.match(url)) continue;
    try {
      const response = await fetch(url, { cache: "force-cache" }); // the browser's HTTP cache has it, mostly
      if (response.ok) await keep(cache, url, response);
      else failed.push(`${url}: HTTP ${response.status}`);
    } catch (e) {
      failed.push(`${url}: ${e}`);
    }
  }
  return failed;
}

self.addEventListener("message", (event) => {
  // {type: "keep", version, urls} -> {type: "kept", count, failed: ["url: why"]}
  if (!event.data || event.data.type !== "keep") return;
  const urls = [...new Set(event.data.urls)].filter((u) => new URL(u).origin === self.location.origin);
  event.waitUntil(keepFirstVisit(String(event.data.version), urls).then((failed) => {
    event.source.postMessage({ type: "kept", count: urls.length - failed.length, failed });
  }));
});
