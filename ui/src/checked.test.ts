import { describe, expect, it } from "vitest";
import { checkedStatus, checkRange, countInRange } from "./checked";

describe("checked beats (K)", () => {
  it("confirms the selection's span, else from 0 to the playhead", () => {
    expect(checkRange([2.5, 3, 3.5], 100, 0.5)).toEqual([2.5, 3.5]);
    expect(checkRange([], 31.2, 0.5)).toEqual([0, 31.2]);
    expect(checkRange(new Float64Array([7]), null, 0.5)).toEqual([7, 7]);
  });

  it("nothing to confirm before the first beat, without a playhead or without beats", () => {
    expect(checkRange([], 0.2, 0.5)).toBeNull();
    expect(checkRange([], null, 0.5)).toBeNull();
    expect(checkRange([], 10, null)).toBeNull();
  });

  it("counts the beats in a closed range", () => {
    const t = new Float64Array([0.5, 1, 1.5, 2]);
    expect(countInRange(t, 0, 1.5)).toBe(3);
    expect(countInRange(t, 1, 1)).toBe(1);
    expect(countInRange(t, 2.1, 9)).toBe(0);
  });

  it("the status says how far the song is checked", () => {
    expect(checkedStatus([], 0.5)).toBe("");
    expect(checkedStatus(undefined, 0.5)).toBe("");
    expect(checkedStatus([[0.5, 30.9]], 0.5)).toBe("checked to 0:31");
    expect(checkedStatus([[40, 70]], 0.5)).toBe("checked 0:40–1:10");
    expect(checkedStatus([[40.6, 69.2]], 0.5)).toBe("checked 0:40–1:10");
    expect(checkedStatus([[0.5, 30.5], [40, 70], [90, 95]], 0.5)).toBe("checked to 0:31 + 2 more");
  });
});
