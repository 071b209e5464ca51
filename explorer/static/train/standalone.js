// The standalone page (index.html): the panel without the Gradio app, served from explorer/static as it is.
import { mount } from "./panel.js";

mount(document.getElementById("panel"), {}, () => {}, () => {});
