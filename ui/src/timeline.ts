// The canvas timeline: ruler, waveform (min/max pyramid), activation curves, beat markers,
// and the mouse interactions that edit beats. Maths lives in timeline-math.ts.
import {
  addBeat,
  chooseLevel,
  clampView,
  fitView,
  formatTime,
  globalTempo,
  localTempo,
  suggestRegions,
  unmatchedBeats,
  type Suggestion,
  hitTestBeat,
  moveBeat,
  removeBeats,
  rulerStep,
  scrollBy,
  snapToPeak,
  timeToX,
  visibleBeats,
  xToTime,
  zoomAt,
  pinchView,
  zoomLimits,
  marksTooDense,
  type Beats,
  type Viewport,
} from "./timeline-math";
import { displayPositions, meterSections } from "./bars";
import type { CurveData, TimelineData } from "./wire";

export const CURVE_STYLE: Record<string, { label: string; color: string; fill: string }> = {
  flux: { label: "Flux", color: "#f5a524", fill: "rgba(245,165,36,0.16)" },
  max: { label: "ZeroNS", color: "#f687b3", fill: "rgba(246,135,179,0.12)" },
  anchor: { label: "Non-perc.", color: "#b794f4", fill: "rgba(183,148,244,0.10)" },
  postve: { label: "Perc.", color: "#68d391", fill: "rgba(104,211,145,0.10)" },
  downbeat: { label: "Downbeat", color: "#63b3ed", fill: "rgba(99,179,237,0.12)" },
};

export function curveStyle(kind: string) {
  return CURVE_STYLE[kind] ?? { label: kind, color: "#f5a524", fill: "rgba(245,165,36,0.16)" };
}

const C = {
  bg: "#101216",
  lane: "#14171c",
  laneEdge: "#1f232b",
  ruler: "#181b21",
  rulerText: "#8b93a1",
  tick: "#3a404b",
  grid: "rgba(255,255,255,0.035)",
  wave: "#4aa3df",
  waveCore: "#7cc4f2",
  beat: "rgba(214,222,235,0.55)",
  downbeat: "#ff7a45",
  selected: "#4fd1c5",
  hover: "#ffffff",
  label: "#c9d1d9",
  playhead: "#f6e05e",
  tempo: "#9f7aea",
  ghost: "rgba(183,148,244,0.75)",
  suggest: "rgba(245,101,101,0.85)",
  suggestCurrent: "#ff8a8a",
  suggestShade: "rgba(245,101,101,0.05)",
  suggestCurrentShade: "rgba(245,101,101,0.11)",
  loop: "rgba(79,209,197,0.28)",
  loopShade: "rgba(79,209,197,0.05)",
  loopEdge: "rgba(79,209,197,0.55)",
  checked: "#48bb78",
  checkedWash: "rgba(72,187,120,0.10)",
};

/** `#rrggbb` to a little-endian RGBA word for ImageData. */
function rgba(hex: string, alpha: number): number {
  const v = parseInt(hex.slice(1), 16);
  const r = (v >> 16) & 255;
  const g = (v >> 8) & 255;
  const b = v & 255;
  return ((Math.round(alpha * 255) << 24) | (b << 16) | (g << 8) | r) >>> 0;
}

/** Colour between two `#rrggbb` colours (f = 0: a, 1: b), opaque. */
function mix(a: string, b: string, f: number): number {
  const va = parseInt(a.slice(1), 16);
  const vb = parseInt(b.slice(1), 16);
  const ch = (s: number) => Math.round(((va >> s) & 255) * (1 - f) + ((vb >> s) & 255) * f);
  return ((255 << 24) | (ch(0) << 16) | (ch(8) << 8) | ch(16)) >>> 0;
}

/** An opaque RGBA word: `hex` at `alpha` over the RGBA word `under`. */
function blend(under: number, hex: string, alpha: number): number {
  const v = parseInt(hex.slice(1), 16);
  const ch = (s: number, us: number) => Math.round(((v >> s) & 255) * alpha + ((under >> us) & 255) * (1 - alpha));
  return ((255 << 24) | (ch(0, 16) << 16) | (ch(8, 8) << 8) | ch(16, 0)) >>> 0;
}

const LANE_RGBA = rgba("#14171c", 1);
const CENTRE_RGBA = rgba("#23384a", 1);

const RULER_H = 26;
const MONO_11 = "11px 'DejaVu Sans Mono', ui-monospace, monospace";
const MONO_10 = "10px 'DejaVu Sans Mono', ui-monospace, monospace";
const SANS_10 = "10px system-ui, 'DejaVu Sans', sans-serif";
const HANDLE = 7;

export interface TimelineEvents {
  /** A finished edit (commit it). */
  onEdit(next: Beats, note: string): void;
  /** Cursor time under the mouse (null when outside). */
  onCursor(t: number | null): void;
  /** Selection or view changed (for the status bar). */
  onChange(): void;
  /** A click on the ruler: move the playhead there. */
  onSeek?(t: number): void;
  /** A drag on the ruler selected a loop range (null: cleared by a click). */
  onLoopRange?(range: [number, number] | null): void;
}

/** WebKit's non-standard trackpad `GestureEvent` (Safari; not in the DOM typings). */
interface GestureLike extends UIEvent {
  scale: number;
  clientX: number;
}

interface DragBeat {
  kind: "beat";
  index: number;
  startX: number;
  orig: Beats;
  moved: boolean;
}
interface DragRuler {
  kind: "ruler";
  startX: number;
  moved: boolean;
}
interface DragPan {
  kind: "pan";
  startX: number;
  startView: Viewport;
  moved: boolean;
}

