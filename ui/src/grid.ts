// DJ grid settings, shared by the export dialog (Rekordbox, Traktor) and the "straighten
// beats" edit (G, or the tempo dialog): pure helpers of export.ts and main.ts (vitest).
import { formatTime } from "./timeline-math";

export type GridStyle = "straight" | "variable" | "per-beat";

/** The grid the DJ exports write, and how far the beats may drift from it. */
export interface GridPrefs {
  style: GridStyle;
  /** How far (ms) the beats may drift from the grid before a new tempo section (straight: the mean over 6 beats, one beat up to twice this). */
  tolerance_ms: number;
}

/** The engine's defaults (`formats::GridConfig`): a straight grid, 25 ms. */
export const DEFAULT_GRID: GridPrefs = { style: "straight", tolerance_ms: 25 };
/** The engine accepts 0–50 ms. */
export const MAX_TOLERANCE_MS = 50;

export const GRID_STYLES: readonly [GridStyle, string][] = [
  ["straight", "Straight: a new tempo only where it changes"],
  ["variable", "Variable: anchors on beats"],
  ["per-beat", "A marker on every beat"],
];

const KEY = "zerons.grid";

/** A tolerance the engine takes, or null (empty, not a number, outside 0–50 ms). */
export function parseTolerance(text: string): number | null {
  if (text.trim() === "") return null;
  const v = Number(text);
  return Number.isFinite(v) && v >= 0 && v <= MAX_TOLERANCE_MS ? v : null;
}

/** A tolerance field's value, flagging the field when it is not one the engine takes. */
export function readToleranceField(input: HTMLInputElement): number | null {
  const tol = parseTolerance(input.value);
  input.classList.toggle("invalid", tol === null);
  return tol;
}

/** The saved settings (or the defaults for what is missing or broken). */
export function loadGridPrefs(storage: Pick<Storage, "getItem"> | null = safeStorage()): GridPrefs {
  try {
    const p = JSON.parse(storage?.getItem(KEY) ?? "{}") as Partial<Record<keyof GridPrefs, unknown>>;
    const style = GRID_STYLES.some(([s]) => s === p.style) ? (p.style as GridStyle) : DEFAULT_GRID.style;
    const tol = typeof p.tolerance_ms === "number" ? parseTolerance(String(p.tolerance_ms)) : null;
    return { style, tolerance_ms: tol ?? DEFAULT_GRID.tolerance_ms };
  } catch {
    return { ...DEFAULT_GRID };
  }
}

export function saveGridPrefs(prefs: GridPrefs, storage: Pick<Storage, "setItem"> | null = safeStorage()) {
  try {
    storage?.setItem(KEY, JSON.stringify(prefs));
  } catch {
    // Storage off (private mode): the settings last until the window closes.
  }
}

function safeStorage(): Storage | null {
  try {
    return typeof localStorage === "undefined" ? null : localStorage;
  } catch {
    return null;
  }
}

/** What the straighten edit reports (src-tauri `export::StraightenView`, without the song). */
export interface StraightenResult {
  n_beats: number;
  n_sections: number;
  bpms: number[];
  max_shift_ms: number;
  changed: boolean;
}

const bpm = (b: number) => b.toFixed(1);

/** The tempi of the sections: "120.0 BPM", "120.0 → 100.0 BPM", "120.0 → … → 96.0 BPM (5 sections)". */
export function sectionsText(bpms: readonly number[]): string {
  if (bpms.length === 0) return "";
  if (bpms.length === 1) return `${bpm(bpms[0])} BPM`;
  if (bpms.length <= 3) return `${bpms.map(bpm).join(" → ")} BPM`;
  return `${bpm(bpms[0])} → … → ${bpm(bpms[bpms.length - 1])} BPM (${bpms.length} sections)`;
}

/** The toast after the edit, e.g. "Straightened 212 beats (0:00–3:12) onto one tempo: 120.0 BPM; no beat moved more than 7.3 ms. Ctrl+Z undoes it." */
export function straightenText(r: StraightenResult, span: [number, number], toleranceMs: number): string {
  const where = `${formatTime(Math.floor(span[0]))}–${formatTime(Math.ceil(span[1]))}`;
  if (!r.changed) return `The beats ${where} are straight already (within ${toleranceMs} ms): ${sectionsText(r.bpms)}.`;
  const onto = r.n_sections === 1 ? "one tempo" : `${r.n_sections} tempo sections`;
  return (
    `Straightened ${r.n_beats} beats (${where}) onto ${onto}: ${sectionsText(r.bpms)}; ` +
    `no beat moved more than ${r.max_shift_ms.toFixed(1)} ms. Ctrl+Z undoes it.`
  );
}
