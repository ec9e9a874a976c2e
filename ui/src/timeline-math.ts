// Pure timeline maths: no DOM, no Tauri. Everything here is unit-tested (timeline-math.test.ts).

import { repositioned, type Beats } from "./bars";

export type { Beats };

/** What part of the song the timeline shows. */
export interface Viewport {
  /** Time at the left edge, seconds. */
  startS: number;
  /** Zoom: pixels per second. */
  pxPerS: number;
  /** Width of the drawing area, CSS pixels. */
  widthPx: number;
}

/** Zoom limits for a song. */
export interface ZoomLimits {
  /** Whole song in the view. */
  minPxPerS: number;
  /** Two analysis frames across the view. */
  maxPxPerS: number;
}

export const timeToX = (v: Viewport, t: number): number => (t - v.startS) * v.pxPerS;
export const xToTime = (v: Viewport, x: number): number => v.startS + x / v.pxPerS;
export const endS = (v: Viewport): number => v.startS + v.widthPx / v.pxPerS;

/** Zoom limits: from the whole song (with nothing hidden) down to two frames of `fps`. */
export function zoomLimits(durationS: number, widthPx: number, fps: number): ZoomLimits {
  const d = Math.max(durationS, 1e-3);
  const minPxPerS = widthPx / d;
  const maxPxPerS = Math.max(minPxPerS, (widthPx * fps) / 2);
  return { minPxPerS, maxPxPerS };
}

/** Keeps the view inside the song (a song shorter than the view starts at 0). */
export function clampView(v: Viewport, durationS: number): Viewport {
  const span = v.widthPx / v.pxPerS;
  const maxStart = Math.max(0, durationS - span);
  return { ...v, startS: Math.min(Math.max(v.startS, 0), maxStart) };
}

/** The whole song. */
export function fitView(durationS: number, widthPx: number): Viewport {
  return { startS: 0, pxPerS: widthPx / Math.max(durationS, 1e-3), widthPx };
}

/**
 * Zooms by `factor` (> 1 zooms in) keeping the time under `anchorX` under it, within `limits`,
 * then clamps to the song.
 */
export function zoomAt(
  v: Viewport,
  factor: number,
  anchorX: number,
  durationS: number,
  limits: ZoomLimits,
): Viewport {
  const t = xToTime(v, anchorX);
  const pxPerS = Math.min(Math.max(v.pxPerS * factor, limits.minPxPerS), limits.maxPxPerS);
  return clampView({ ...v, pxPerS, startS: t - anchorX / pxPerS }, durationS);
}

/**
 * A two-finger pinch on the timeline: the times under the two fingers when the gesture began
 * (`startX`, in `start`'s view) stay under the fingers where they are now (`nowX`), so one
 * gesture zooms and scrolls at once, as a map does. Fingers that started closer than
 * `minSpanPx` only scroll with their midpoint. The zoom is kept within `limits`.
 */
export function pinchView(
  start: Viewport,
  startX: [number, number],
  nowX: [number, number],
  durationS: number,
  limits: ZoomLimits,
  minSpanPx = 24,
): Viewport {
  const [a0, b0] = startX[0] <= startX[1] ? startX : [startX[1], startX[0]];
  const [a1, b1] = startX[0] <= startX[1] ? nowX : [nowX[1], nowX[0]];
  const ta = xToTime(start, a0);
  const tb = xToTime(start, b0);
  if (b0 - a0 < minSpanPx) {
    const mid0 = 0.5 * (a0 + b0);
    const mid1 = 0.5 * (a1 + b1);
    return clampView({ ...start, startS: xToTime(start, mid0) - mid1 / start.pxPerS }, durationS);
  }
  const span = Math.max(b1 - a1, 1); // fingers pinched together (or crossed): zoom out fully
  const pxPerS = Math.min(Math.max(span / (tb - ta), limits.minPxPerS), limits.maxPxPerS);
  // Clamped zoom: keep the midpoint's time under the fingers' midpoint.
  const tMid = 0.5 * (ta + tb);
  const xMid = 0.5 * (a1 + b1);
  return clampView({ ...start, pxPerS, startS: tMid - xMid / pxPerS }, durationS);
}

/** Scrolls by `dxPx` pixels (positive: later in the song). */
export function scrollBy(v: Viewport, dxPx: number, durationS: number): Viewport {
  return clampView({ ...v, startS: v.startS + dxPx / v.pxPerS }, durationS);
}

