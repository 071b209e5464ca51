// The Scatter tab's hover: beside the pointer, the test digit a point stands for (its image, not only its class
// and index). The digits come from one sprite of the 10,000 test digits (100 x 100 cells of 28 px), fetched the
// first time a point is hovered; Plotly reports the point's test index in its customdata.

const CELL = 28;
const SHOWN = 84; // px of the digit beside the pointer

class ScatterHover {
  constructor(element, view) {
    this.root = element;
    this.view = view;
    this.sprite = null;
    this.box = document.createElement("canvas");
    this.box.className = "ls-digit";
    this.box.width = CELL;
    this.box.height = CELL;
    this.box.style.cssText = `position: fixed; width: ${SHOWN}px; height: ${SHOWN}px; image-rendering: pixelated;` +
      "border: 1px solid #888; background: #fff; pointer-events: none; display: none; z-index: 70;";
    document.body.append(this.box);
    this.hooked = new WeakSet();
    new MutationObserver(() => this.hook()).observe(document.body, { childList: true, subtree: true });
    this.hook();
  }

  hook() {
    const scatter = document.getElementById(this.view.target);
    if (!scatter) return;
    for (const plot of scatter.querySelectorAll(".js-plotly-plot")) {
      if (this.hooked.has(plot) || typeof plot.on !== "function") continue;
      this.hooked.add(plot);
      plot.on("plotly_hover", (event) => this.show(event));
      plot.on("plotly_unhover", () => { this.box.style.display = "none"; });
    }
  }

  async show(event) {
    const point = event.points && event.points[0];
    const index = point && Number(point.customdata);
    if (!Number.isInteger(index)) return;
    const mouse = event.event || {};
    if (!this.sprite) this.sprite = this.load();
    const image = await this.sprite;
    const g = this.box.getContext("2d");
    const cols = this.view.cols;
    g.drawImage(image, (index % cols) * CELL, Math.floor(index / cols) * CELL, CELL, CELL, 0, 0, CELL, CELL);
    this.box.style.left = `${(mouse.clientX || 0) + 18}px`;
    this.box.style.top = `${(mouse.clientY || 0) + 14}px`; // below the pointer: Plotly's label sits above it
    this.box.style.display = "block";
    this.lastIndex = index;
  }

  load() {
    return new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = () => reject(new Error("could not load the test digits"));
      img.src = this.view.sprite;
    });
  }
}

export function mount(element, props, trigger, watch) {
  const view = JSON.parse(props.value || "{}");
  const hover = new ScatterHover(element, view);
  window.latentScatterHover = hover; // the one object of this component, for tests
  return hover;
}