export class Timeline {
  readonly canvas: HTMLCanvasElement;
  private ctx: CanvasRenderingContext2D;
  data: TimelineData | null = null;
  beats: Beats = { times: new Float64Array(0), positions: null };
  beatsPerBar = 4;
  view: Viewport = { startS: 0, pxPerS: 100, widthPx: 800 };
  heightPx = 400;
  /** Curve kinds not drawn; the branches start hidden (the chips turn them on). */
  hiddenCurves = new Set<string>(["anchor", "postve"]);
  snap = true;
  selected = new Set<number>();
  hover = -1;
  lastDrawMs = 0;
  /** Playback position (s) as heard, drawn as the playhead; null when nothing is loaded. */
  playheadS: number | null = null;
  /** Loop range on the ruler (s). */
  loopS: [number, number] | null = null;
  /** Scroll to keep the playhead in view while it moves. */
  follow = true;
  /** Regions where the beats are least trustworthy (recomputed with the beats). */
  suggestions: Suggestion[] = [];
  /** The previous analysis's beats (after a re-tracking), to show what changed. */
  private previous: Float64Array | null = null;
  /** Positions of `previous` that the shown beats no longer have, drawn as ghosts when
   * `showGhosts`; recomputed with the beats. */
  ghosts: Float64Array | null = null;
  /** Shown beats that `previous` did not have (new or moved here). */
  addedSincePrevious = 0;
  showGhosts = true;
  /** Whether the ghosts in view were last drawn as full-height lines (false: top marks only). */
  ghostLines = true;
  /** The suggestion last jumped to (highlighted). */
  currentSuggestion = -1;
  /** Runs of checked beats (set or confirmed by the user), [first, last] (s): a green band on the ruler. */
  checkedSpans: readonly [number, number][] = [];
  private drag: DragBeat | DragPan | DragRuler | null = null;
  private pinch: { view: Viewport; x: [number, number] } | null = null;
  private gesture: { view: Viewport; x: number } | null = null;
  private frame = 0;
  private waveScale = 1;

  constructor(canvas: HTMLCanvasElement, private events: TimelineEvents) {
    this.canvas = canvas;
    // `willReadFrequently` asks for a CPU-backed canvas. WebKitGTK otherwise accelerates the
    // canvas through GL, which on machines without a GPU (Mesa's llvmpipe) makes every frame
    // 5–10× slower: the whole-song redraw of a 10-minute song in the e2e test went from 15 ms
    // to 6 ms in WebKitGTK 2.50 here (single frames 9 → 2 ms). A timeline this size
    // rasterises in a few ms on any CPU.
    const ctx = canvas.getContext("2d", { alpha: false, willReadFrequently: true });
    if (!ctx) throw new Error("canvas 2D context unavailable");
    this.ctx = ctx;
    new ResizeObserver(() => this.resize()).observe(canvas.parentElement ?? canvas);
    canvas.addEventListener("mousedown", (e) => this.onDown(e));
    window.addEventListener("mousemove", (e) => this.onMove(e));
    window.addEventListener("mouseup", (e) => this.onUp(e));
    canvas.addEventListener("mouseleave", () => {
      this.events.onCursor(null);
      if (this.hover >= 0) {
        this.hover = -1;
        this.invalidate();
      }
    });
    canvas.addEventListener("contextmenu", (e) => this.onContext(e));
    canvas.addEventListener("wheel", (e) => this.onWheel(e), { passive: false });
    // Pinch zoom: two fingers on a touch screen (touch events), and WebKit's trackpad gesture
    // events where the platform sends them (trackpad pinches elsewhere arrive as ctrl+wheel).
    canvas.addEventListener("touchstart", (e) => this.onTouch(e), { passive: false });
    canvas.addEventListener("touchmove", (e) => this.onTouch(e), { passive: false });
    canvas.addEventListener("touchend", (e) => this.onTouch(e), { passive: false });
    canvas.addEventListener("touchcancel", (e) => this.onTouch(e), { passive: false });
    canvas.addEventListener("gesturestart", (e) => this.onGesture(e as GestureLike, true), { passive: false });
    canvas.addEventListener("gesturechange", (e) => this.onGesture(e as GestureLike, false), { passive: false });
    // Shape every glyph the ruler and labels use once, so that font fallback lookups
    // (hundreds of ms in some WebKit/Chromium builds) never land in an interactive redraw.
    for (const font of [MONO_11, MONO_10, SANS_10]) {
      ctx.font = font;
      ctx.measureText("0123456789:.-ACTIVATIONWAVEFORM·()abcdefghijklmnopqrstuvwxyz");
    }
    this.resize();
  }

  get durationS(): number {
    return this.data?.durationS ?? 0;
  }

  /** Frames per second of the main curve (the editing grid for nudges and zoom limit). */
  get fps(): number {
    return this.data?.curves[0]?.fps || 62.5;
  }

  private get limits() {
    return zoomLimits(this.durationS, this.view.widthPx, this.fps);
  }

  setData(data: TimelineData | null, beats: Beats, beatsPerBar: number) {
    this.data = data;
    this.beats = beats;
    this.beatsPerBar = beatsPerBar;
    this.selected.clear();
    this.hover = -1;
    let peak = 0;
    const top = data?.levels[data.levels.length - 1];
    if (top) for (const v of top.minMax) peak = Math.max(peak, Math.abs(v));
    this.waveScale = peak > 1e-6 ? 0.95 / peak : 1;
    this.view = fitView(this.durationS || 1, this.view.widthPx);
    this.previous = null;
    this.refreshDerived();
    this.invalidate();
    this.events.onChange();
  }

  /** The curve suggestions are judged on: the one the beats were tracked from (stored first). */
  private confidenceCurve() {
    return this.data?.curves[0] ?? null;
  }

  /** Sets the previous analysis's beats to diff against (null: none). */
  setPrevious(times: Float64Array | null) {
    this.previous = times;
    this.refreshDerived();
    this.invalidate();
    this.events.onChange();
  }

  /** Suggestions and the diff with the previous analysis: derived from the beats, so
   * recomputed when they change (not on every view change). */
  private refreshDerived() {
    const p = this.previous;
    this.ghosts = p ? unmatchedBeats(p, this.beats.times) : null;
    this.addedSincePrevious = p ? unmatchedBeats(this.beats.times, p).length : 0;
    const c = this.confidenceCurve();
    const d = this.data?.curves.find((k) => k.kind === "downbeat");
    const positions = this.beats.positions;
    this.suggestions = this.data
      ? suggestRegions(this.beats.times, c?.values ?? null, c?.fps ?? 62.5, {
          previous: p,
          downbeat: d && positions ? { curve: d.values, fps: d.fps, positions } : null,
        })
      : [];
    if (this.currentSuggestion >= this.suggestions.length) this.currentSuggestion = -1;
  }