/** Centres the view on `t` if `t` is outside it (with a margin), else leaves it. */
export function ensureVisible(v: Viewport, t: number, durationS: number, marginPx = 40): Viewport {
  const x = timeToX(v, t);
  if (x >= marginPx && x <= v.widthPx - marginPx) return v;
  return clampView({ ...v, startS: t - v.widthPx / (2 * v.pxPerS) }, durationS);
}

/** Index of the first element >= t in a sorted array (binary search). */
export function lowerBound(sorted: ArrayLike<number>, t: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the element nearest to t, or -1 for an empty array. */
export function nearestIndex(sorted: ArrayLike<number>, t: number): number {
  if (sorted.length === 0) return -1;
  const i = lowerBound(sorted, t);
  if (i === 0) return 0;
  if (i === sorted.length) return sorted.length - 1;
  return t - sorted[i - 1] <= sorted[i] - t ? i - 1 : i;
}

/** The beat within `tolPx` pixels of `x`, nearest first; -1 if none. */
export function hitTestBeat(beats: ArrayLike<number>, v: Viewport, x: number, tolPx = 6): number {
  const i = nearestIndex(beats, xToTime(v, x));
  if (i < 0) return -1;
  return Math.abs(timeToX(v, beats[i]) - x) <= tolPx ? i : -1;
}

/** Range [first, last) of beats inside the view (plus `padPx` either side). */
export function visibleBeats(beats: ArrayLike<number>, v: Viewport, padPx = 10): [number, number] {
  const t0 = xToTime(v, -padPx);
  const t1 = xToTime(v, v.widthPx + padPx);
  return [lowerBound(beats, t0), lowerBound(beats, t1)];
}

/**
 * Whether the marks at `times[i0..i1)` stand too close to draw each as a full-height line
 * (the median gap under `minGapPx` at `pxPerS`): a whole-song view of a re-tracked section
 * would be hatched over. Each then gets only a short mark at the top of the lane.
 */
export function marksTooDense(times: ArrayLike<number>, i0: number, i1: number, pxPerS: number, minGapPx = 16): boolean {
  if (i1 - i0 < 3) return false;
  const gaps: number[] = [];
  for (let i = i0 + 1; i < i1; i++) gaps.push((times[i] - times[i - 1]) * pxPerS);
  gaps.sort((a, b) => a - b);
  return gaps[gaps.length >> 1] < minGapPx;
}

/**
 * The activation peak nearest to `t` within ±`radiusS`: the largest local maximum of `curve`
 * (sampled at `fps`, frame k at k/fps) in the window, refined by parabolic interpolation.
 * Returns `t` unchanged when the window holds no local maximum.
 */
export function snapToPeak(curve: ArrayLike<number>, fps: number, t: number, radiusS: number): number {
  const n = curve.length;
  if (n < 3 || fps <= 0) return t;
  const k0 = Math.max(1, Math.ceil((t - radiusS) * fps));
  const k1 = Math.min(n - 2, Math.floor((t + radiusS) * fps));
  let best = -1;
  for (let k = k0; k <= k1; k++) {
    const c = curve[k];
    if (c >= curve[k - 1] && c > curve[k + 1] && (best < 0 || c > curve[best])) best = k;
  }
  if (best < 0) return t;
  const a = curve[best - 1];
  const b = curve[best];
  const c = curve[best + 1];
  const denom = a - 2 * b + c;
  const offset = denom < 0 ? (0.5 * (a - c)) / denom : 0;
  return (best + Math.max(-0.5, Math.min(0.5, offset))) / fps;
}

/** A pyramid level as the wire sends it: `block` samples per min/max bin. */
export interface LevelInfo {
  block: number;
}

/**
 * The coarsest level whose bins are at most one pixel wide (so each pixel column merges
 * whole bins); the finest level when even its bins are wider than a pixel. -1 for none.
 */
export function chooseLevel(levels: LevelInfo[], sampleRateHz: number, pxPerS: number): number {
  if (levels.length === 0 || sampleRateHz <= 0) return -1;
  const samplesPerPx = sampleRateHz / pxPerS;
  let chosen = 0;
  for (let i = 0; i < levels.length; i++) {
    if (levels[i].block <= samplesPerPx) chosen = i;
  }
  return chosen;
}

/** Ruler spacing: a 1-2-5 step in seconds with major ticks at least `minMajorPx` apart. */
export function rulerStep(pxPerS: number, minMajorPx = 90): { majorS: number; minorS: number } {
  const target = minMajorPx / pxPerS;
  const candidates = [1, 2, 5];
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600];
  if (target >= 1) {
    const s = steps.find((x) => x >= target) ?? Math.ceil(target / 600) * 600;
    const minor = s >= 60 ? s / 6 : s / 5;
    return { majorS: s, minorS: minor };
  }
  let p = Math.pow(10, Math.floor(Math.log10(target)));
  for (;;) {
    for (const c of candidates) {
      if (c * p >= target) {
        const majorS = c * p;
        return { majorS, minorS: c === 2 ? majorS / 4 : majorS / 5 };
      }
    }
    p *= 10;
  }
}

