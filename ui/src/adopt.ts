// What the Learn panel says (pure, vitest): what each song would be learned from, which
// songs are ticked, and the adoption view's words for a model's preview (issue 19: the
// learning loop never makes a project worse).
import type { AdoptResult, Candidate, PreviewEvent, Proposal, RollbackResult } from "./api";
import { formatTime } from "./timeline-math";

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** A stretch of the song to the second around it: "0:00–0:31" for beats 0.5 s to 30.5 s. */
export function spanText([a, b]: [number, number]): string {
  return `${formatTime(Math.floor(a))}–${formatTime(Math.ceil(b))}`;
}

// ---- what will be learned ----------------------------------------------------------------------

/** Whether a song may be ticked: it has a stretch of checked beats, or every beat of it counts as checked (`whole`). */
export function canTick(c: Candidate, whole: boolean): boolean {
  return c.n_beats > 0 && (c.corrected || whole);
}

/** The songs ticked when the panel opens: those with checked beats to learn from. */
export function defaultTicks(candidates: readonly Candidate[]): Set<number> {
  return new Set(candidates.filter((c) => c.corrected && c.n_beats > 0).map((c) => c.track_id));
}

/**
 * Exactly what fine-tuning would learn from one song, e.g. "learns 0:00–0:31: 52 beats
 * (12 set by you, 40 checked)". A song nobody checked says so, and never that it was corrected.
 * `whole`: "every beat of these songs was checked" is ticked (the whole song is confirmed first).
 */
export function learnText(c: Candidate, whole: boolean): string {
  if (c.n_beats === 0) return "no beats yet";
  if (whole) return `whole song: ${plural(c.n_beats, "beat")} (all marked checked when training starts)`;
  const checked = c.user_beats + c.confirmed_beats;
  if (c.corrected && c.learn_region_s) {
    const head = `learns ${spanText(c.learn_region_s)}: ${plural(c.learn_beats, "beat")}`;
    if (checked === c.learn_beats) {
      const parts =
        c.user_beats && c.confirmed_beats
          ? `${c.user_beats} set by you, ${c.confirmed_beats} checked`
          : c.user_beats
            ? "all set by you"
            : "all checked by you";
      return `${head} (${parts})`;
    }
    // Several checked stretches: only the longest is learned from (no unchecked beat inside).
    return `${head}, the longest checked stretch (${checked - c.learn_beats} checked elsewhere not used)`;
  }
  if (checked > 0) return `${plural(checked, "beat")} checked, fewer than 4 in a row — check more (K) to learn from it`;
  if (c.imported_beats > 0) return `nothing checked yet — its ${plural(c.imported_beats, "imported beat")} count once you check them (K)`;
  return "nothing checked yet — open it, check beats (K) or correct them";
}

/** The line under the song list: what a run would learn from the ticked songs. */
export function learnSummary(candidates: readonly Candidate[], ticked: ReadonlySet<number>, whole: boolean): string {
  const chosen = candidates.filter((c) => ticked.has(c.track_id) && canTick(c, whole));
  if (chosen.length === 0) {
    return candidates.some((c) => c.corrected)
      ? "Tick the songs to learn from."
      : "Nothing to learn from yet: open a song, press K where its beats are right (or correct them), then come back.";
  }
  const beats = chosen.reduce((s, c) => s + (whole ? c.n_beats : c.learn_beats), 0);
  return `Learns from ${plural(chosen.length, "song")}: ${plural(beats, whole ? "beat" : "checked beat")}` + (whole ? " (whole songs)." : ".");
}

// ---- the adoption view ---------------------------------------------------------------------------

const bpm = (x: number | null) => (x === null ? "—" : String(Math.round(x)));

/** Tempo now → new; `warn` when the tempo level changes (the level change itself is the text). */
export function tempoText(p: Proposal): { text: string; warn: boolean } {
  if (p.level_change) return { text: p.level_change, warn: true };
  if (p.tempo_now_bpm === null && p.tempo_new_bpm === null) return { text: "—", warn: false };
  const now = bpm(p.tempo_now_bpm);
  const next = bpm(p.tempo_new_bpm);
  return { text: now === next ? `${now} BPM` : `${now} → ${next} BPM`, warn: false };
}

/** The beats that would change, and those kept whatever is chosen ("" when none). */
export function changesText(p: Proposal): { changed: string; kept: string } {
  return {
    changed: p.changed === 0 ? "no beat changes" : `${p.changed} of ${p.n_beats_now} change`,
    kept: p.kept_beats > 0 ? `${p.kept_beats} of yours kept` : "",
  };
}

/** F-measure on the song's checked beats, previous model → new; null when none was checked. */
export function scoreText(p: Proposal): { text: string; trend: "better" | "worse" | "same" } | null {
  if (p.checked_beats === 0 || p.f_before === null || p.f_after === null) return null;
  const d = p.f_after - p.f_before;
  return {
    text: `${p.f_before.toFixed(2)} → ${p.f_after.toFixed(2)} (${plural(p.checked_beats, "beat")})`,
    trend: d > 1e-9 ? "better" : d < -1e-9 ? "worse" : "same",
  };
}

/** The server's reason as a sentence. */
export function reasonText(p: Proposal): string {
  const r = p.reason.trim();
  if (!r) return "";
  const s = r[0].toUpperCase() + r.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
}

/** Progress of a preview, per song. */
export function progressText(done: number, total: number): string {
  return done >= total ? `Analysed ${plural(total, "song")}.` : `Analysing song ${done + 1} of ${total}…`;
}

type Done = Extract<PreviewEvent, { kind: "done" }>;

/** The preview's verdict over every checked beat, and how many songs are ticked. */
export function previewSummary(done: Done, proposals: readonly Proposal[], ticked: ReadonlySet<number>): string {
  const score =
    done.checked_beats > 0 && done.f_before !== null && done.f_after !== null
      ? `On the ${plural(done.checked_beats, "beat")} you checked: F ${done.f_before.toFixed(2)} → ${done.f_after.toFixed(2)}, ` +
        (done.songs_better || done.songs_worse
          ? [
              done.songs_better ? `better on ${plural(done.songs_better, "song")}` : "",
              done.songs_worse ? `worse on ${plural(done.songs_worse, "song")}` : "",
            ]
              .filter(Boolean)
              .join(", ") + "."
          : "the same on every song.")
      : "No song has checked beats to score the model on: check beats (K) for a fair comparison.";
  const n = proposals.filter((p) => ticked.has(p.track_id)).length;
  return `${score} ${n} of ${plural(proposals.length, "song")} ticked.`;
}

/** The adopt button's words for `n` ticked songs. */
export function adoptButtonText(n: number): string {
  return n === 0 ? "Use the model for new songs only" : `Use the model and update the ticked songs (${n})`;
}

/** What adopting did. */
export function adoptedText(r: AdoptResult, totalSongs: number, modelName: string): string {
  const k = r.accepted.length;
  const kept = totalSongs - k;
  return (
    `Now using ${modelName}. ` +
    (k ? `${plural(k, "song")} updated` : "No song updated") +
    (kept > 0 ? `; ${plural(kept, "song")} kept ${kept === 1 ? "its" : "their"} beats.` : ".") +
    " Roll back undoes this."
  );
}

/** What rolling back did. */
export function rollbackText(r: RollbackResult): string {
  return (
    `Rolled back: the previous model is in use again, ${plural(r.reverted, "song")} got ${r.reverted === 1 ? "its" : "their"} beats back` +
    (r.kept_edited ? `; ${plural(r.kept_edited, "song")} you edited since ${r.kept_edited === 1 ? "was" : "were"} left alone.` : ".")
  );
}