  /** Sets the checked spans (the head revision's); redraws only when they change. */
  setChecked(spans: readonly [number, number][] | null | undefined) {
    const next = spans ?? [];
    const same =
      next.length === this.checkedSpans.length && next.every(([a, b], i) => a === this.checkedSpans[i][0] && b === this.checkedSpans[i][1]);
    if (same) return;
    this.checkedSpans = next;
    this.invalidate();
  }

  setBeats(beats: Beats, beatsPerBar = this.beatsPerBar) {
    this.beats = beats;
    this.beatsPerBar = beatsPerBar;
    for (const i of [...this.selected]) if (i >= beats.times.length) this.selected.delete(i);
    this.refreshDerived();
    this.invalidate();
    this.events.onChange();
  }

  resize() {
    const parent = this.canvas.parentElement;
    const w = Math.max(100, Math.floor(parent?.clientWidth ?? 800));
    const h = Math.max(120, Math.floor(parent?.clientHeight ?? 400));
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(w * dpr);
    this.canvas.height = Math.round(h * dpr);
    this.canvas.style.width = `${w}px`;
    this.canvas.style.height = `${h}px`;
    const wasFit = this.view.pxPerS <= this.limits.minPxPerS * 1.0001;
    this.view = { ...this.view, widthPx: w };
    this.heightPx = h;
    if (this.data) this.view = wasFit ? fitView(this.durationS, w) : clampView(this.view, this.durationS);
    this.draw();
  }

  invalidate() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  // ---- view -------------------------------------------------------------------------------
  setView(v: Viewport) {
    this.view = clampView(v, this.durationS);
    this.invalidate();
    this.events.onChange();
  }
  zoomBy(factor: number, anchorX = this.view.widthPx / 2) {
    this.setView(zoomAt(this.view, factor, anchorX, this.durationS, this.limits));
  }
  fit() {
    this.setView(fitView(this.durationS || 1, this.view.widthPx));
  }
  scroll(dxPx: number) {
    this.setView(scrollBy(this.view, dxPx, this.durationS));
  }
  zoomPercent(): number {
    return this.view.pxPerS / this.limits.minPxPerS;
  }

  // ---- geometry ---------------------------------------------------------------------------
  private lanes() {
    const top = RULER_H;
    const h = this.heightPx - top;
    const waveH = Math.round(h * 0.52);
    const tempoH = Math.min(48, Math.max(24, Math.round(h * 0.1)));
    const actTop = top + waveH + 1;
    const actH = h - waveH - 1 - tempoH - 1;
    return { waveTop: top, waveH, actTop, actH, tempoTop: actTop + actH + 1, tempoH };
  }

  /** Client x of beat i (for tests and tooltips). */
  beatClientX(i: number): number {
    const r = this.canvas.getBoundingClientRect();
    return r.left + timeToX(this.view, this.beats.times[i]);
  }

  /** Snaps a time to the main visible curve's peak (when snapping is on). */
  snapTime(t: number): number {
    if (!this.snap || !this.data) return t;
    const curve = this.data.curves.find((c) => !this.hiddenCurves.has(c.kind)) ?? this.data.curves[0];
    if (!curve) return t;
    const radius = Math.max(0.045, 8 / this.view.pxPerS);
    return snapToPeak(curve.values, curve.fps, t, Math.min(radius, 0.15));
  }

  // ---- mouse ------------------------------------------------------------------------------
  private localX(e: MouseEvent): number {
    return e.clientX - this.canvas.getBoundingClientRect().left;
  }

  private onDown(e: MouseEvent) {
    if (e.button !== 0 || !this.data) return;
    e.preventDefault();
    this.canvas.focus();
    const x = this.localX(e);
    if (e.clientY - this.canvas.getBoundingClientRect().top < RULER_H) {
      this.drag = { kind: "ruler", startX: x, moved: false };
      return;
    }
    const hit = hitTestBeat(this.beats.times, this.view, x);
    if (hit >= 0) {
      if (e.shiftKey) {
        if (this.selected.has(hit)) this.selected.delete(hit);
        else this.selected.add(hit);
      } else if (!this.selected.has(hit)) {
        this.selected = new Set([hit]);
      }
      this.drag = { kind: "beat", index: hit, startX: x, orig: this.beats, moved: false };
    } else {
      this.drag = { kind: "pan", startX: x, startView: this.view, moved: false };
    }
    this.invalidate();
    this.events.onChange();
  }

  private onMove(e: MouseEvent) {
    if (!this.data) return;
    const x = this.localX(e);
    const d = this.drag;
    if (d) {
      if (Math.abs(x - d.startX) > 2) d.moved = true;
      if (!d.moved) return;
      if (d.kind === "beat") {
        const t = this.snapTime(xToTime(this.view, x));
        this.beats = moveBeat(d.orig, d.index, t);
        this.canvas.style.cursor = "ew-resize";
      } else if (d.kind === "ruler") {
        this.loopS = this.rulerRange(d.startX, x);
      } else {
        this.view = scrollBy(d.startView, d.startX - x, this.durationS);
        this.canvas.style.cursor = "grabbing";
      }
      this.invalidate();
      this.events.onCursor(xToTime(this.view, x));
      return;
    }
    if (e.target !== this.canvas) return;
    const hit = hitTestBeat(this.beats.times, this.view, x);
    this.canvas.style.cursor = hit >= 0 ? "ew-resize" : "crosshair";
    if (hit !== this.hover) {
      this.hover = hit;
      this.invalidate();
    }
    this.events.onCursor(xToTime(this.view, x));
  }

