import { describe, expect, it, vi } from "vitest";
import { deviceText, NO_OUTPUT_TEXT, outputFailed } from "./messages";

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
});
