// The view in the address bar, and the Copy link button (the query itself is rules.shareQuery).

const COPIED = 2000; // ms the Copy link button says so

export function selectedTab(tabIds) {
  // the id (in a shared link) of the app's selected tab, or null; tabIds: a tab's label -> its id (the page has
  // other tab bars too, such as the lesson's steps: only the app's tabs count)
  const tab = [...document.querySelectorAll("button[role=tab]")]
    .find((b) => b.getAttribute("aria-selected") === "true" && b.textContent.trim() in tabIds);
  return (tab && tabIds[tab.textContent.trim()]) || null;
}

export function showInAddressBar(query) {
  try {
    history.replaceState(null, "", `${location.pathname}?${query}`);
  } catch (e) {
    // a sandboxed frame may refuse: the Copy link button still works
  }
}

export async function copyLink(query, button) {
  const url = `${location.origin}${location.pathname}?${query}`;
  try {
    await navigator.clipboard.writeText(url);
    button.textContent = "Link copied";
  } catch (e) { // no clipboard here (an http page): show the link to copy by hand
    window.prompt("Copy this link:", url);
  }
  setTimeout(() => { button.textContent = "Copy link"; }, COPIED);
}
