// What the app says to the user where the words come from a driver or the build: the
// device's own text (ALSA's, wgpu's) goes to the log, the user reads what it means.
import type { AppError } from "./api";

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
