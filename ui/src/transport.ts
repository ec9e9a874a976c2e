// Playback controls: play/pause, position, speed, volumes, loop, tap-along; the playhead
// on the timeline follows the position the Rust player reports as heard (latency taken off).
import { api, toAppError, type AppError, type PlaybackView, type TransportState } from "./api";
import { formatTime } from "./timeline-math";
import { NO_OUTPUT_TEXT, outputFailed } from "./messages";
import type { Timeline } from "./timeline";

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

export class Transport {
  /** Track loaded in the player (null: none, or no audio output). */
  trackId: number | null = null;
  state: TransportState | null = null;
  /** Why playback is off (no audio device); the banner says so once per session. */
  unavailable: AppError | null = null;
  /** The no-audio banner was shown (or dismissed): it does not come back on a song switch. */
  private bannerShown = false;
  private outputText = "";
  private polling = false;
  private loadSeq = 0;

  constructor(
    private timeline: Timeline,
    private onError: (e: AppError) => void,
  ) {
    $("btn-play").onclick = () => void this.toggle();
    $<HTMLSelectElement>("speed").onchange = (e) =>
      void this.control({ action: "speed", speed: Number((e.target as HTMLSelectElement).value) });
    const gains = () =>
      void this.control({
        action: "gains",
        music_gain: Number($<HTMLInputElement>("music-gain").value),
        click_gain: Number($<HTMLInputElement>("click-gain").value),
      });
    $<HTMLInputElement>("music-gain").oninput = gains;
    $<HTMLInputElement>("click-gain").oninput = gains;
    $<HTMLInputElement>("loop").onchange = () => void this.applyLoop();
    $<HTMLInputElement>("follow").onchange = (e) => {
      this.timeline.follow = (e.target as HTMLInputElement).checked;
    };
    $("audio-banner-close").onclick = () => $("audio-banner").classList.add("hidden");
    $("audio-banner-msg").textContent = NO_OUTPUT_TEXT;
  }

  /** Loads a track into the player (in the background; the timeline does not wait). */
  async load(trackId: number) {
    const seq = ++this.loadSeq;
    this.trackId = null;
    this.state = null;
    this.timeline.setPlayhead(null, false);
    this.render();
    try {
      const v = await api.playbackLoad(trackId);
      if (seq !== this.loadSeq) return;
      this.unavailable = null;
      $("audio-banner").classList.add("hidden");
      this.trackId = trackId;
      this.apply(v);
      // Carry the user's settings over to the new song.
      await this.control({ action: "speed", speed: Number($<HTMLSelectElement>("speed").value) });
      await this.control({
        action: "gains",
        music_gain: Number($<HTMLInputElement>("music-gain").value),
        click_gain: Number($<HTMLInputElement>("click-gain").value),
      });
      await this.applyLoop();
    } catch (e) {
      if (seq !== this.loadSeq) return;
      const err = toAppError(e);
      if (err.code === "audio_device") {
        // The device's own words (ALSA's) are for the log, not the user.
        if (!this.unavailable) console.warn("no audio output:", err.message);
        this.unavailable = err;
        if (!this.bannerShown) this.showBanner();
      } else {
        this.onError(err);
      }
      this.render();
    }
  }

  /** No song in the player (it was removed, and the player let it go); a load still under way is ignored. */
  unload() {
    this.loadSeq++;
    this.trackId = null;
    this.state = null;
    this.timeline.setPlayhead(null, false);
    this.render();
  }

  /** Play/pause (Space). */
  async toggle() {
    if (this.trackId === null) {
      if (this.unavailable) this.showBanner();
      return;
    }
    await this.control({ action: "toggle" });
  }

  async seek(t: number) {
    this.timeline.setPlayhead(t, false);
    if (this.trackId !== null) await this.control({ action: "seek", position_s: t });
  }

  /** Range changed on the ruler: looped if Loop is on (a drag does not turn it on). */
  async setLoopRange(range: [number, number] | null) {
    this.timeline.loopS = range;
    await this.applyLoop();
  }

  /** Another song: no range, Loop off (the next `load` tells the player). */
  resetLoop() {
    this.timeline.loopS = null;
    $<HTMLInputElement>("loop").checked = false;
  }

  /** Whether a range long enough to loop is chosen on the ruler. */
  hasLoopRange(): boolean {
    const r = this.timeline.loopS;
    return !!r && r[1] - r[0] > 0.05;
  }

  toggleLoop() {
    const cb = $<HTMLInputElement>("loop");
    cb.checked = !cb.checked;
    void this.applyLoop();
  }

  private showBanner() {
    this.bannerShown = true;
    $("audio-banner").classList.remove("hidden");
  }

  /** Where the user hears the music now (for tapping beats), or null if not playing. */
  async heardPosition(): Promise<number | null> {
    if (this.trackId === null) return null;
    try {
      const v = await api.playbackState();
      return v.transport?.playing ? v.transport.position_s : null;
    } catch {
      return null;
    }
  }

  tapOffsetS(): number {
    const ms = Number($<HTMLInputElement>("tap-offset").value);
    return Number.isFinite(ms) ? ms / 1000 : 0;
  }

  private async applyLoop() {
    if (this.trackId === null) return;
    const on = $<HTMLInputElement>("loop").checked;
    const r = this.timeline.loopS;
    await this.control({ action: "loop", range_s: on && r && r[1] - r[0] > 0.05 ? r : null });
  }

  private async control(action: Parameters<typeof api.playbackControl>[0]) {
    if (this.trackId === null) return;
    try {
      this.apply(await api.playbackControl(action));
    } catch (e) {
      const err = toAppError(e);
      this.onError(err.code === "audio_device" ? outputFailed(err.message) : err);
    }
  }

  private apply(v: PlaybackView) {
    this.outputText = describeOutput(v);
    if (v.error) this.onError(outputFailed(v.error));
    this.state = v.transport;
    this.render();
    if (this.state?.playing && !this.polling) this.poll();
  }

  /** Follows the player every animation frame while it plays. */
  private poll() {
    this.polling = true;
    const step = async () => {
      if (this.trackId === null) {
        this.polling = false;
        return;
      }
      try {
        const v = await api.playbackState();
        this.state = v.transport;
        this.render();
      } catch {
        this.state = null;
      }
      if (this.state?.playing) requestAnimationFrame(() => void step());
      else {
        this.polling = false;
        this.render();
      }
    };
    requestAnimationFrame(() => void step());
  }

  private render() {
    const s = this.state;
    const btn = $<HTMLButtonElement>("btn-play");
    btn.disabled = this.trackId === null;
    btn.textContent = s?.playing ? "❚❚" : "▶";
    btn.classList.toggle("playing", !!s?.playing);
    btn.setAttribute("aria-label", s?.playing ? "Pause" : "Play");
    $("play-time").textContent = s ? `${formatTime(s.position_s, 0.001)} / ${formatTime(s.duration_s, 1)}` : "–:–";
    $("output-info").textContent = this.unavailable ? "no audio output" : this.outputText;
    if (s) this.timeline.setPlayhead(s.position_s, s.playing);
  }
}

/** Where the sound goes, for the transport bar. */
function describeOutput(v: PlaybackView): string {
  const o = v.output;
  return o ? `${o.device} · ${(o.sample_rate_hz / 1000).toFixed(1)} kHz · ${o.channels} ch` : "";
}
