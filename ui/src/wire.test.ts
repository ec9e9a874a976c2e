import { describe, expect, it } from "vitest";
import { encodeBeats, parseBeats, parseTimeline } from "./wire";

function timelineFixture(): ArrayBuffer {
  // Built by hand in the layout of src-tauri/src/wire.rs: 1 level of 2 bins, 1 curve "max" of 3 values.
  const parts: number[] = [];
  const buf = new ArrayBuffer(32 + 8 + 16 + 16 + 12);
  const v = new DataView(buf);
  "ZNTL".split("").forEach((c, i) => v.setUint8(i, c.charCodeAt(0)));
  v.setUint32(4, 1, true);
  v.setFloat64(8, 2.5, true);
  v.setUint32(16, 44100, true);
  v.setUint32(20, 1, true);
  v.setUint32(24, 1, true);
  v.setUint32(32, 32, true);
  v.setUint32(36, 2, true);
  v.setFloat32(40, 62.5, true);
  v.setUint32(44, 3, true);
  v.setUint32(48, 3, true);
  "max".split("").forEach((c, i) => v.setUint8(52 + i, c.charCodeAt(0)));
  [-0.5, 0.5, -0.25, 0.75].forEach((x, i) => v.setFloat32(56 + 4 * i, x, true));
  [0, 0.5, 1].forEach((x, i) => v.setFloat32(72 + 4 * i, x, true));
  void parts;
  return buf;
}

describe("wire", () => {
  it("parses a timeline", () => {
    const t = parseTimeline(timelineFixture());
    expect(t.durationS).toBe(2.5);
    expect(t.sampleRateHz).toBe(44100);
    expect(t.levels).toHaveLength(1);
    expect(t.levels[0].block).toBe(32);
    expect(Array.from(t.levels[0].minMax)).toEqual([-0.5, 0.5, -0.25, 0.75]);
    expect(t.curves[0].kind).toBe("max");
    expect(t.curves[0].fps).toBe(62.5);
    expect(Array.from(t.curves[0].values)).toEqual([0, 0.5, 1]);
  });

  it("rejects a truncated timeline", () => {
    expect(() => parseTimeline(timelineFixture().slice(0, 60))).toThrow();
    expect(() => parseTimeline(new ArrayBuffer(8))).toThrow(/magic/);
  });

  it("round-trips beats", () => {
    const b = { times: Float64Array.from([0.5, 1.25]), positions: Uint32Array.from([1, 2]) };
    const back = parseBeats(encodeBeats(b, 42, 3).buffer as ArrayBuffer);
    expect(back.revision).toBe(42);
    expect(back.beatsPerBar).toBe(3);
    expect(Array.from(back.times)).toEqual([0.5, 1.25]);
    expect(Array.from(back.positions!)).toEqual([1, 2]);
    const none = parseBeats(encodeBeats({ times: new Float64Array(0), positions: null }, -1, 0).buffer as ArrayBuffer);
    expect(none.revision).toBe(-1);
    expect(none.positions).toBeNull();
  });
});
