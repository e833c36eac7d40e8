/**
 * Pan and zoom of the asset graph's SVG, with a level of detail.
 *
 * During a gesture (drag, wheel, the + and − buttons) only a CSS transform of the drawn
 * SVG changes, which the compositor applies every frame without drawing anything again;
 * once the gesture pauses, the `viewBox` is set and the SVG drawn once, sharp, at its new
 * scale. Zoomed out below `FAR_SCALE`, nodes are drawn without their text.
 */

/** A pan or zoom is drawn properly once it paused this long (see `Viewport.apply`). */
const SETTLE_MS = 120;
/** Below this zoom, nodes are drawn without text (see `Viewport.commit`). */
const FAR_SCALE = 0.45;

/**
 * Pan (drag) and zoom (wheel, buttons) by the SVG's viewBox; nothing is re-laid out.
 */
export class Viewport {
  /**
   * @param {SVGSVGElement} svg
   * @param {{width: number, height: number}} content
   * @param {{width: number, height: number, left: number, top: number}} size the element's
   *   box, measured before the SVG went in: measuring after would lay out every node's
   *   text before the level of detail hides it
   */
  constructor(svg, content, size) {
    this.svg = svg;
    this.content = content;
    this.box = { x: 0, y: 0, w: 1, h: 1 };
    this.dragged = false;
    this.view = size;
    /** @type {{x: number, y: number, w: number, h: number} | null} what the viewBox shows */
    this.shown = null;
    this.settle = 0;
    this.holding = false; // a drag is on: draw properly when it ends, not at each pause
    this.fit(false);
    svg.addEventListener("wheel", (e) => this.onWheel(e), { passive: false });
    svg.addEventListener("pointerdown", (e) => this.onDown(e));
  }

  /** The element's box as last measured (`measure()` on user input and resizes). */
  size() {
    return this.view;
  }

  /** The frame's inner box (the SVG fills it; the SVG's own box moves with a gesture). */
  measure() {
    const frame = /** @type {HTMLElement} */ (this.svg.parentElement);
    const rect = frame.getBoundingClientRect();
    const bx = frame.clientLeft;
    const by = frame.clientTop;
    this.view = { width: Math.max(1, rect.width - 2 * bx), height: Math.max(1, rect.height - 2 * by), left: rect.left + bx, top: rect.top + by };
    return this.view;
  }

  /**
   * Show `box`. While the user drags or zooms, only a CSS transform of the drawn SVG
   * moves (the compositor's work, every frame); once they pause, the viewBox itself is
   * set and the SVG drawn again, sharp, at the new scale.
   * @param {boolean} [now] set the viewBox at once (a jump, not a gesture)
   */
  apply(now = false) {
    clearTimeout(this.settle);
    if (now || !this.shown) {
      this.commit();
      return;
    }
    const shown = this.shown;
    const { width, height } = this.view;
    const s = shown.w / this.box.w;
    const tx = ((shown.x - this.box.x) * width) / this.box.w;
    const ty = ((shown.y - this.box.y) * height) / this.box.h;
    this.svg.style.transform = `translate(${tx}px, ${ty}px) scale(${s})`;
    if (!this.holding) this.settle = setTimeout(() => this.commit(), SETTLE_MS);
  }

  commit() {
    const { x, y, w, h } = this.box;
    this.shown = { ...this.box };
    this.svg.style.transform = "";
    this.svg.setAttribute("viewBox", `${x.toFixed(1)} ${y.toFixed(1)} ${w.toFixed(1)} ${h.toFixed(1)}`);
    // Level of detail: below FAR_SCALE, names would be a few pixels tall, and laying out
    // 2,000 texts is most of a big graph's first paint; nodes show as coloured boxes and
    // group labels grow to stay readable (hover still names a node).
    const scale = this.scale();
    this.svg.classList.toggle("far", scale < FAR_SCALE);
    this.svg.style.setProperty("--inv", String(Math.min(8, 1 / scale)));
  }

  /** Show everything (and never zoom in beyond 1:1). */
  fit(measure = true) {
    const { width, height } = measure ? this.measure() : this.size();
    const margin = 20;
    const scale = Math.min(1, width / (this.content.width + 2 * margin), height / (this.content.height + 2 * margin));
    const w = width / scale;
    const h = height / scale;
    // a graph smaller than the view sits in its middle, left to right
    const x = Math.min(-margin, -(w - this.content.width) / 2);
    this.box = { x, y: -margin, w, h };
    this.apply(true);
  }

  /** Keep the scale, follow a resized element. */
  resize() {
    const scale = this.scale();
    const { width, height } = this.measure();
    this.box.w = width / scale;
    this.box.h = height / scale;
    this.apply(true);
  }

  scale() {
    return this.size().width / this.box.w;
  }

  /** Zoom by `factor` (> 1: in) around a point given in client pixels. */
  zoom(factor, clientX, clientY) {
    const { width, height, left, top } = this.measure();
    const scale = Math.min(4, Math.max(0.02, this.scale() * factor));
    const fx = ((clientX ?? left + width / 2) - left) / width;
    const fy = ((clientY ?? top + height / 2) - top) / height;
    const px = this.box.x + fx * this.box.w;
    const py = this.box.y + fy * this.box.h;
    this.box.w = width / scale;
    this.box.h = height / scale;
    this.box.x = px - fx * this.box.w;
    this.box.y = py - fy * this.box.h;
    this.apply();
  }

  /** Center on a point of the graph, at least at 1:1 scale. */
  center(x, y) {
    const { width, height } = this.size();
    const scale = Math.max(this.scale(), 1);
    this.box = { w: width / scale, h: height / scale, x: 0, y: 0 };
    this.box.x = x - this.box.w / 2;
    this.box.y = y - this.box.h / 2;
    this.apply(true);
  }

  onWheel(event) {
    event.preventDefault();
    this.zoom(Math.exp(-event.deltaY * 0.0015), event.clientX, event.clientY);
  }

  onDown(event) {
    if (event.button !== 0) return;
    const start = { x: event.clientX, y: event.clientY, bx: this.box.x, by: this.box.y };
    const perPixel = this.box.w / this.measure().width;
    this.dragged = false;
    const move = (e) => {
      const dx = e.clientX - start.x;
      const dy = e.clientY - start.y;
      if (!this.dragged && Math.hypot(dx, dy) < 4) return;
      if (!this.dragged) this.svg.setPointerCapture(event.pointerId);
      this.dragged = true;
      this.holding = true;
      this.svg.classList.add("dragging");
      this.box.x = start.bx - dx * perPixel;
      this.box.y = start.by - dy * perPixel;
      this.apply();
    };
    const up = () => {
      this.svg.removeEventListener("pointermove", move);
      this.svg.removeEventListener("pointerup", up);
      this.svg.removeEventListener("pointercancel", up);
      this.svg.classList.remove("dragging");
      if (this.holding) {
        this.holding = false;
        this.apply();
      }
    };
    this.svg.addEventListener("pointermove", move);
    this.svg.addEventListener("pointerup", up);
    this.svg.addEventListener("pointercancel", up);
  }
}
