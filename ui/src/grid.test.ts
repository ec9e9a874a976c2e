import { describe, expect, it } from "vitest";
import { DEFAULT_GRID, loadGridPrefs, parseTolerance, saveGridPrefs, sectionsText, straightenText } from "./grid";

function memory(init: Record<string, string> = {}) {
  const m = new Map(Object.entries(init));
  return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v) };
}

describe("grid tolerance", () => {
  it("takes 0 to 50 ms and nothing else", () => {
    expect(parseTolerance("25")).toBe(25);
    expect(parseTolerance("0")).toBe(0);
    expect(parseTolerance("12.5")).toBe(12.5);
    expect(parseTolerance("50")).toBe(50);
    for (const bad of ["", " ", "51", "-1", "abc", "NaN", "Infinity"]) expect(parseTolerance(bad)).toBeNull();
  });
});

describe("grid settings", () => {
  it("are kept, and broken or missing ones fall back to the engine's defaults", () => {
    const s = memory();
    expect(loadGridPrefs(s)).toEqual(DEFAULT_GRID);
    saveGridPrefs({ style: "variable", tolerance_ms: 10 }, s);
    expect(loadGridPrefs(s)).toEqual({ style: "variable", tolerance_ms: 10 });
    expect(loadGridPrefs(memory({ "zerons.grid": "{not json" }))).toEqual(DEFAULT_GRID);
    expect(loadGridPrefs(memory({ "zerons.grid": '{"style":"wobbly","tolerance_ms":400}' }))).toEqual(DEFAULT_GRID);
    expect(loadGridPrefs(memory({ "zerons.grid": '{"style":"per-beat"}' }))).toEqual({ style: "per-beat", tolerance_ms: 25 });
    expect(loadGridPrefs(null)).toEqual(DEFAULT_GRID);
  });
});

describe("straighten words", () => {
  it("name the sections' tempi", () => {
    expect(sectionsText([])).toBe("");
    expect(sectionsText([120])).toBe("120.0 BPM");
    expect(sectionsText([120, 100.04])).toBe("120.0 → 100.0 BPM");
    expect(sectionsText([120, 118, 116, 96])).toBe("120.0 → … → 96.0 BPM (4 sections)");
  });
  it("say what moved, or that nothing had to", () => {
    const r = { n_beats: 212, n_sections: 1, bpms: [120], max_shift_ms: 7.34, changed: true };
    expect(straightenText(r, [0.5, 191.6], 25)).toBe(
      "Straightened 212 beats (0:00–3:12) onto one tempo: 120.0 BPM; no beat moved more than 7.3 ms. Ctrl+Z undoes it.",
    );
    expect(straightenText({ ...r, n_sections: 2, bpms: [120, 100] }, [0.5, 191.6], 25)).toContain("onto 2 tempo sections: 120.0 → 100.0 BPM");
    expect(straightenText({ ...r, changed: false }, [0.5, 191.6], 25)).toBe("The beats 0:00–3:12 are straight already (within 25 ms): 120.0 BPM.");
  });
});