/** `m:ss.fff` with as many decimals as the step needs. */
export function formatTime(t: number, stepS = 1): string {
  const decimals = stepS >= 1 ? 0 : Math.min(4, Math.ceil(-Math.log10(stepS) - 1e-9));
  const sign = t < 0 ? "-" : "";
  const a = Math.abs(t);
  const m = Math.floor(a / 60);
  const s = a - 60 * m;
  const sText = s.toFixed(decimals);
  const [whole, frac] = sText.split(".");
  const padded = whole.padStart(2, "0") + (frac !== undefined ? "." + frac : "");
  return `${sign}${m}:${padded}`;
}

/** Smallest gap kept between two beats by edits (1 ms: below any format's resolution). */
export const MIN_GAP_S = 0.001;

/** Adds a beat at `t` (ignored within MIN_GAP_S of another). Returns the beats and its index. */
export function addBeat(b: Beats, t: number, bpb: number): { beats: Beats; index: number } {
  const i = lowerBound(b.times, t);
  const tooClose =
    (i > 0 && t - b.times[i - 1] < MIN_GAP_S) || (i < b.times.length && b.times[i] - t < MIN_GAP_S);
  if (tooClose || t < 0) return { beats: b, index: -1 };
  const times = new Float64Array(b.times.length + 1);
  times.set(b.times.subarray(0, i), 0);
  times[i] = t;
  times.set(b.times.subarray(i), i + 1);
  const from = Int32Array.from(times, (_, k) => (k < i ? k : k === i ? -1 : k - 1));
  return { beats: { times, positions: repositioned(b, times, from, i, i + 1, bpb) }, index: i };
}

/** Removes the beats at `indices`. */
export function removeBeats(b: Beats, indices: number[], bpb: number): Beats {
  const drop = new Set(indices);
  const keptIdx: number[] = [];
  for (let i = 0; i < b.times.length; i++) if (!drop.has(i)) keptIdx.push(i);
  const times = Float64Array.from(keptIdx, (i) => b.times[i]);
  const from = Int32Array.from(keptIdx);
  // The edit sits where the first removed beat was.
  const first = Math.min(...indices.filter((i) => i >= 0 && i < b.times.length));
  const at = Number.isFinite(first) ? keptIdx.filter((i) => i < first).length : times.length;
  return { times, positions: repositioned(b, times, from, at, at, bpb) };
}

/**
 * Moves beat `i` to `t`, kept strictly between its neighbours (MIN_GAP_S away), so the order
 * and the positions never change.
 */
export function moveBeat(b: Beats, i: number, t: number): Beats {
  if (i < 0 || i >= b.times.length) return b;
  const lo = i > 0 ? b.times[i - 1] + MIN_GAP_S : 0;
  const hi = i < b.times.length - 1 ? b.times[i + 1] - MIN_GAP_S : Number.POSITIVE_INFINITY;
  const times = b.times.slice();
  times[i] = Math.min(Math.max(t, lo), hi);
  return { times, positions: b.positions };
}

/** Moves the beats at `indices` by `dt`, each kept between its neighbours. */
export function nudgeBeats(b: Beats, indices: number[], dt: number): Beats {
  const sorted = [...indices].sort((x, y) => (dt > 0 ? y - x : x - y));
  let out = b;
  for (const i of sorted) out = moveBeat(out, i, out.times[i] + dt);
  return out;
}

// ---- suggestions: where the user should look first ----------------------------------------

/** A region where the beats are least trustworthy. */
export interface Suggestion {
  startS: number;
  endS: number;
  /** What makes it doubtful, in words. */
  reason: string;
  /** Beats involved. */
  beats: number;
}

function median(xs: number[]): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : 0.5 * (s[m - 1] + s[m]);
}

