// What a pointer, a finger or the arrow keys do on a plane. A hover decodes the point under the pointer; a
// press decodes where it starts, and its release (a click, a tap, the end of a drag) pins the point; the arrow
// keys walk the point of a focused plane. The controller (live_plane.js) gets plane points, not pixels.

const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] }; // plane y is up

// on: {hover(k, x, y, time), leave(time), press(k, point or null, time), release(k, x, y), walk(k, dir, fast, time)};
// planes.pointAt(k, u, v): the plane point under a canvas pixel, or null
export function listen(canvas, k, planes, on) {
  let down = false; // a press is on: leaving the canvas mid-drag keeps the point
  const at = (e) => {
    const box = canvas.getBoundingClientRect();
    return planes.pointAt(k, e.clientX - box.left, e.clientY - box.top);
  };
  canvas.addEventListener("pointermove", (e) => {
    const p = at(e);
    if (p) on.hover(k, p[0], p[1], e.timeStamp);
  });
  canvas.addEventListener("pointerleave", (e) => {
    if (!down) on.leave(e.timeStamp);
  });
  canvas.addEventListener("pointerdown", (e) => {
    down = true;
    canvas.setPointerCapture(e.pointerId);
    on.press(k, at(e), e.timeStamp);
  });
  canvas.addEventListener("pointerup", (e) => {
    if (!down) return;
    down = false;
    const p = at(e);
    if (p) on.release(k, p[0], p[1]);
  });
  canvas.addEventListener("pointercancel", () => { down = false; });
  canvas.addEventListener("keydown", (e) => {
    const dir = ARROWS[e.key];
    if (!dir) return;
    e.preventDefault();
    on.walk(k, dir, e.shiftKey, e.timeStamp);
  });
}
