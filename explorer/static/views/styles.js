// Style grids of the conditional models (CVAE, CAAE), in the page: each row keeps a test digit's code (its style)
// and decodes it with every label 0-9 (actions.style_grid). mount(element, props) with props.value page_views'
// views_json; window.latentViews.styles is this component.

import { decodeBatch, el, field, input, loadImage, loadModels, mountWith, ortOf, panel, PIXELS, testImages,
  tiles } from "./common.js";
import { row } from "./samples.js";

const DEFAULT_STYLES = "0, 1, 2, 3, 4";
const NONE_SHOWN = "None of the shown models is conditional: pick cvae-2d or caae-2d among the models.";

export function styleCodes(model, index, classes) {
  // test digit #index's code repeated once per label
  const d = model.latent_dim;
  const z = new Float32Array(classes * d);
  for (let c = 0; c < classes; c++) z.set(model.arrays.latents.subarray(index * d, (index + 1) * d), c * d);
  return z;
}

class Styles {
  constructor(element) {
    this.root = element;
  }

  async show(view) {
    this.view = view;
    this.root.innerHTML = "";
    if (!view) return;
    this.indices = input("text", { value: this.indices ? this.indices.value : DEFAULT_STYLES });
    const go = el("button", "lv-primary", "Draw style grids");
    go.type = "button";
    go.addEventListener("click", () => this.draw());
    const bar = el("div", "lv-bar");
    bar.append(field("Styles from test digits #", this.indices), go);
    this.status = el("div", "lv-status");
    this.out = el("div", "lv-panels");
    this.root.append(bar, this.status, this.out);
    this.models = (await loadModels(view)).filter((m) => m.conditional && !m.clustered);
    this.ort = await ortOf(view);
    if (view === this.view) await this.draw();
  }

  async draw() {
    if (!this.models.length) {
      this.status.textContent = NONE_SHOWN;
      this.out.replaceChildren();
      return;
    }
    const n = this.view.test_count;
    const idx = this.indices.value.replace(/;/g, ",").split(",").filter((v) => v.trim()).map((v) => Number(v.trim()));
    if (!idx.length || idx.some((i) => !Number.isInteger(i) || i < 0 || i >= n)) {
      this.status.textContent = `indices must be whole numbers between 0 and ${n - 1}, separated by commas`;
      return;
    }
    const sprite = await loadImage(this.view.sprite);
    const panels = [];
    for (const m of this.models) {
      const classes = m.num_classes;
      const rows = [];
      const notes = ["input", ...Array.from({ length: classes }, (_, c) => `${c}`)]; // the label of each column
      for (const [r, i] of idx.entries()) {
        const { probs } = await decodeBatch(this.ort, m, styleCodes(m, i, classes), Array.from({ length: classes }, (_, c) => c));
        const all = new Float32Array((classes + 1) * PIXELS);
        all.set(testImages(sprite, [i]));
        all.set(probs, PIXELS);
        rows.push(row(`style of #${i}`, tiles(all, classes + 1, classes + 1, { gap: 2 }), r === idx.length - 1 ? notes : null));
      }
      const box = el("div", "lv-rows");
      box.append(...rows);
      panels.push(panel(m.label, box));
    }
    this.status.textContent = "";
    this.out.replaceChildren(...panels);
  }
}

export const mount = mountWith("styles", (element) => new Styles(element));