/** Maximal runs `[i, j]` of consecutive indices below `n` where `flagged` holds, at least `minLen` long. */
function runsWhere(n: number, flagged: (i: number) => boolean, minLen: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < n; ) {
    if (!flagged(i)) {
      i++;
      continue;
    }
    let j = i;
    while (j + 1 < n && flagged(j + 1)) j++;
    if (j - i + 1 >= minLen) out.push([i, j]);
    i = j + 1;
  }
  return out;
}

/**
 * How strongly the activation supports each beat: the curve's maximum within ±`radiusFrames`
 * of the beat, divided by the median of that over the song (1 = a typical beat).
 */
export function beatStrengths(
  times: ArrayLike<number>,
  curve: ArrayLike<number>,
  fps: number,
  radiusFrames = 2,
  normalise = true,
): Float64Array {
  const raw = new Float64Array(times.length);
  for (let i = 0; i < times.length; i++) {
    const k = Math.round(times[i] * fps);
    let m = 0;
    for (let j = Math.max(0, k - radiusFrames); j <= Math.min(curve.length - 1, k + radiusFrames); j++) m = Math.max(m, curve[j]);
    raw[i] = m;
  }
  const med = median(Array.from(raw));
  if (normalise && med > 0) for (let i = 0; i < raw.length; i++) raw[i] /= med;
  return raw;
}

/**
 * Regions to check first, in time order: runs of at least `minRun` consecutive beats the
 * activation barely supports (strength below `weak` × the song's typical beat: the tracker
 * bridged a stretch with nothing to go on; a single quiet beat inside a steady pulse is
 * usually right and is not flagged), beats more than `uneven` of the interval away from the
 * midpoint of their neighbours (a misplaced beat in a steady pulse), and places where the inter-beat
 * interval jumps away from its local median by more than `tempoTol` (a missing, extra or
 * misplaced beat). With `previous` (the analysis before a re-tracking, e.g. by a fine-tuned
 * model), also runs of at least `minMoved` consecutive beats that have no previous beat within
 * `movedTol` s: a section where the two models disagree, so one of them is wrong there (half a
 * beat apart: one is on the off-beat). Overlapping regions are merged.
 */
export function suggestRegions(
  times: ArrayLike<number>,
  curve: ArrayLike<number> | null,
  fps: number,
  opts: {
    weak?: number;
    tempoTol?: number;
    context?: number;
    minRun?: number;
    uneven?: number;
    previous?: ArrayLike<number> | null;
    minMoved?: number;
    movedTol?: number;
    /** The network's downbeat curve and the beats' bar positions: flag bars it disagrees with. */
    downbeat?: { curve: ArrayLike<number>; fps: number; positions: ArrayLike<number> } | null;
  } = {},
): Suggestion[] {
  const weak = opts.weak ?? 0.35;
  const minRun = opts.minRun ?? 2;
  const uneven = opts.uneven ?? 0.08;
  const tempoTol = opts.tempoTol ?? 0.2;
  const context = opts.context ?? 8;
  const n = times.length;
  if (n < 4) return [];
  const ibis: number[] = [];
  for (let i = 1; i < n; i++) ibis.push(times[i] - times[i - 1]);
  const half = (i: number) => 0.5 * (ibis[Math.min(Math.max(i, 0), ibis.length - 1)] ?? 0.25);
  const raw: Suggestion[] = [];
  if (curve && curve.length) {
    const s = beatStrengths(times, curve, fps);
    for (const [i, j] of runsWhere(n, (k) => s[k] < weak, minRun)) {
      raw.push({ startS: times[i] - half(i - 1), endS: times[j] + half(j), reason: "weak activation", beats: j - i + 1 });
    }
  }
  for (let i = 0; i < ibis.length; i++) {
    const local = median(ibis.slice(Math.max(0, i - context), Math.min(ibis.length, i + context + 1)));
    if (local <= 0) continue;
    const r = ibis[i] / local;
    if (r < 1 - tempoTol || r > 1 + tempoTol) {
      raw.push({
        startS: times[i] - half(i - 1),
        endS: times[i + 1] + half(i + 1),
        reason: r > 1 ? "gap: a beat may be missing" : "beats too close: an extra beat?",
        beats: 2,
      });
    }
  }
  const prev = opts.previous;
  if (prev && prev.length >= 2) {
    const minMoved = opts.minMoved ?? 4;
    const tol = opts.movedTol ?? 0.07;
    for (const [i, j] of runsWhere(n, (k) => !hasBeatNear(prev, times[k], tol), minMoved)) {
      // Where the beats sit between the previous ones: ~0.5 = the other half of the beat.
      const phases: number[] = [];
      for (let k = i; k <= j; k++) {
        const b = lowerBound(prev, times[k]);
        if (b >= 1 && b < prev.length && prev[b] > prev[b - 1]) phases.push((times[k] - prev[b - 1]) / (prev[b] - prev[b - 1]));
      }
      const offBeat = phases.length > 0 && Math.abs(median(phases) - 0.5) < 0.15;
      raw.push({
        startS: times[i] - half(i - 1),
        endS: times[j] + half(j),
        reason: offBeat
          ? "half a beat from the previous analysis: one of them is on the off-beat (if the previous one was right here, learn again with “only where the music resembles my corrections”)"
          : "moved since the previous analysis: the models disagree here",
        beats: j - i + 1,
      });
    }
  }
  if (opts.downbeat) {
    const d = opts.downbeat;
    raw.push(...barDisagreements(times, d.positions, d.curve, d.fps));
  }
  // A beat away from the midpoint of its neighbours (a steady pulse puts it there).
  for (let i = 1; i + 1 < n; i++) {
    const halfSpan = 0.5 * (times[i + 1] - times[i - 1]);
    const dev = times[i] - 0.5 * (times[i - 1] + times[i + 1]);
    if (halfSpan > 0 && Math.abs(dev) > uneven * halfSpan && Math.abs(dev) <= tempoTol * halfSpan) {
      raw.push({
        startS: times[i] - half(i - 1),
        endS: times[i] + half(i),
        reason: `beat ${Math.round(Math.abs(dev) * 1000)} ms ${dev > 0 ? "late" : "early"} of the pulse`,
        beats: 1,
      });
    }
  }
  raw.sort((a, b) => a.startS - b.startS);
  const out: Suggestion[] = [];
  for (const r of raw) {
    const last = out[out.length - 1];
    if (last && r.startS <= last.endS) {
      last.endS = Math.max(last.endS, r.endS);
      if (!last.reason.includes(r.reason)) last.reason += `; ${r.reason}`;
      last.beats = Math.max(last.beats, r.beats);
    } else out.push({ ...r, startS: Math.max(0, r.startS) });
  }
  return out;
}

