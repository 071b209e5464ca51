// js_on_load of the live planes component (explorer/ui.py): load the page's code (explorer/static/live_plane.js)
// and hand it this component. The component triggers these events for the server: 'pin' (the pinned point).
const host = element.querySelector(".le-host") || element;
import(props.module_url)
  .then((code) => code.mount(host, props, trigger, watch))
  .catch((error) => {
    host.textContent = `The live planes could not start (${error.message}). Reload the page.`;
  });
