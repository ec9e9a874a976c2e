import { describe, expect, it } from "vitest";
import {
  addBeat,
  beatStrengths,
  unmatchedBeats,
  globalTempo,
  localTempo,
  replaceRange,
  stretchBeats,
  suggestRegions,
  chooseLevel,
  clampView,
  fitView,
  formatTime,
  hitTestBeat,
  moveBeat,
  nearestIndex,
  nudgeBeats,
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
import { renumber, setDownbeat } from "./bars";

const view: Viewport = { startS: 10, pxPerS: 100, widthPx: 1000 };

describe("time <-> pixel", () => {
  it("maps both ways", () => {
    expect(timeToX(view, 10)).toBe(0);
    expect(timeToX(view, 12.5)).toBe(250);
    expect(xToTime(view, 250)).toBe(12.5);
    for (const t of [0, 10.01, 19.99, 123.456]) expect(xToTime(view, timeToX(view, t))).toBeCloseTo(t, 12);
  });

  it("zooms around the anchor and respects the limits", () => {
    const limits = zoomLimits(60, 1000, 62.5);
    expect(limits.minPxPerS).toBeCloseTo(1000 / 60, 12);
    expect(limits.maxPxPerS).toBeCloseTo(31250, 9);
    const z = zoomAt(view, 2, 300, 60, limits);
    expect(z.pxPerS).toBe(200);
    expect(xToTime(z, 300)).toBeCloseTo(xToTime(view, 300), 12);
    expect(zoomAt(view, 1e9, 300, 60, limits).pxPerS).toBeCloseTo(limits.maxPxPerS, 9);
    const out = zoomAt(view, 1e-9, 300, 60, limits);
    expect(out.pxPerS).toBeCloseTo(limits.minPxPerS, 9);
    expect(out.startS).toBe(0);
  });

  it("pinches: the times under both fingers stay under them", () => {
    const limits = zoomLimits(60, 1000, 62.5);
    // view: 100 px/s from 10 s. Fingers at 300 and 500 px (13 s and 15 s) spread to 200 and 800.
    const z = pinchView(view, [300, 500], [200, 800], 60, limits);
    expect(z.pxPerS).toBeCloseTo(300, 9);
    expect(xToTime(z, 200)).toBeCloseTo(13, 9);
    expect(xToTime(z, 800)).toBeCloseTo(15, 9);
    // Finger order does not matter.
    const swapped = pinchView(view, [500, 300], [800, 200], 60, limits);
    expect(swapped.pxPerS).toBeCloseTo(300, 9);
    expect(swapped.startS).toBeCloseTo(z.startS, 9);
    // Both fingers moving together scroll without zooming.
    const pan = pinchView(view, [300, 500], [200, 400], 60, limits);
    expect(pan.pxPerS).toBeCloseTo(100, 9);
    expect(xToTime(pan, 200)).toBeCloseTo(13, 9);
    // Pinching in past the whole song stops at the fit-to-width zoom and stays in the song.
    const out = pinchView(view, [100, 900], [499, 501], 60, limits);
    expect(out.pxPerS).toBeCloseTo(limits.minPxPerS, 9);
    expect(out.startS).toBe(0);
    // Fingers too close to measure a span: midpoint scroll only.
    const close = pinchView(view, [400, 410], [300, 312], 60, limits);
    expect(close.pxPerS).toBe(100);
    expect(xToTime(close, 306)).toBeCloseTo(xToTime(view, 405), 9);
  });

  it("clamps scrolling to the song", () => {
    expect(scrollBy(view, -5000, 60).startS).toBe(0);
    expect(scrollBy(view, 1e6, 60).startS).toBeCloseTo(50, 12);
    expect(scrollBy(view, 100, 60).startS).toBeCloseTo(11, 12);
    expect(clampView({ ...view, startS: 5 }, 3).startS).toBe(0);
    expect(fitView(120, 600).pxPerS).toBe(5);
  });
});

describe("hit testing", () => {
  const beats = Float64Array.from([10.5, 11.0, 11.02, 14.0]);
  it("finds the nearest beat within the tolerance", () => {
    expect(nearestIndex(beats, 0)).toBe(0);
    expect(nearestIndex(beats, 100)).toBe(3);
    expect(nearestIndex(beats, 11.011)).toBe(2);
    expect(nearestIndex(new Float64Array(0), 1)).toBe(-1);
    expect(hitTestBeat(beats, view, 50)).toBe(0);
    expect(hitTestBeat(beats, view, 56)).toBe(0);
    expect(hitTestBeat(beats, view, 57)).toBe(-1);
    expect(hitTestBeat(beats, view, 101)).toBe(1);
    expect(hitTestBeat(beats, view, 103)).toBe(2);
  });
  it("lists the visible beats", () => {
    expect(visibleBeats(beats, { ...view, widthPx: 200 }, 0)).toEqual([0, 3]);
    expect(visibleBeats(beats, { startS: 20, pxPerS: 100, widthPx: 100 }, 0)).toEqual([4, 4]);
  });
});

describe("snapping", () => {
  // Peaks at frames 10 (0.8) and 20 (1.0), symmetric so interpolation keeps them on the frame.
  const curve = new Float32Array(40);
  curve[9] = 0.4; curve[10] = 0.8; curve[11] = 0.4;
  curve[19] = 0.5; curve[20] = 1.0; curve[21] = 0.5;
  const fps = 100;
  it("snaps to the strongest peak in the window", () => {
    expect(snapToPeak(curve, fps, 0.12, 0.03)).toBeCloseTo(0.1, 9);
    expect(snapToPeak(curve, fps, 0.15, 0.06)).toBeCloseTo(0.2, 9);
    expect(snapToPeak(curve, fps, 0.3, 0.02)).toBe(0.3);
  });
  it("refines between frames by parabolic interpolation", () => {
    const c = Float32Array.from([0, 0.5, 1.0, 0.9, 0]);
    const t = snapToPeak(c, 10, 0.2, 0.1);
    expect(t).toBeGreaterThan(0.2);
    expect(t).toBeLessThan(0.25);
    // Parabola through (1,.5) (2,1) (3,.9): vertex at 2 + 0.5*(0.5-0.9)/(0.5-2+0.9) = 2.333…
    expect(t).toBeCloseTo(0.23333, 4);
  });
});

describe("pyramid level choice", () => {
  const levels = [{ block: 32 }, { block: 128 }, { block: 512 }, { block: 2048 }];
  it("picks the coarsest level finer than a pixel", () => {
    expect(chooseLevel(levels, 44100, 44100 / 32)).toBe(0);
    expect(chooseLevel(levels, 44100, 44100 / 600)).toBe(2);
    expect(chooseLevel(levels, 44100, 1)).toBe(3);
    expect(chooseLevel(levels, 44100, 1e6)).toBe(0);
    expect(chooseLevel([], 44100, 10)).toBe(-1);
  });
});

describe("ruler", () => {
  it("uses 1-2-5 steps at least the minimum apart", () => {
    expect(rulerStep(100, 90).majorS).toBe(1);
    expect(rulerStep(1000, 90).majorS).toBeCloseTo(0.1, 12);
    expect(rulerStep(10, 90).majorS).toBe(10);
    expect(rulerStep(1, 90).majorS).toBe(120);
    expect(rulerStep(40000, 90).majorS).toBeCloseTo(0.005, 12);
    for (const px of [0.2, 3, 47, 333, 5000, 31250]) {
      const { majorS, minorS } = rulerStep(px, 90);
      expect(majorS * px).toBeGreaterThanOrEqual(90 - 1e-9);
      expect(minorS).toBeLessThan(majorS);
    }
  });
  it("formats times", () => {
    expect(formatTime(75, 1)).toBe("1:15");
    expect(formatTime(5.25, 0.05)).toBe("0:05.25");
    expect(formatTime(0.0125, 0.005)).toBe("0:00.013");
  });
});

describe("editing", () => {
  const b: Beats = { times: Float64Array.from([1, 2, 3, 4, 5]), positions: null };
  it("adds in order and refuses duplicates", () => {
    const r = addBeat(b, 2.5, 4);
    expect(r.index).toBe(2);
    expect(Array.from(r.beats.times)).toEqual([1, 2, 2.5, 3, 4, 5]);
    expect(addBeat(b, 2.0004, 4).index).toBe(-1);
    expect(Array.from(b.times)).toEqual([1, 2, 3, 4, 5]);
  });
  it("moves within the neighbours", () => {
    expect(Array.from(moveBeat(b, 1, 2.4).times)).toEqual([1, 2.4, 3, 4, 5]);
    expect(moveBeat(b, 1, 9).times[1]).toBeCloseTo(2.999, 12);
    expect(moveBeat(b, 0, -3).times[0]).toBe(0);
  });
  it("nudges several beats together", () => {
    const n = nudgeBeats(b, [1, 2], 0.016);
    expect(n.times[1]).toBeCloseTo(2.016, 12);
    expect(n.times[2]).toBeCloseTo(3.016, 12);
  });
  it("keeps the bar grid anchored on the downbeat", () => {
    const withPos = setDownbeat(b, 1, 4);
    expect(Array.from(withPos.positions!)).toEqual([4, 1, 2, 3, 4]);
    const added = addBeat(withPos, 0.5, 4).beats;
    expect(Array.from(added.positions!)).toEqual([3, 4, 1, 2, 3, 4]);
    const removed = removeBeats(withPos, [0], 4);
    expect(Array.from(removed.positions!)).toEqual([1, 2, 3, 4]);
    expect(Array.from(removeBeats(b, [0, 4], 4).times)).toEqual([2, 3, 4]);
    expect(Array.from(renumber(5, 3, 2))).toEqual([2, 3, 1, 2, 3]);
  });
});

describe("suggestions", () => {
  const fps = 62.5;
  const grid = (n: number, period = 0.5, t0 = 0.5) => Float64Array.from({ length: n }, (_, i) => t0 + i * period);
  /** A curve with a peak of `h(i)` at every beat i of `times`. */
  function curveFor(times: Float64Array, h: (i: number) => number, durS = 40) {
    const c = new Float32Array(Math.ceil(durS * fps));
    times.forEach((t, i) => (c[Math.round(t * fps)] = h(i)));
    return c;
  }

  it("a steady, well-supported grid has nothing to check", () => {
    const t = grid(60);
    expect(suggestRegions(t, curveFor(t, () => 0.9), fps)).toEqual([]);
  });

  it("flags the bars where the downbeat curve hears beat 1 elsewhere, and only those", () => {
    // 4/4 from the first beat; the curve agrees except in bars 6-9 (beats 20-35), where it
    // peaks on the grid's beat 3.
    const t = grid(64);
    const positions = Uint32Array.from({ length: 64 }, (_, i) => (i % 4) + 1);
    const agree = curveFor(t, (i) => (i % 4 === 0 ? 0.8 : 0.1));
    const beats = curveFor(t, () => 0.9);
    expect(suggestRegions(t, beats, fps, { downbeat: { curve: agree, fps, positions } })).toEqual([]);
    const shifted = curveFor(t, (i) => ((i >= 20 && i < 36 ? i % 4 === 2 : i % 4 === 0) ? 0.8 : 0.1));
    const s = suggestRegions(t, beats, fps, { downbeat: { curve: shifted, fps, positions } });
    expect(s.length).toBe(1);
    expect(s[0].reason).toMatch(/beat 1 on beat 3/);
    // The region covers the shifted bars and stays within a window of them.
    expect(s[0].startS).toBeLessThanOrEqual(t[20]);
    expect(s[0].endS).toBeGreaterThanOrEqual(t[35]);
    expect(s[0].startS).toBeGreaterThan(t[20] - 4 * 4 * 0.5);
    expect(s[0].endS).toBeLessThan(t[35] + 4 * 4 * 0.5);
  });

  it("a single quiet beat in a steady pulse is not flagged", () => {
    const t = grid(60);
    expect(suggestRegions(t, curveFor(t, (i) => (i === 30 ? 0.05 : 0.9)), fps)).toEqual([]);
  });

  it("flags a beat placed off the steady pulse", () => {
    const t = grid(60);
    const c = curveFor(t, () => 0.9);
    const moved = Float64Array.from(t);
    moved[30] += 0.06;
    const s = suggestRegions(moved, c, fps);
    expect(s.length).toBe(1);
    expect(s[0].reason).toBe("beat 60 ms late of the pulse");
    expect(s[0].startS).toBeLessThan(moved[30]);
    expect(s[0].endS).toBeGreaterThan(moved[30]);
  });

  it("flags a run of weakly supported beats, and only it", () => {
    const t = grid(60);
    const c = curveFor(t, (i) => (i >= 20 && i < 24 ? 0.1 : 0.9));
    const s = suggestRegions(t, c, fps);
    expect(s.length).toBe(1);
    expect(s[0].reason).toBe("weak activation");
    expect(s[0].beats).toBe(4);
    expect(s[0].startS).toBeCloseTo(t[20] - 0.25, 9);
    expect(s[0].endS).toBeCloseTo(t[23] + 0.25, 9);
    const strengths = beatStrengths(t, c, fps);
    expect(strengths[0]).toBeCloseTo(1, 9);
    expect(strengths[21]).toBeCloseTo(0.1 / 0.9, 6);
  });

  it("flags a section that moved to the off-beat since the previous analysis", () => {
    const prev = grid(60);
    const t = Float64Array.from(prev, (x, i) => (i >= 20 && i < 32 ? x + 0.25 : x));
    const c = curveFor(t, () => 0.9);
    // Alone, the beats only show the interval jumps at the ends of the moved section.
    const inside = (r: { startS: number; endS: number }) => r.startS < t[26] && r.endS > t[26];
    expect(suggestRegions(t, c, fps).some(inside)).toBe(false);
    // Against the previous analysis the whole section is one region to check.
    const s = suggestRegions(t, c, fps, { previous: prev });
    const m = s.filter(inside);
    expect(m.length).toBe(1);
    expect(m[0].reason).toMatch(/half a beat from the previous analysis: one of them is on the off-beat/);
    expect(m[0].beats).toBe(12);
    expect(m[0].startS).toBeLessThanOrEqual(t[20]);
    expect(m[0].endS).toBeGreaterThanOrEqual(t[31]);
  });

  it("a few moved beats, or the same beats, are not a disagreement", () => {
    const prev = grid(60);
    const t = Float64Array.from(prev, (x, i) => (i >= 20 && i < 23 ? x + 0.1 : x + 0.01));
    const s = suggestRegions(t, curveFor(t, () => 0.9), fps, { previous: prev });
    expect(s.every((r) => !r.reason.includes("previous analysis"))).toBe(true);
    expect(suggestRegions(prev, curveFor(prev, () => 0.9), fps, { previous: prev })).toEqual([]);
  });

  it("a section moved by a quarter beat is reported as moved, not off-beat", () => {
    const prev = grid(60);
    const t = Float64Array.from(prev, (x, i) => (i >= 10 ? x + 0.125 : x));
    const s = suggestRegions(t, curveFor(t, () => 0.9), fps, { previous: prev });
    const m = s.find((r) => r.reason.includes("previous analysis"));
    expect(m?.reason).toMatch(/moved since the previous analysis/);
    expect(m?.reason).not.toMatch(/off-beat/);
    expect(m?.beats).toBe(50);
  });

  it("flags a missing beat and an extra beat by the interval jump", () => {
    const full = Array.from(grid(60));
    const missing = Float64Array.from(full.filter((_, i) => i !== 30));
    const s = suggestRegions(missing, null, fps);
    expect(s.length).toBe(1);
    expect(s[0].reason).toMatch(/missing/);
    expect(s[0].startS).toBeLessThan(full[30]);
    expect(s[0].endS).toBeGreaterThan(full[30]);
    const extra = Float64Array.from([...full, full[40] + 0.2].sort((a, b) => a - b));
    const e = suggestRegions(extra, null, fps);
    expect(e.length).toBe(1);
    expect(e[0].reason).toMatch(/extra/);
  });
});

describe("tempo", () => {
  it("local and global tempo of a grid that speeds up", () => {
    const t = Float64Array.from([0, 0.5, 1.0, 1.5, 1.9, 2.3]);
    const { t: mid, bpm } = localTempo(t);
    [0.25, 0.75, 1.25, 1.7, 2.1].forEach((m, i) => expect(mid[i]).toBeCloseTo(m, 12));
    expect(bpm[0]).toBeCloseTo(120, 9);
    expect(bpm[4]).toBeCloseTo(150, 6);
    expect(globalTempo(t)).toBeCloseTo(120, 9);
    expect(globalTempo(Float64Array.from([1]))).toBeNull();
    // Beats on the 62.5 fps frame grid: 120 BPM, not the median interval's 121.0.
    const grid = Array.from({ length: 200 }, (_, k) => Math.round((0.3 + k * 0.5) * 62.5) / 62.5);
    grid.splice(100, 1);
    expect(globalTempo(grid)).toBeCloseTo(120, 1);
  });
});

describe("range edits", () => {
  const b: Beats = { times: Float64Array.from([1, 2, 3, 4, 5]), positions: null };
  it("stretch moves the last selected beat by dt and the others in proportion", () => {
    const s = stretchBeats(b, [1, 2, 3], 0.3);
    expect(Array.from(s.times)).toEqual([1, 2, 3.15, 4.3, 5]);
    // A stretch that would cross a neighbour is refused (beats unchanged).
    expect(stretchBeats(b, [1, 2, 3], 1.2)).toBe(b);
  });
  it("replace a range with the model's beats keeps the rest and the downbeat", () => {
    const bb: Beats = { times: Float64Array.from([1, 2, 3, 4, 5]), positions: Uint32Array.from([1, 2, 3, 4, 1]) };
    const r = replaceRange(bb, [0.9, 2.1, 2.6, 3.1, 4.2], 1.5, 3.5, 4);
    expect(Array.from(r.times)).toEqual([1, 2.1, 2.6, 3.1, 4, 5]);
    expect(r.positions?.[0]).toBe(1);
  });
});

describe("diff", () => {
  it("unmatched beats are the moved, removed or added ones", () => {
    const prev = [1, 2, 3, 4];
    const now = [1.02, 2.5, 3, 4, 5];
    expect(Array.from(unmatchedBeats(prev, now))).toEqual([2]);
    expect(Array.from(unmatchedBeats(now, prev))).toEqual([2.5, 5]);
  });
});

describe("marksTooDense", () => {
  const beats = Float64Array.from({ length: 400 }, (_, i) => 0.5 * i);
  it("is true for a beat grid a few pixels apart (whole-song view), false zoomed in", () => {
    expect(marksTooDense(beats, 0, beats.length, 5)).toBe(true); // 2.5 px apart
    expect(marksTooDense(beats, 0, beats.length, 100)).toBe(false); // 50 px apart
  });
  it("is false for a few scattered marks, whatever the zoom", () => {
    const few = Float64Array.from([10, 50, 120]);
    expect(marksTooDense(few, 0, 3, 5)).toBe(false);
    expect(marksTooDense(Float64Array.from([10, 10.5]), 0, 2, 1)).toBe(false);
  });
  it("judges the marks in view only (a dense run among scattered ones)", () => {
    const mixed = Float64Array.from([1, 40, 80, 100, 100.5, 101, 101.5, 102, 102.5, 103]);
    expect(marksTooDense(mixed, 0, mixed.length, 5)).toBe(true);
    expect(marksTooDense(mixed, 0, 3, 5)).toBe(false);
  });
});
