import { describe, expect, it, vi } from "vitest";
import { barsReportText, keptShareText, deviceText, NO_OUTPUT_TEXT, outputFailed } from "./messages";

describe("user words", () => {
  it("the Learn panel names the device plainly, without build or driver words", () => {
    const cpu = { device: "CPU (burn flex)", device_is_gpu: false };
    expect(deviceText({ ...cpu, device_note: "this build has no GPU support (cargo feature `wgpu`)" })).toBe("Runs on the processor (CPU)");
    expect(deviceText({ ...cpu, device_note: "no wgpu adapter: NotFound" })).toBe("Runs on the processor (CPU)");
    expect(deviceText({ ...cpu, device_note: "no usable graphics card was found" })).toBe(
      "Runs on the processor (CPU) — no usable graphics card was found",
    );
    expect(deviceText({ device: "NVIDIA GeForce RTX 4070", device_is_gpu: true, device_note: null })).toBe(
      "Runs on the graphics card (NVIDIA GeForce RTX 4070)",
    );
  });

  it("audio failures are told in user words; the driver's go to the log", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const raw = "alsa:default: ALSA function 'snd_pcm_writei' failed with error 'EPIPE: Broken pipe'";
    const e = outputFailed(raw);
    expect(e.code).toBe("audio_device");
    expect(`${e.message} ${e.hint}`).not.toMatch(/ALSA|snd_|EPIPE/);
    expect(warn).toHaveBeenCalledWith("audio output error:", raw);
    warn.mockRestore();
    expect(NO_OUTPUT_TEXT).not.toMatch(/ZERONS_|environment|variable/i);
  });

  it("the Learn report says how much of the training was kept, only when not all of it", () => {
    expect(keptShareText(1)).toBeNull();
    expect(keptShareText(0.25)).toMatch(/^Kept 25% of what it learned: a smaller step did as well on the held-out beats/);
    expect(keptShareText(0.5)).toMatch(/^Kept 50% /);
  });

  it("the Learn report says what the bar numbers taught, and when the previous bar finder is kept", () => {
    const b = { songs: 2, train_beats: 90, held_out_beats: 30, accuracy_before: 0.5, accuracy_after: 0.9, best_epoch: 7 };
    expect(barsReportText(null)).toBeNull();
    expect(barsReportText(b)).toBe("Bars: learned from the bar numbers of the checked beats of 2 songs: held-out beats classed right as beat 1 or not: 50% → 90%.");
    expect(barsReportText({ ...b, songs: 1, accuracy_after: 0.5, best_epoch: 0 })).toMatch(/of 1 song taught nothing better .* the previous bar finder is kept/);
    expect(barsReportText({ ...b, held_out_beats: 0, accuracy_before: null, accuracy_after: null })).toMatch(/too few to check/);
  });
});
