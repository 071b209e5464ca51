// js_on_load of the components that the page's modules draw (explorer/ui/page.py mounted()): load the module
// (live_plane.js, traverse.js, scatter_hover.js, train/panel.js) and hand it this component, its props, and
// Gradio's trigger (the live planes send 'pin') and watch.
const host = element.querySelector(".le-host") || element;
import(props.module_url || host.dataset.module)
  .then((code) => code.mount(host, props, trigger, watch))
  .catch((error) => {
    host.textContent = `This part of the page could not start (${error.message}). Reload the page.`;
  });
