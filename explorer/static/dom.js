// Small DOM helpers shared by the page's components.

export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

export function button(cls, text, onClick) {
  const b = el("button", cls, text);
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

export function checkbox(cls, text, checked, onChange) {
  // a labelled checkbox: its label is what a user (and a test) clicks
  const label = el("label", cls);
  const box = el("input");
  box.type = "checkbox";
  box.checked = checked;
  box.addEventListener("change", () => onChange(box.checked));
  label.append(box, document.createTextNode(` ${text}`));
  return label;
}

export function canvas(cls, width, height) {
  const c = el("canvas", cls);
  if (width !== undefined) {
    c.width = width;
    c.height = height;
  }
  return c;
}
