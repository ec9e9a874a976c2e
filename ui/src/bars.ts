// Positions in the bar and meter changes within a song (issue 21): pure helpers of the
// timeline's edits (vitest). A song's bars live in its beats' positions (1 = downbeat), one per
// beat, as the store and every export keep them; a meter change is where the bars' length
// changes. Nothing here knows about the screen.

/**
 * A song's beats: times in seconds (ascending) and, once numbered, each one's position in its
 * bar (1 = downbeat). Arrays are never mutated.
 */
export interface Beats {
  times: Float64Array;
  positions: Uint32Array | null;
}

/** Beats `[start, end)` counted in bars of `beatsPerBar`: one meter between two meter changes. */
export interface MeterSection {
  start: number;
  end: number;
  beatsPerBar: number;
}

/**
 * Positions counted in bars of `beatsPerBar` so that the beat at `anchorIndex` is a downbeat
 * (beats before it count backwards).
 */
export function renumber(n: number, beatsPerBar: number, anchorIndex: number): Uint32Array {
  const out = new Uint32Array(n);
  countBars(out, 0, n, beatsPerBar, anchorIndex);
  return out;
}

/** Writes positions into `out[from..to)`, in bars of `beatsPerBar` with a downbeat at `anchor`. */
function countBars(out: Uint32Array, from: number, to: number, beatsPerBar: number, anchor: number) {
  const b = Math.max(1, Math.floor(beatsPerBar));
  for (let i = from; i < to; i++) out[i] = ((((i - anchor) % b) + b) % b) + 1;
}

/** Index of the first downbeat (position 1), or 0. */
export function firstDownbeat(positions: Uint32Array | null): number {
  if (!positions) return 0;
  const i = positions.indexOf(1);
  return i < 0 ? 0 : i;
}

/** Positions to display: the stored ones, else counted from the first beat. */
export function displayPositions(b: Beats, beatsPerBar: number): Uint32Array {
  return b.positions ?? renumber(b.times.length, beatsPerBar, 0);
}

/**
 * The meter sections of a song's positions. A bar runs from a downbeat to the next (the beats
 * before the first downbeat are a pickup of the first section); a section is a run of bars of
 * one length. A lone bar of another length (a bar cut short by a re-phased downbeat, a single
 * 2/4 bar in a 4/4 song, the song's last bar cut by its end) is an irregular bar of the
 * section before it, not a meter change; a lone first bar belongs to the section after it.
 * Songs without a downbeat are one section of `fallbackBpb`.
 */
export function meterSections(positions: ArrayLike<number>, fallbackBpb: number): MeterSection[] {
  const n = positions.length;
  if (n === 0) return [];
  const downs: number[] = [];
  for (let i = 0; i < n; i++) if (positions[i] === 1) downs.push(i);
  if (downs.length === 0) return [{ start: 0, end: n, beatsPerBar: Math.max(1, Math.floor(fallbackBpb)) }];
  // Runs of bars of equal length: [first bar's start, length, bars].
  const runs: { start: number; len: number; bars: number }[] = [];
  downs.forEach((s, k) => {
    const len = (k + 1 < downs.length ? downs[k + 1] : n) - s;
    const last = runs[runs.length - 1];
    if (last && last.len === len) last.bars++;
    else runs.push({ start: s, len, bars: 1 });
  });
  const sections: MeterSection[] = [];
  for (const r of runs) {
    const cur = sections[sections.length - 1];
    if (cur && (r.bars === 1 || r.len === cur.beatsPerBar)) continue;
    sections.push({ start: r.start, end: n, beatsPerBar: r.len });
  }
  // A lone first bar (its run was pushed, being first) joins the section after it.
  if (sections.length > 1 && runs[0].bars === 1 && sections[1].start === runs[1].start) sections.shift();
  sections[0].start = 0;
  for (let k = 0; k + 1 < sections.length; k++) sections[k].end = sections[k + 1].start;
  return sections;
}

/** The section holding beat `i` (the last one for an index past the end). */
function sectionOf(sections: MeterSection[], i: number): MeterSection {
  return sections.find((s) => i >= s.start && i < s.end) ?? sections[sections.length - 1];
}

/**
 * "This is beat 1": beat `i` becomes a downbeat and the bars are counted again from it to the
 * next meter change, in bars of `meter` (a meter change at `i`) or else of the section's own
 * length; the beats before it keep their positions (the bar before it may come out short: an
 * irregular bar). Beats that were never numbered are all counted from `i`, forwards and back,
 * in bars of `meter` or `bpb`.
 */
export function setDownbeat(b: Beats, i: number, bpb: number, meter?: number): Beats {
  const n = b.times.length;
  if (i < 0 || i >= n) return b;
  if (!b.positions) return { times: b.times, positions: renumber(n, meter ?? bpb, i) };
  const s = sectionOf(meterSections(b.positions, bpb), i);
  const positions = b.positions.slice();
  countBars(positions, i, s.end, meter ?? s.beatsPerBar, i);
  return { times: b.times, positions };
}

/**
 * Positions of `times` after an edit of `old` (added, removed or replaced beats): `from[k]` is
 * the index in `old` of new beat `k`, or −1 for a beat the edit made; the edit touched the new
 * beats `[lo, hi)` (lo = hi: only removals, before new beat `lo`). Beats keep their bar; the
 * bars from the last kept downbeat before the edit to the next meter change after it are
 * counted again in that section's meter (with no downbeat before it, backwards from the first
 * one after it), so an added or removed beat shifts the bars up to the next meter change and
 * no further. Null when `old` has no positions.
 */
export function repositioned(
  old: Beats,
  times: Float64Array,
  from: Int32Array,
  lo: number,
  hi: number,
  bpb: number,
): Uint32Array | null {
  const op = old.positions;
  if (!op) return null;
  const n = times.length;
  const out = new Uint32Array(n);
  for (let k = 0; k < n; k++) out[k] = from[k] >= 0 ? op[from[k]] : 0;
  if (n === 0) return out;
  const sections = meterSections(op, bpb);
  const starts = new Set(sections.slice(1).map((s) => s.start));
  const keptDown = (k: number) => from[k] >= 0 && op[from[k]] === 1;
  let end = n;
  for (let k = Math.max(hi, 0); k < n; k++) {
    if (from[k] >= 0 && starts.has(from[k])) {
      end = k;
      break;
    }
  }
  let anchor = -1;
  for (let k = Math.min(lo, n) - 1; k >= 0; k--) {
    if (keptDown(k)) {
      anchor = k;
      break;
    }
  }
  let first = anchor;
  if (anchor < 0) {
    for (let k = Math.max(lo, 0); k < end; k++) {
      if (keptDown(k)) {
        anchor = k;
        break;
      }
    }
    first = 0;
  }
  if (anchor < 0) {
    // No downbeat kept before the next meter change: the first beat keeps its position.
    const m = sections[0].beatsPerBar;
    const p0 = out[0] > 0 ? out[0] : 1;
    countBars(out, 0, end, m, p0 === 1 ? 0 : m - p0 + 1);
    return out;
  }
  countBars(out, first, end, sectionOf(sections, from[anchor]).beatsPerBar, anchor);
  return out;
}
