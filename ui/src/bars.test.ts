import { describe, expect, it } from "vitest";
import { meterSections, renumber, setDownbeat, type Beats } from "./bars";
import { addBeat, removeBeats, replaceRange } from "./timeline-math";

/** Beats one second apart with the given positions. */
function song(positions: number[]): Beats {
  return { times: Float64Array.from(positions, (_, i) => i + 1), positions: Uint32Array.from(positions) };
}
const pos = (b: Beats) => Array.from(b.positions ?? []);
/** Bars of `m` beats, `bars` of them, from position 1. */
const bars = (m: number, n: number) => Array.from({ length: m * n }, (_, i) => (i % m) + 1);

describe("meter sections", () => {
  it("one meter is one section, pickup included", () => {
    expect(meterSections([3, 4, ...bars(4, 3)], 4)).toEqual([{ start: 0, end: 14, beatsPerBar: 4 }]);
  });
  it("a run of 3/4 bars after 4/4 bars is a meter change at its first downbeat", () => {
    expect(meterSections([...bars(4, 3), ...bars(3, 4)], 4)).toEqual([
      { start: 0, end: 12, beatsPerBar: 4 },
      { start: 12, end: 24, beatsPerBar: 3 },
    ]);
  });
  it("a lone short bar, a lone first bar and a last bar cut by the end are irregular bars, not meter changes", () => {
    expect(meterSections([...bars(4, 2), 1, 2, ...bars(4, 2), 1, 2, 3], 4)).toEqual([{ start: 0, end: 21, beatsPerBar: 4 }]);
    expect(meterSections([1, 2, ...bars(3, 3)], 4)).toEqual([{ start: 0, end: 11, beatsPerBar: 3 }]);
  });
  it("no downbeat: one section of the song's meter", () => {
    expect(meterSections([2, 3, 2], 3)).toEqual([{ start: 0, end: 3, beatsPerBar: 3 }]);
    expect(meterSections([], 4)).toEqual([]);
  });
});

describe("this is beat 1 (D) and meter changes (2 … 9)", () => {
  it("numbers a song that had no positions from the chosen beat, forwards and back", () => {
    const b: Beats = { times: Float64Array.from([1, 2, 3, 4, 5]), positions: null };
    expect(pos(setDownbeat(b, 1, 4))).toEqual([4, 1, 2, 3, 4]);
    expect(pos(setDownbeat(b, 2, 4, 3))).toEqual([2, 3, 1, 2, 3]);
  });
  it("re-phases from the chosen beat to the next meter change and leaves the rest alone", () => {
    // 4/4 for 3 bars, then 3/4 for 3 bars; beat 6 (position 3) is really beat 1.
    const b = song([...bars(4, 3), ...bars(3, 3)]);
    const r = setDownbeat(b, 6, 4);
    expect(pos(r)).toEqual([1, 2, 3, 4, 1, 2, 1, 2, 3, 4, 1, 2, ...bars(3, 3)]);
    expect(r.times).toBe(b.times);
    // The short bar it leaves is irregular: still one 4/4 section, then the 3/4 one.
    expect(meterSections(r.positions!, 4).map((s) => [s.start, s.beatsPerBar])).toEqual([
      [0, 4],
      [12, 3],
    ]);
  });
  it("a meter change runs to the next meter change", () => {
    const b = song(bars(4, 6));
    const waltz = setDownbeat(b, 8, 4, 3);
    expect(pos(waltz)).toEqual([...bars(4, 2), ...bars(3, 5), 1]);
    // Back to 4/4 from beat 14: the 3/4 section is beats 8-13.
    const back = setDownbeat(waltz, 14, 4, 4);
    expect(pos(back)).toEqual([...bars(4, 2), ...bars(3, 2), ...bars(4, 2), 1, 2]);
    expect(meterSections(back.positions!, 4).map((s) => [s.start, s.end, s.beatsPerBar])).toEqual([
      [0, 8, 4],
      [8, 14, 3],
      [14, 24, 4],
    ]);
    // D inside the 3/4 section keeps its meter and stops at its end.
    expect(pos(setDownbeat(back, 9, 4))).toEqual([...bars(4, 2), 1, ...bars(3, 1), 1, 2, ...bars(4, 2), 1, 2]);
  });
  it("ignores a beat that does not exist", () => {
    const b = song(bars(4, 2));
    expect(setDownbeat(b, 8, 4)).toBe(b);
    expect(setDownbeat(b, -1, 4)).toBe(b);
  });
});

describe("edits keep meter changes", () => {
  // 4/4 (beats 0-7), then 3/4 (8-16).
  const b = song([...bars(4, 2), ...bars(3, 3)]);
  it("an added beat shifts the bars up to the next meter change, no further", () => {
    const r = addBeat(b, 2.5, 4);
    expect(r.index).toBe(2);
    expect(pos(r.beats)).toEqual([1, 2, 3, 4, 1, 2, 3, 4, 1, ...bars(3, 3)]);
  });
  it("a removed beat too, and a removed downbeat hands the bar to the beat after it", () => {
    expect(pos(removeBeats(b, [1], 4))).toEqual([1, 2, 3, 4, 1, 2, 3, ...bars(3, 3)]);
    expect(pos(removeBeats(b, [0], 4))).toEqual([2, 3, 4, 1, 2, 3, 4, ...bars(3, 3)]);
    expect(pos(removeBeats(b, [10], 4))).toEqual([...bars(4, 2), ...bars(3, 2), 1, 2]);
  });
  it("a range replaced with the model's beats is counted in its section's meter", () => {
    // The model has one beat more between 2.5 s and 4.5 s than the user's beats 3 and 4.
    const r = replaceRange(b, [2.7, 3.4, 4.1], 2.5, 4.5, 4);
    expect(Array.from(r.times)).toEqual([1, 2, 2.7, 3.4, 4.1, 5, 6, 7, 8, ...Array.from({ length: 9 }, (_, i) => 9 + i)]);
    expect(pos(r)).toEqual([1, 2, 3, 4, 1, 2, 3, 4, 1, ...bars(3, 3)]);
  });
  it("renumber counts backwards from the anchor", () => {
    expect(Array.from(renumber(5, 3, 2))).toEqual([2, 3, 1, 2, 3]);
  });
});
