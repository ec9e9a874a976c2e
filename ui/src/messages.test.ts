import { describe, expect, it, vi } from "vitest";
import { barsReportText, keptShareText, deviceText, NO_OUTPUT_TEXT, NOTHING_TO_LEARN_TEXT, learnVerdict, outputFailed } from "./messages";

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

  it("the Learn verdict says when there was nothing to learn, and judges the held-out beats otherwise", () => {
    const s = (f: number) => ({ f_measure: f, cmlt: f, amlt: f, beats: 11 });
    const kept = learnVerdict({ before: s(1), after: s(1), improved: false, validated: true, base_kept: true });
    expect(kept).toEqual({ tone: "neutral", text: NOTHING_TO_LEARN_TEXT });
    expect(kept.text).toMatch(/^Nothing to learn: .*every beat you checked.*Correct the beats it gets wrong/);
    const better = learnVerdict({ before: s(0.6), after: s(0.9), improved: true, validated: true, base_kept: false });
    expect(better.tone).toBe("good");
    expect(better.text).toMatch(/finds the held-out beats better/);
    expect(learnVerdict({ before: s(0.9), after: s(0.9), improved: true, validated: true, base_kept: false }).text).toMatch(/^Same F-measure/);
    expect(learnVerdict({ before: s(0.9), after: s(0.8), improved: false, validated: true, base_kept: false }).tone).toBe("bad");
    expect(learnVerdict({ before: null, after: null, improved: false, validated: false, base_kept: false }).text).toMatch(/^Too few corrected beats/);
  });

  it("the Learn report says what the bar numbers taught, and when the previous bar finder is kept", () => {
    const b = { songs: 2, train_beats: 90, held_out_beats: 30, accuracy_before: 0.5, accuracy_after: 0.9, best_epoch: 7 };
    expect(barsReportText(null)).toBeNull();
    expect(barsReportText(b)).toBe("Bars: learned from the bar numbers of the checked beats of 2 songs: held-out beats classed right as beat 1 or not: 50% → 90%.");
    expect(barsReportText({ ...b, songs: 1, accuracy_after: 0.5, best_epoch: 0 })).toMatch(/of 1 song taught nothing better .* the previous bar finder is kept/);
    expect(barsReportText({ ...b, held_out_beats: 0, accuracy_before: null, accuracy_after: null })).toMatch(/too few to check/);
  });
});
