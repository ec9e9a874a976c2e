// What the app says to the user where the words come from a driver or the build: the
// device's own text (ALSA's, wgpu's) goes to the log, the user reads what it means.
import type { AppError, BarsFinetuneReport, FinetuneReport } from "./api";

/** The no-audio banner's words. */
export const NO_OUTPUT_TEXT =
  "Playback is off: no speakers or headphones could be opened. Editing, analysis and export work as usual. " +
  "Connect an audio output, then select a song to try again.";

/**
 * The audio output failed while in use (unplugged, taken by another program). The driver's
 * words ("ALSA function 'snd_pcm_writei' failed with error 'EPIPE'") go to the log.
 */
export function outputFailed(detail: string): AppError {
  console.warn("audio output error:", detail);
  return {
    code: "audio_device",
    message: "Playback stopped: the audio output stopped working.",
    hint: "Check that the speakers or headphones are connected, then select the song again.",
  };
}

/** Words that only a developer reads: a build feature, a crate, a backend, a driver call. */
const DEVELOPER_WORDS = /cargo|feature|`|wgpu|burn|adapter|backend|alsa|snd_|cpal|panick/i;

/** Where fine-tuning runs, for the Learn panel ("Runs on the processor (CPU) — …"). */
export function deviceText(info: { device: string; device_is_gpu: boolean; device_note: string | null }): string {
  const where = info.device_is_gpu ? `the graphics card (${info.device})` : "the processor (CPU)";
  const note = info.device_note && !DEVELOPER_WORDS.test(info.device_note) ? ` — ${info.device_note}` : "";
  return `Runs on ${where}${note}`;
}

/**
 * The Learn report's line on how much of the training was kept (engine
 * `FinetuneConfig::interpolations`: a smaller step back toward the previous model that did as
 * well on the held-out beats), or null when all of it was kept.
 */
export function keptShareText(share: number): string | null {
  if (!(share < 1)) return null;
  return `Kept ${Math.round(share * 100)}% of what it learned: a smaller step did as well on the held-out beats and changes less of what the previous model did right elsewhere.`;
}

/**
 * The Learn report's verdict when nothing was trained (engine `FinetuneConfig::when_base_agrees`):
 * the previous model's own beats already matched every beat the user checked.
 */
export const NOTHING_TO_LEARN_TEXT =
  "Nothing to learn: the previous model already places every beat you checked (each within 70 ms), so its beat finder is kept unchanged. Correct the beats it gets wrong, then learn again.";

/** The Learn report's verdict: its tone (the colour) and words. */
export function learnVerdict(
  r: Pick<FinetuneReport, "before" | "after" | "improved" | "validated" | "base_kept">,
): { tone: "good" | "bad" | "neutral"; text: string } {
  if (r.base_kept) return { tone: "neutral", text: NOTHING_TO_LEARN_TEXT };
  const same = !!r.before && !!r.after && Math.abs(r.after.f_measure - r.before.f_measure) < 1e-9;
  if (r.improved) {
    return {
      tone: "good",
      text: same
        ? "Same F-measure on the held-out beats, with a lower held-out loss (more confident peaks). “Use this model…” shows what it would change in each song before anything changes."
        : "The fine-tuned model finds the held-out beats better. “Use this model…” shows what it would change in each song before anything changes.",
    };
  }
  return {
    tone: "bad",
    text: r.validated
      ? "The fine-tuned model is not better on the held-out beats. Keeping the previous model is recommended; you can still try it."
      : "Too few corrected beats to hold any out: the new model could not be checked. Correct more beats for a reliable comparison.",
  };
}

/** The Learn report's line on the bars ("which beat is 1"), or null when nothing was learned. */
export function barsReportText(b: BarsFinetuneReport | null): string | null {
  if (!b) return null;
  const whose = b.songs === 1 ? "the checked beats of 1 song" : `the checked beats of ${b.songs} songs`;
  if (b.accuracy_before === null || b.accuracy_after === null) {
    return `Bars: learned from the bar numbers of ${whose} (${b.train_beats} beats; too few to check on held-out beats).`;
  }
  const pct = (x: number) => `${Math.round(x * 100)}%`;
  const change = `${pct(b.accuracy_before)} → ${pct(b.accuracy_after)}`;
  return b.best_epoch === 0
    ? `Bars: the bar numbers of ${whose} taught nothing better (held-out beats classed right as beat 1 or not: ${change}); the previous bar finder is kept.`
    : `Bars: learned from the bar numbers of ${whose}: held-out beats classed right as beat 1 or not: ${change}.`;
}