/**
 * Sections where the network's downbeat curve hears beat 1 elsewhere than the bar grid: for
 * every window of `windowBars` bars (from each downbeat), the curve's mean at the beats of each
 * bar position is compared; when another position beats position 1 by more than `minContrast`
 * (activation units), the window is flagged. Overlapping flagged windows form one region.
 */
export function barDisagreements(
  times: ArrayLike<number>,
  positions: ArrayLike<number>,
  curve: ArrayLike<number>,
  fps: number,
  windowBars = 4,
  minContrast = 0.1,
): Suggestion[] {
  const n = Math.min(times.length, positions.length);
  if (n < 2 || curve.length === 0) return [];
  const v = beatStrengths(Array.from({ length: n }, (_, i) => times[i]), curve, fps, 2, false);
  const starts: number[] = [];
  for (let i = 0; i < n; i++) if (positions[i] === 1) starts.push(i);
  const flagged: { i: number; j: number; at: number }[] = [];
  for (let w = 0; w + windowBars <= starts.length; w++) {
    const i = starts[w];
    const j = w + windowBars < starts.length ? starts[w + windowBars] - 1 : n - 1;
    const sum = new Map<number, [number, number]>();
    for (let k = i; k <= j; k++) {
      const e = sum.get(positions[k]) ?? [0, 0];
      sum.set(positions[k], [e[0] + v[k], e[1] + 1]);
    }
    const mean = (p: number) => {
      const e = sum.get(p);
      return e && e[1] > 0 ? e[0] / e[1] : 0;
    };
    let best = 1;
    for (const p of sum.keys()) if (mean(p) > mean(best)) best = p;
    if (best !== 1 && mean(best) - mean(1) > minContrast) flagged.push({ i, j, at: best });
  }
  const out: Suggestion[] = [];
  const half = (k: number) => 0.5 * (k + 1 < n ? times[k + 1] - times[k] : k > 0 ? times[k] - times[k - 1] : 0.25);
  for (const f of flagged) {
    const last = out[out.length - 1];
    const startS = times[f.i] - half(Math.max(f.i - 1, 0));
    const endS = times[f.j] + half(f.j);
    if (last && startS <= last.endS) {
      last.endS = Math.max(last.endS, endS);
      last.beats = Math.max(last.beats, f.j - f.i + 1);
    } else {
      out.push({
        startS,
        endS,
        reason: `the downbeat activation hears beat 1 on beat ${f.at} of the bar here: check the bar lines`,
        beats: f.j - f.i + 1,
      });
    }
  }
  return out;
}