  private onUp(e: MouseEvent) {
    const d = this.drag;
    if (!d || e.button !== 0) return;
    this.drag = null;
    this.canvas.style.cursor = "crosshair";
    if (d.kind === "ruler") {
      const x = this.localX(e);
      if (d.moved) {
        this.loopS = this.rulerRange(d.startX, x);
        this.events.onLoopRange?.(this.loopS);
      } else {
        const t = Math.min(Math.max(0, xToTime(this.view, x)), this.durationS);
        this.events.onSeek?.(t);
      }
    } else if (d.kind === "beat") {
      if (d.moved && this.beats.times[d.index] !== d.orig.times[d.index]) {
        const from = d.orig.times[d.index];
        const to = this.beats.times[d.index];
        this.events.onEdit(this.beats, `move beat ${d.index + 1} ${from.toFixed(3)} s -> ${to.toFixed(3)} s`);
      }
    } else if (!d.moved) {
      const t = this.snapTime(xToTime(this.view, this.localX(e)));
      if (t >= 0 && t <= this.durationS) {
        const r = addBeat(this.beats, t, this.beatsPerBar);
        if (r.index >= 0) {
          this.selected = new Set([r.index]);
          this.beats = r.beats;
          this.events.onEdit(r.beats, `add beat at ${t.toFixed(3)} s`);
        }
      }
    } else {
      this.events.onChange();
    }
    this.invalidate();
  }

  private rulerRange(x0: number, x1: number): [number, number] {
    const a = Math.min(Math.max(0, xToTime(this.view, Math.min(x0, x1))), this.durationS);
    const b = Math.min(Math.max(0, xToTime(this.view, Math.max(x0, x1))), this.durationS);
    return [a, b];
  }

  /** Moves the playhead; while following, pages the view so that it stays visible. */
  setPlayhead(t: number | null, playing: boolean) {
    if (t === this.playheadS) return;
    this.playheadS = t;
    if (t !== null && playing && this.follow && !this.drag) {
      const v = this.view;
      const x = timeToX(v, t);
      if (x > v.widthPx * 0.9 || x < 0) this.setView({ ...v, startS: t - (v.widthPx * 0.1) / v.pxPerS });
    }
    this.invalidate();
  }

  private onContext(e: MouseEvent) {
    e.preventDefault();
    if (!this.data) return;
    const hit = hitTestBeat(this.beats.times, this.view, this.localX(e));
    if (hit < 0) return;
    const t = this.beats.times[hit];
    this.beats = removeBeats(this.beats, [hit], this.beatsPerBar);
    this.selected.clear();
    this.hover = -1;
    this.events.onEdit(this.beats, `remove beat at ${t.toFixed(3)} s`);
    this.invalidate();
  }

  private onWheel(e: WheelEvent) {
    if (!this.data) return;
    e.preventDefault();
    const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? this.view.widthPx : 1;
    const dx = e.deltaX * unit;
    const dy = e.deltaY * unit;
    if (e.ctrlKey && !e.shiftKey) {
      // A trackpad pinch (Chromium and WebKitGTK send it as ctrl+wheel with small deltas).
      this.zoomBy(Math.exp(-dy * 0.01), this.localX(e));
    } else if (e.shiftKey || Math.abs(dx) > Math.abs(dy)) {
      this.scroll(e.shiftKey ? dy || dx : dx);
    } else {
      this.zoomBy(Math.exp(-dy * 0.0025), this.localX(e));
    }
  }

  /** Two-finger pinch/pan on a touch screen; one finger is left to the mouse emulation. */
  private onTouch(e: TouchEvent) {
    if (!this.data) return;
    const rect = this.canvas.getBoundingClientRect();
    if (e.touches.length !== 2) {
      this.pinch = null;
      return;
    }
    e.preventDefault();
    const xs: [number, number] = [e.touches[0].clientX - rect.left, e.touches[1].clientX - rect.left];
    if (!this.pinch || e.type === "touchstart") {
      this.pinch = { view: { ...this.view }, x: xs };
      return;
    }
    this.setView(pinchView(this.pinch.view, this.pinch.x, xs, this.durationS, this.limits));
  }

  /** WebKit's trackpad gesture events: `scale` is relative to the gesture's start. */
  private onGesture(e: GestureLike, start: boolean) {
    if (!this.data) return;
    e.preventDefault();
    const x = e.clientX - this.canvas.getBoundingClientRect().left;
    if (start || !this.gesture) {
      this.gesture = { view: { ...this.view }, x };
      return;
    }
    const v = this.gesture.view;
    this.setView(zoomAt(v, e.scale, this.gesture.x, this.durationS, this.limits));
  }

  // ---- drawing ----------------------------------------------------------------------------
  draw() {
    const t0 = performance.now();
    const ctx = this.ctx;
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const W = this.view.widthPx;
    const H = this.heightPx;
    ctx.fillStyle = C.bg;
    ctx.fillRect(0, 0, W, H);
    const L = this.lanes();
    ctx.fillStyle = C.lane;
    ctx.fillRect(0, L.waveTop, W, L.waveH);
    ctx.fillRect(0, L.actTop, W, L.actH);
    ctx.fillRect(0, L.tempoTop, W, L.tempoH);
    ctx.fillStyle = C.laneEdge;
    ctx.fillRect(0, L.actTop - 1, W, 1);
    ctx.fillRect(0, L.tempoTop - 1, W, 1);
    if (this.data) {
      this.drawWave(L.waveTop, L.waveH);
      const curves = this.data.curves.filter((c) => !this.hiddenCurves.has(c.kind));
      if (curves.length && curves[0].fps / this.view.pxPerS > 1) this.rasterCurves(curves, L.actTop, L.actH);
      else for (const c of curves) this.drawCurve(c, L.actTop, L.actH);
      ctx.fillStyle = C.laneEdge;
      ctx.fillRect(0, L.actTop - 1, W, 1);
      this.drawGrid(L.waveTop, H - L.waveTop);
      this.drawSuggestionShade(L.waveTop, H - L.waveTop);
      this.drawGhosts(L.waveTop, L.waveH);
      this.drawTempo(L.tempoTop, L.tempoH);
      this.drawBeats(L.waveTop, H);
      this.drawLaneLabels(L.waveTop, L.actTop);
    }
    this.drawRuler();
    this.drawTransport(H);
    this.lastDrawMs = performance.now() - t0;
  }

  private drawGrid(top: number, h: number) {
    const { majorS } = rulerStep(this.view.pxPerS);
    const ctx = this.ctx;
    ctx.fillStyle = C.grid;
    const start = Math.floor(this.view.startS / majorS) * majorS;
    for (let t = start; timeToX(this.view, t) < this.view.widthPx; t += majorS) {
      ctx.fillRect(Math.round(timeToX(this.view, t)), top, 1, h);
    }
  }

