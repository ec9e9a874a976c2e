// Which keys the shortcuts may take: pure helpers of main.ts's keyboard handler (vitest).

/** The parts of a focused element that decide who gets a key. */
export interface KeyTargetLike {
  tagName?: string;
  type?: string;
  isContentEditable?: boolean;
}

export type KeyTarget = "text" | "arrows" | "control" | null;

/**
 * What the focused element does with keys: "text" takes them all (a text or number field, an
 * editable area: Backspace, 0 and − are typing there, not shortcuts); "arrows" (a slider, a
 * drop-down list) takes the arrows, Home, End and Page keys but not Space; "control"
 * (checkbox, radio, button) takes none of ours. On "arrows" and "control", Space plays, as
 * everywhere else, instead of ticking, pressing or opening the control. null: not a control.
 */
export function keyTarget(el: KeyTargetLike | null | undefined): KeyTarget {
  if (!el || typeof el.tagName !== "string") return null;
  const tag = el.tagName.toUpperCase();
  if (el.isContentEditable || tag === "TEXTAREA") return "text";
  if (tag === "SELECT") return "arrows";
  if (tag === "BUTTON") return "control";
  if (tag !== "INPUT") return null;
  const type = (el.type ?? "text").toLowerCase();
  if (type === "range") return "arrows";
  if (["checkbox", "radio", "button", "submit", "reset", "color", "file", "image"].includes(type)) return "control";
  return "text";
}

/** Whether a focused element of kind `target` keeps `key` (the shortcuts then ignore it). */
export function keyBelongsToTarget(target: KeyTarget, key: string): boolean {
  if (target === "text") return true;
  if (target === "arrows") return key.startsWith("Arrow") || ["Home", "End", "PageUp", "PageDown"].includes(key);
  return false;
}

/** Nudge steps (ms) of the arrow keys: Ctrl (or ⌘) fine, plain, Shift coarse. */
export const NUDGE_MS = { fine: 1, normal: 5, coarse: 20 } as const;

/** The nudge (and stretch) step of an arrow key press, in seconds. */
export function nudgeStepS(e: { ctrlKey: boolean; metaKey: boolean; shiftKey: boolean }): number {
  const ms = e.ctrlKey || e.metaKey ? NUDGE_MS.fine : e.shiftKey ? NUDGE_MS.coarse : NUDGE_MS.normal;
  return ms / 1000;
}
