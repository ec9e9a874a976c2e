// Checked beats ("the beats up to here are right", K): pure helpers of main.ts (vitest).
// Fine-tuning learns only from checked beats: set or moved by the user, or confirmed here.
import { formatTime, lowerBound } from "./timeline-math";

/**
 * The range K confirms: with beats selected, the span of the selection; otherwise from 0 s
 * up to the playhead. null when there is nothing to confirm (no beat at or before the playhead).
 * `selectedTimes` ascending.
 */
export function checkRange(selectedTimes: ArrayLike<number>, playheadS: number | null, firstBeatS: number | null): [number, number] | null {
  const n = selectedTimes.length;
  if (n > 0) return [selectedTimes[0], selectedTimes[n - 1]];
  if (playheadS === null || firstBeatS === null || !(playheadS >= firstBeatS)) return null;
  return [0, playheadS];
}

/** How many of the (ascending) `times` lie in [fromS, toS]. */
export function countInRange(times: ArrayLike<number>, fromS: number, toS: number): number {
  let k = 0;
  for (let i = lowerBound(times, fromS); i < times.length && times[i] <= toS; i++) k++;
  return k;
}

/** A checked span in words, to the second around it: "to 0:31" when it starts at the song's first beat, else "0:40–1:10". */
function spanText([a, b]: [number, number], firstBeatS: number | null): string {
  const end = formatTime(Math.ceil(b));
  return firstBeatS !== null && a <= firstBeatS + 1e-6 ? `to ${end}` : `${formatTime(Math.floor(a))}–${end}`;
}

/** The status bar's words for the checked spans: "checked to 0:31", "checked 0:40–1:10 + 2 more", or "". */
export function checkedStatus(spans: readonly [number, number][] | null | undefined, firstBeatS: number | null): string {
  if (!spans || spans.length === 0) return "";
  const more = spans.length > 1 ? ` + ${spans.length - 1} more` : "";
  return `checked ${spanText(spans[0], firstBeatS)}${more}`;
}