  /** Faint shading over the lanes where a suggestion lies. */
  private drawSuggestionShade(top: number, h: number) {
    const ctx = this.ctx;
    this.suggestions.forEach((sg, i) => {
      const a = timeToX(this.view, sg.startS);
      const b = timeToX(this.view, sg.endS);
      if (b < 0 || a > this.view.widthPx) return;
      ctx.fillStyle = i === this.currentSuggestion ? C.suggestCurrentShade : C.suggestShade;
      ctx.fillRect(a, top, Math.max(2, b - a), h);
    });
  }

  /**
   * Where the previous analysis put beats that are not there any more: dashed, purple; when
   * they stand closer than a few pixels (a re-tracked section, zoomed out), only a mark each
   * at the top of the lane, so that the view is not hatched over.
   */
  private drawGhosts(top: number, h: number) {
    const g = this.ghosts;
    if (!g || !g.length || !this.showGhosts) return;
    const ctx = this.ctx;
    const [i0, i1] = visibleBeats(g, this.view, 10);
    this.ghostLines = !marksTooDense(g, i0, i1, this.view.pxPerS);
    ctx.fillStyle = C.ghost;
    if (!this.ghostLines) {
      for (let i = i0; i < i1; i++) ctx.fillRect(Math.round(timeToX(this.view, g[i])) - 1, top + 1, 3, 4);
      return;
    }
    ctx.strokeStyle = C.ghost;
    ctx.setLineDash([3, 4]);
    ctx.beginPath();
    for (let i = i0; i < i1; i++) {
      const x = Math.round(timeToX(this.view, g[i])) + 0.5;
      ctx.moveTo(x, top);
      ctx.lineTo(x, top + h);
    }
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = C.ghost;
    for (let i = i0; i < i1; i++) {
      const x = Math.round(timeToX(this.view, g[i]));
      ctx.fillRect(x - 3, top + 2, 7, 2);
    }
  }