/** Local tempo at each inter-beat interval (BPM, at the interval's midpoint). */
export function localTempo(times: ArrayLike<number>): { t: Float64Array; bpm: Float64Array } {
  const n = Math.max(0, times.length - 1);
  const t = new Float64Array(n);
  const bpm = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const d = times[i + 1] - times[i];
    t[i] = 0.5 * (times[i] + times[i + 1]);
    bpm[i] = d > 0 ? 60 / d : 0;
  }
  return { t, bpm };
}

/** Global tempo: 60 / the median inter-beat interval (null with fewer than 2 beats). */
export function globalTempo(times: ArrayLike<number>): number | null {
  if (times.length < 2) return null;
  const ibis: number[] = [];
  for (let i = 1; i < times.length; i++) ibis.push(times[i] - times[i - 1]);
  const m = median(ibis);
  if (!(m > 0)) return null;
  // The mean of the intervals near the median (engine `global_tempo_bpm`): beats on a 16 ms
  // frame grid alternate 31/32 frames at 120 BPM, whose median reads 121.0.
  const near = ibis.filter((d) => Math.abs(d / m - 1) <= 0.08);
  return 60 / (near.reduce((a, b) => a + b, 0) / near.length);
}

/**
 * Stretches the selected beats about the first of them so that the last moves by `dtLastS`
 * (the others proportionally): fixes a run of beats that drifts. Order is kept.
 */
export function stretchBeats(b: Beats, indices: number[], dtLastS: number): Beats {
  if (indices.length < 2) return nudgeBeats(b, indices, dtLastS);
  const sorted = [...indices].sort((x, y) => x - y);
  const first = b.times[sorted[0]];
  const span = b.times[sorted[sorted.length - 1]] - first;
  if (span <= 0) return b;
  const times = Float64Array.from(b.times);
  const lo = sorted[0] > 0 ? times[sorted[0] - 1] : -Infinity;
  const last = sorted[sorted.length - 1];
  const hi = last + 1 < times.length ? times[last + 1] : Infinity;
  const next = sorted.map((i) => first + (times[i] - first) * ((span + dtLastS) / span));
  if (next.some((t, k) => t <= lo || t >= hi || (k > 0 && t <= next[k - 1]) || t < 0)) return b;
  sorted.forEach((i, k) => (times[i] = next[k]));
  return { times, positions: b.positions };
}

/** Beats of `b` inside [startS, endS] replaced by those of `model` in that range. */
export function replaceRange(b: Beats, model: ArrayLike<number>, startS: number, endS: number, bpb: number): Beats {
  const keep: number[] = [];
  for (let i = 0; i < b.times.length; i++) if (b.times[i] < startS || b.times[i] > endS) keep.push(b.times[i]);
  for (let i = 0; i < model.length; i++) if (model[i] >= startS && model[i] <= endS) keep.push(model[i]);
  keep.sort((x, y) => x - y);
  const times = Float64Array.from(keep);
  // Beats outside the range are the old ones, in order; those inside are the model's.
  const from = new Int32Array(times.length).fill(-1);
  let lo = times.length;
  let hi = 0;
  for (let k = 0, o = 0; k < times.length; k++) {
    if (times[k] < startS || times[k] > endS) {
      while (o < b.times.length && b.times[o] !== times[k]) o++;
      from[k] = o < b.times.length ? o++ : -1;
    } else {
      lo = Math.min(lo, k);
      hi = k + 1;
    }
  }
  if (lo > hi) lo = hi = lowerBound(times, startS);
  return { times, positions: repositioned(b, times, from, lo, hi, bpb) };
}

/** Beats of `a` with no beat of `b` within `tolS` (both sorted): what changed between two lists. */
export function unmatchedBeats(a: ArrayLike<number>, b: ArrayLike<number>, tolS = 0.07): Float64Array {
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) if (!hasBeatNear(b, a[i], tolS)) out.push(a[i]);
  return Float64Array.from(out);
}

/** Whether sorted `b` has a beat within `tolS` of `t`. */
function hasBeatNear(b: ArrayLike<number>, t: number, tolS: number): boolean {
  const j = lowerBound(b, t);
  const near = (k: number) => k >= 0 && k < b.length && Math.abs(b[k] - t) <= tolS;
  return near(j) || near(j - 1);
}
