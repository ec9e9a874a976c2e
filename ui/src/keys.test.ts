import { describe, expect, it } from "vitest";
import { keyBelongsToTarget, keyTarget, nudgeStepS } from "./keys";

describe("keyTarget", () => {
  it("text and number fields take every key", () => {
    for (const type of ["number", "text", "search", undefined]) {
      const t = keyTarget({ tagName: "INPUT", type });
      expect(t).toBe("text");
      for (const key of ["Backspace", "Delete", "0", "-", "+", " ", "a", "ArrowLeft"]) expect(keyBelongsToTarget(t, key)).toBe(true);
    }
    expect(keyTarget({ tagName: "TEXTAREA" })).toBe("text");
    expect(keyTarget({ tagName: "DIV", isContentEditable: true })).toBe("text");
  });

  it("sliders and lists keep their arrows but not Space or the shortcuts", () => {
    for (const el of [{ tagName: "INPUT", type: "range" }, { tagName: "SELECT" }]) {
      const t = keyTarget(el);
      expect(t).toBe("arrows");
      expect(keyBelongsToTarget(t, "ArrowLeft")).toBe(true);
      expect(keyBelongsToTarget(t, "Home")).toBe(true);
      expect(keyBelongsToTarget(t, " ")).toBe(false);
      expect(keyBelongsToTarget(t, "Backspace")).toBe(false);
    }
  });

  it("checkboxes and buttons keep no key (Space plays)", () => {
    for (const el of [{ tagName: "INPUT", type: "checkbox" }, { tagName: "input", type: "radio" }, { tagName: "BUTTON" }]) {
      const t = keyTarget(el);
      expect(t).toBe("control");
      expect(keyBelongsToTarget(t, " ")).toBe(false);
    }
    expect(keyTarget({ tagName: "CANVAS" })).toBeNull();
    expect(keyTarget(null)).toBeNull();
    expect(keyBelongsToTarget(null, "Backspace")).toBe(false);
  });
});

describe("nudgeStepS", () => {
  const e = (mods: Partial<{ ctrlKey: boolean; metaKey: boolean; shiftKey: boolean }>) => ({ ctrlKey: false, metaKey: false, shiftKey: false, ...mods });
  it("is 5 ms, Shift 20 ms, Ctrl or ⌘ 1 ms", () => {
    expect(nudgeStepS(e({}))).toBeCloseTo(0.005, 12);
    expect(nudgeStepS(e({ shiftKey: true }))).toBeCloseTo(0.02, 12);
    expect(nudgeStepS(e({ ctrlKey: true }))).toBeCloseTo(0.001, 12);
    expect(nudgeStepS(e({ metaKey: true }))).toBeCloseTo(0.001, 12);
    expect(nudgeStepS(e({ ctrlKey: true, shiftKey: true }))).toBeCloseTo(0.001, 12);
  });
});