  /** Local tempo (60 / inter-beat interval) as steps, with the global tempo. */
  private drawTempo(top: number, h: number) {
    const ctx = this.ctx;
    const W = this.view.widthPx;
    const times = this.beats.times;
    const g = globalTempo(times);
    ctx.font = SANS_10;
    ctx.textBaseline = "top";
    ctx.fillStyle = "rgba(139,147,161,0.75)";
    ctx.fillText(g ? `TEMPO · ${g.toFixed(1)} BPM` : "TEMPO", W - 12 - ctx.measureText(g ? `TEMPO · ${g.toFixed(1)} BPM` : "TEMPO").width, top + 3);
    if (!g || times.length < 2) return;
    // Scale: the global tempo in the middle, ±50 % to the edges.
    const y = (bpm: number) => top + h / 2 - ((bpm - g) / g) * h;
    ctx.fillStyle = "rgba(255,255,255,0.06)";
    ctx.fillRect(0, Math.round(y(g)), W, 1);
    const { bpm } = localTempo(times);
    const [i0, i1] = visibleBeats(times, this.view, 40);
    const yc = (v: number) => Math.min(top + h - 2, Math.max(top + 2, y(v)));
    ctx.fillStyle = C.tempo;
    if ((i1 - i0) * 3 > W) {
      // Several intervals per pixel: one min–max bar per pixel column (a long antialiased
      // path costs more than the rest of the frame).
      let col = -1;
      let lo = 0;
      let hi = 0;
      const flush = () => {
        if (col >= 0 && col < W) ctx.fillRect(col, Math.floor(lo), 1, Math.max(1.5, hi - lo));
      };
      for (let i = Math.max(0, i0 - 1); i < Math.min(bpm.length, i1 + 1); i++) {
        const x = Math.floor(timeToX(this.view, times[i]));
        const v = yc(bpm[i]);
        if (x !== col) {
          flush();
          col = x;
          lo = v;
          hi = v;
        } else {
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
      }
      flush();
      return;
    }
    ctx.strokeStyle = C.tempo;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    let started = false;
    for (let i = Math.max(0, i0 - 1); i < Math.min(bpm.length, i1 + 1); i++) {
      const x0 = timeToX(this.view, times[i]);
      const x1 = timeToX(this.view, times[i + 1]);
      const yy = yc(bpm[i]);
      if (started) ctx.lineTo(x0, yy);
      else ctx.moveTo(x0, yy);
      ctx.lineTo(x1, yy);
      started = true;
    }
    ctx.stroke();
    ctx.lineWidth = 1;
  }

  /** Loop band on the ruler and the playhead over every lane. */
  private drawTransport(H: number) {
    const ctx = this.ctx;
    const W = this.view.widthPx;
    if (this.data) {
      this.suggestions.forEach((sg, i) => {
        const a = timeToX(this.view, sg.startS);
        const b = timeToX(this.view, sg.endS);
        if (b < 0 || a > W) return;
        ctx.fillStyle = i === this.currentSuggestion ? C.suggestCurrent : C.suggest;
        ctx.fillRect(a, RULER_H - 5, Math.max(3, b - a), 4);
      });
    }
    if (this.loopS && this.data) {
      const a = timeToX(this.view, this.loopS[0]);
      const b = timeToX(this.view, this.loopS[1]);
      if (b >= 0 && a <= W) {
        ctx.fillStyle = C.loop;
        ctx.fillRect(a, 0, Math.max(1, b - a), RULER_H - 1);
        ctx.fillStyle = C.loopShade;
        ctx.fillRect(a, RULER_H, Math.max(1, b - a), H - RULER_H);
        ctx.fillStyle = C.loopEdge;
        ctx.fillRect(Math.round(a), 0, 1, H);
        ctx.fillRect(Math.round(b), 0, 1, H);
      }
    }
    if (this.playheadS !== null && this.data) {
      const x = Math.round(timeToX(this.view, this.playheadS));
      if (x >= -6 && x <= W + 6) {
        ctx.fillStyle = C.playhead;
        ctx.fillRect(x - 1, RULER_H, 2, H - RULER_H);
        ctx.beginPath();
        ctx.moveTo(x - 6, 0);
        ctx.lineTo(x + 6, 0);
        ctx.lineTo(x, 9);
        ctx.closePath();
        ctx.fill();
      }
    }
  }

  private drawRuler() {
    const ctx = this.ctx;
    const W = this.view.widthPx;
    ctx.fillStyle = C.ruler;
    ctx.fillRect(0, 0, W, RULER_H);
    ctx.fillStyle = C.laneEdge;
    ctx.fillRect(0, RULER_H - 1, W, 1);
    if (!this.data) return;
    this.drawChecked();
    const { majorS, minorS } = rulerStep(this.view.pxPerS);
    ctx.fillStyle = C.tick;
    const t0 = Math.floor(this.view.startS / minorS) * minorS;
    for (let k = 0; ; k++) {
      const t = t0 + k * minorS;
      const x = Math.round(timeToX(this.view, t));
      if (x > W) break;
      ctx.fillRect(x, RULER_H - 6, 1, 5);
    }
    ctx.font = MONO_11;
    ctx.textBaseline = "middle";
    const m0 = Math.floor(this.view.startS / majorS) * majorS;
    for (let k = 0; ; k++) {
      const t = m0 + k * majorS;
      const x = Math.round(timeToX(this.view, t));
      if (x > W) break;
      ctx.fillStyle = "#59606c";
      ctx.fillRect(x, 4, 1, RULER_H - 5);
      ctx.fillStyle = C.rulerText;
      ctx.fillText(formatTime(Math.max(0, t), majorS), x + 4, RULER_H / 2 - 1);
    }
  }

  /** The checked spans: a green band along the top of the ruler over a faint green wash. */
  private drawChecked() {
    const ctx = this.ctx;
    const W = this.view.widthPx;
    for (const [s0, s1] of this.checkedSpans) {
      const a = timeToX(this.view, s0);
      const b = timeToX(this.view, s1);
      if (b < -2 || a > W + 2) continue;
      const w = Math.max(2, b - a);
      ctx.fillStyle = C.checkedWash;
      ctx.fillRect(a, 0, w, RULER_H - 1);
      ctx.fillStyle = C.checked;
      ctx.fillRect(a, 0, w, 4);
    }
  }

  private drawWave(top: number, h: number) {
    const data = this.data!;
    const ctx = this.ctx;
    const mid = top + h / 2;
    const amp = (h / 2 - 4) * this.waveScale;
    ctx.fillStyle = "rgba(74,163,223,0.18)";
    ctx.fillRect(0, Math.round(mid), this.view.widthPx, 1);
    const li = chooseLevel(data.levels, data.sampleRateHz, this.view.pxPerS);
    if (li < 0) {
      ctx.fillStyle = C.rulerText;
      ctx.font = "12px system-ui, sans-serif";
      ctx.fillText("waveform unavailable (audio file missing or changed)", 12, mid);
      return;
    }
    const level = data.levels[li];
    const binsPerS = data.sampleRateHz / level.block;
    const n = level.minMax.length / 2;
    const mm = level.minMax;
    const W = this.view.widthPx;
    const binPx = this.view.pxPerS / binsPerS;
    if (binPx > 2) {
      // A solid fill: gradients make software rasterisers several times slower.
      ctx.fillStyle = C.wave;
      // Zoomed past the finest level: an envelope through bin centres.
      const b0 = Math.max(0, Math.floor(this.view.startS * binsPerS) - 1);
      const b1 = Math.min(n, Math.ceil((this.view.startS + W / this.view.pxPerS) * binsPerS) + 1);
      if (b1 <= b0) return;
      ctx.beginPath();
      for (let b = b0; b < b1; b++) ctx.lineTo(timeToX(this.view, (b + 0.5) / binsPerS), mid - mm[2 * b + 1] * amp);
      for (let b = b1 - 1; b >= b0; b--) ctx.lineTo(timeToX(this.view, (b + 0.5) / binsPerS), mid - mm[2 * b] * amp);
      ctx.closePath();
      ctx.fill();
      return;
    }
    this.rasterWave(top, h, mm, n, binsPerS, amp);
  }

  /**
   * Per-pixel-column waveform written straight into an ImageData: a software-rendered canvas
   * rasterises thousands of antialiased rectangles or a jagged polygon slowly (20–70 ms for a
   * whole song); writing the columns ourselves costs ~1 ms.
   */
  private rasterWave(top: number, h: number, mm: Float32Array, n: number, binsPerS: number, amp: number) {
    const dpr = window.devicePixelRatio || 1;
    const wd = this.canvas.width;
    const y0 = Math.round(top * dpr);
    const hd = Math.max(1, Math.round((top + h) * dpr) - y0);
    const img = this.image(0, wd, hd);
    const px = new Uint32Array(img.data.buffer);
    px.fill(LANE_RGBA);
    const colors = this.waveColors(hd);
    const mid = hd / 2;
    const a = amp * dpr;
    const centre = Math.floor(mid);
    for (let x = 0; x < wd; x++) px[centre * wd + x] = CENTRE_RGBA;
    for (let x = 0; x < wd; x++) {
      const ta = xToTime(this.view, x / dpr);
      const tb = xToTime(this.view, (x + 1) / dpr);
      let b0 = Math.floor(ta * binsPerS);
      let b1 = Math.ceil(tb * binsPerS);
      if (b1 <= 0 || b0 >= n) continue;
      b0 = Math.max(0, b0);
      b1 = Math.min(n, Math.max(b1, b0 + 1));
      let lo = Infinity;
      let hi = -Infinity;
      for (let b = b0; b < b1; b++) {
        if (mm[2 * b] < lo) lo = mm[2 * b];
        if (mm[2 * b + 1] > hi) hi = mm[2 * b + 1];
      }
      const yTop = Math.max(0, Math.min(centre, Math.floor(mid - hi * a)));
      const yBot = Math.min(hd - 1, Math.max(centre, Math.ceil(mid - lo * a)));
      for (let y = yTop; y <= yBot; y++) px[y * wd + x] = colors[y];
    }
    this.ctx.putImageData(img, 0, y0);
  }

  /** Activation curves at zooms where a pixel holds several frames, rasterised like the wave. */
  private rasterCurves(curves: CurveData[], top: number, h: number) {
    const dpr = window.devicePixelRatio || 1;
    const wd = this.canvas.width;
    const y0 = Math.round(top * dpr);
    const hd = Math.max(1, Math.round((top + h) * dpr) - y0);
    const img = this.image(1, wd, hd);
    const px = new Uint32Array(img.data.buffer);
    px.fill(LANE_RGBA);
    const base = hd - Math.round(2 * dpr);
    curves.forEach((c, ci) => {
      const style = curveStyle(c.kind);
      const line = rgba(style.color, 1);
      const fill = ci === 0 ? blend(LANE_RGBA, style.color, 0.22) : 0;
      const v = c.values;
      const n = v.length;
      const scale = (hd - 10 * dpr) / Math.max(this.curvePeak(c), 1e-9);
      let prev = -1;
      for (let x = 0; x < wd; x++) {
        const k0 = Math.max(0, Math.floor(xToTime(this.view, x / dpr) * c.fps));
        const k1 = Math.min(n, Math.ceil(xToTime(this.view, (x + 1) / dpr) * c.fps));
        if (k1 <= k0) {
          prev = -1;
          continue;
        }
        let hi = 0;
        for (let k = k0; k < k1; k++) if (v[k] > hi) hi = v[k];
        const y = Math.max(0, Math.min(base, Math.round(base - hi * scale)));
        if (fill) for (let yy = y + 1; yy <= base; yy++) px[yy * wd + x] = fill;
        const ya = prev < 0 ? y : Math.min(prev, y);
        const yb = prev < 0 ? y : Math.max(prev, y);
        for (let yy = ya; yy <= yb; yy++) px[yy * wd + x] = line;
        prev = y;
      }
    });
    this.ctx.putImageData(img, 0, y0);
  }

  private images: (ImageData | null)[] = [null, null];
  private image(slot: number, w: number, h: number): ImageData {
    const img = this.images[slot];
    if (img && img.width === w && img.height === h) return img;
    const fresh = new ImageData(w, h);
    this.images[slot] = fresh;
    return fresh;
  }

  private waveColorCache: Uint32Array | null = null;
  /** Vertical gradient of the waveform (lighter at the peaks), one colour per pixel row. */
  private waveColors(hd: number): Uint32Array {
    if (this.waveColorCache?.length === hd) return this.waveColorCache;
    const out = new Uint32Array(hd);
    for (let y = 0; y < hd; y++) {
      const f = Math.abs(y - hd / 2) / (hd / 2);
      out[y] = mix(C.wave, C.waveCore, Math.min(1, f * 1.2));
    }
    this.waveColorCache = out;
    return out;
  }

  private peakCache = new WeakMap<Float32Array, number>();
  private curvePeak(c: CurveData): number {
    let p = this.peakCache.get(c.values);
    if (p === undefined) {
      p = 0;
      for (const v of c.values) if (v > p) p = v;
      this.peakCache.set(c.values, p);
    }
    return p;
  }

  private drawCurve(c: CurveData, top: number, h: number) {
    const ctx = this.ctx;
    const style = curveStyle(c.kind);
    const v = c.values;
    const n = v.length;
    if (n === 0) return;
    const peak = this.curvePeak(c);
    const scale = peak > 0 ? (h - 10) / peak : 0;
    const base = top + h - 2;
    const W = this.view.widthPx;
    const framesPerPx = c.fps / this.view.pxPerS;
    ctx.beginPath();
    ctx.moveTo(0, base);
    if (framesPerPx > 1) {
      for (let x = 0; x < W; x++) {
        const k0 = Math.max(0, Math.floor(xToTime(this.view, x) * c.fps));
        const k1 = Math.min(n, Math.ceil(xToTime(this.view, x + 1) * c.fps));
        let hi = 0;
        for (let k = k0; k < k1; k++) if (v[k] > hi) hi = v[k];
        ctx.lineTo(x, base - hi * scale);
      }
      ctx.lineTo(W, base);
    } else {
      const k0 = Math.max(0, Math.floor(this.view.startS * c.fps) - 1);
      const k1 = Math.min(n, Math.ceil((this.view.startS + W / this.view.pxPerS) * c.fps) + 2);
      if (k1 <= k0) return;
      ctx.lineTo(timeToX(this.view, k0 / c.fps), base);
      for (let k = k0; k < k1; k++) ctx.lineTo(timeToX(this.view, k / c.fps), base - v[k] * scale);
      ctx.lineTo(timeToX(this.view, (k1 - 1) / c.fps), base);
    }
    ctx.closePath();
    ctx.fillStyle = style.fill;
    ctx.fill();
    ctx.strokeStyle = style.color;
    ctx.lineWidth = 1.25;
    ctx.stroke();
    if (framesPerPx < 0.08) {
      // Frame dots when a frame is wider than ~12 px.
      ctx.fillStyle = style.color;
      const k0 = Math.max(0, Math.floor(this.view.startS * c.fps));
      const k1 = Math.min(n, Math.ceil((this.view.startS + W / this.view.pxPerS) * c.fps) + 1);
      for (let k = k0; k < k1; k++) ctx.fillRect(timeToX(this.view, k / c.fps) - 1.5, base - v[k] * scale - 1.5, 3, 3);
    }
  }

  private drawBeats(top: number, bottom: number) {
    const ctx = this.ctx;
    const times = this.beats.times;
    const [i0, i1] = visibleBeats(times, this.view);
    const pos = displayPositions(this.beats, this.beatsPerBar);
    const dense = i1 - i0 > this.view.widthPx / 6;
    // Bar numbers count downbeats from the start of the song; a meter change is labelled with
    // its meter (3/4) beside the bar number.
    const meterAt = new Map(meterSections(pos, this.beatsPerBar).slice(1).map((s) => [s.start, s.beatsPerBar]));
    let bar = 0;
    for (let i = 0; i < i0; i++) if (pos[i] === 1) bar++;
    ctx.font = MONO_10;
    ctx.textBaseline = "top";
    let lastLabelX = -1e9;
    // Labels go on top of every handle, so they are drawn after the loop.
    const labels: [string, number, string][] = [];
    for (let i = i0; i < i1; i++) {
      const x = Math.round(timeToX(this.view, times[i])) + 0.5;
      const isDown = pos[i] === 1;
      if (isDown) bar++;
      const sel = this.selected.has(i);
      const color = sel ? C.selected : i === this.hover ? C.hover : isDown ? C.downbeat : C.beat;
      ctx.fillStyle = color;
      if (dense && !sel) {
        // Too many beats to edit at this zoom: ticks in a strip under the ruler, so the
        // waveform and the curve stay readable.
        ctx.globalAlpha = isDown ? 0.9 : 0.45;
        ctx.fillRect(x - 0.5, top, 1, isDown ? 12 : 7);
        ctx.globalAlpha = 1;
        continue;
      }
      const w = sel ? 2 : 1;
      if (isDown && !sel) ctx.globalAlpha = 0.85;
      ctx.fillRect(x - w / 2, top, w, bottom - top);
      ctx.globalAlpha = 1;
      if (dense) continue;
      ctx.beginPath();
      ctx.moveTo(x - HANDLE, top);
      ctx.lineTo(x + HANDLE, top);
      ctx.lineTo(x, top + HANDLE + 2);
      ctx.closePath();
      ctx.fill();
      if (isDown && x - lastLabelX > 28) {
        const m = meterAt.get(i);
        labels.push([m === undefined ? String(bar) : `${bar} · ${m}/4`, x, sel ? C.selected : C.label]);
        lastLabelX = x;
      }
    }
    for (const [text, x, color] of labels) {
      ctx.fillStyle = color;
      ctx.fillText(text, x + 4, top + 3);
    }
  }

  private drawLaneLabels(waveTop: number, actTop: number) {
    const ctx = this.ctx;
    ctx.font = SANS_10;
    ctx.textBaseline = "top";
    ctx.fillStyle = "rgba(139,147,161,0.75)";
    ctx.fillText("WAVEFORM", this.view.widthPx - 70, waveTop + 6);
    const labels = this.data!.curves.filter((c) => !this.hiddenCurves.has(c.kind)).map((c) => curveStyle(c.kind).label);
    const text = labels.length ? `ACTIVATION · ${labels.join(" · ")}` : "ACTIVATION (hidden)";
    ctx.fillText(text.toUpperCase(), this.view.widthPx - 12 - ctx.measureText(text.toUpperCase()).width, actTop + 6);
  }

  // ---- benchmarking -----------------------------------------------------------------------
  /**
   * Times `draw()` at several zoom levels, scrolling through the song; returns the median,
   * 95th percentile and max per zoom in ms (max includes GC and scheduler pauses).
   */
  benchmark(rounds = 20): BenchRow[] {
    const saved = this.view;
    const lim = this.limits;
    const out: BenchRow[] = [];
    const zooms: [string, number][] = [
      ["whole song", lim.minPxPerS],
      ["30 s", this.view.widthPx / 30],
      ["2 s", this.view.widthPx / 2],
      ["single frames", lim.maxPxPerS],
    ];
    // Warm-up: the first draws after loading a song pay for JIT and for collecting the
    // garbage of the load; what we measure is the steady state of zooming and scrolling.
    for (let w = 0; w < 3; w++) {
      for (const [, pxPerS] of zooms) {
        this.view = clampView({ ...saved, pxPerS, startS: (this.durationS * w) / 3 }, this.durationS);
        this.draw();
        this.ctx.getImageData(0, 0, 1, 1);
      }
    }
    for (const [name, pxPerS] of zooms) {
      const ms: number[] = [];
      const js: number[] = [];
      for (let r = 0; r < rounds; r++) {
        this.view = clampView({ ...saved, pxPerS, startS: (this.durationS * r) / rounds }, this.durationS);
        // Reading a pixel forces the browser to rasterise the recorded drawing now, so each
        // sample is the whole cost of one frame (recording + rasterisation).
        const t0 = performance.now();
        this.draw();
        js.push(this.lastDrawMs);
        this.ctx.getImageData(0, 0, 1, 1);
        ms.push(performance.now() - t0);
      }
      ms.sort((a, b) => a - b);
      js.sort((a, b) => a - b);
      const q = (v: number[], f: number) => v[Math.min(v.length - 1, Math.floor(f * v.length))];
      out.push({ zoom: name, medianMs: q(ms, 0.5), p95Ms: q(ms, 0.95), maxMs: ms[ms.length - 1], scriptMedianMs: q(js, 0.5) });
    }
    this.view = saved;
    this.draw();
    return out;
  }
}

/** One zoom level of [`Timeline.benchmark`]: whole frame (script + rasterisation) and script only. */
export interface BenchRow {
  zoom: string;
  medianMs: number;
  p95Ms: number;
  maxMs: number;
  scriptMedianMs: number;
}

/** A synthetic timeline (noise waveform pyramid, pulsing curve, 120 BPM beats) for benchmarks. */
export function syntheticTimeline(durationS: number, sampleRateHz = 44100): { data: TimelineData; beats: Beats } {
  const levels = [];
  let block = 32;
  let n = Math.ceil((durationS * sampleRateHz) / block);
  let prev: Float32Array | null = null;
  while (true) {
    const mm = new Float32Array(2 * n);
    for (let b = 0; b < n; b++) {
      if (prev) {
        let lo = Infinity;
        let hi = -Infinity;
        for (let j = 4 * b; j < Math.min(4 * b + 4, prev.length / 2); j++) {
          lo = Math.min(lo, prev[2 * j]);
          hi = Math.max(hi, prev[2 * j + 1]);
        }
        mm[2 * b] = lo;
        mm[2 * b + 1] = hi;
      } else {
        const a = 0.3 + 0.6 * Math.abs(Math.sin(b * 0.0007));
        mm[2 * b] = -a * Math.random();
        mm[2 * b + 1] = a * Math.random();
      }
    }
    levels.push({ block, minMax: mm });
    if (n <= 512) break;
    prev = mm;
    block *= 4;
    n = Math.ceil(n / 4);
  }
  const fps = 62.5;
  const values = new Float32Array(Math.ceil(durationS * fps));
  for (let k = 0; k < values.length; k++) values[k] = Math.pow(Math.max(0, Math.cos((Math.PI * 2 * k) / 31.25)), 8);
  const times = Float64Array.from({ length: Math.floor(durationS * 2) }, (_, i) => i * 0.5 + 0.25);
  return {
    data: { durationS, sampleRateHz, levels, curves: [{ kind: "max", fps, values }] },
    beats: { times, positions: null },
  };
}

