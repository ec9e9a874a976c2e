import { describe, expect, it } from "vitest";
import type { Candidate, Proposal } from "./api";
import {
  adoptButtonText,
  adoptedText,
  canTick,
  changesText,
  defaultTicks,
  learnSummary,
  learnText,
  previewSummary,
  progressText,
  reasonText,
  rollbackText,
  scoreText,
  tempoText,
} from "./adopt";

const song = (over: Partial<Candidate> = {}): Candidate => ({
  track_id: 1,
  name: "a.flac",
  n_beats: 359,
  duration_s: 180,
  corrected: false,
  corrected_until_s: null,
  learn_region_s: null,
  learn_beats: 0,
  user_beats: 0,
  confirmed_beats: 0,
  unchecked_beats: 359,
  imported_beats: 0,
  ...over,
});

const checked = song({
  track_id: 2,
  corrected: true,
  corrected_until_s: 30.5,
  learn_region_s: [0.5, 30.5],
  learn_beats: 61,
  user_beats: 12,
  confirmed_beats: 49,
  unchecked_beats: 298,
});

const proposal = (over: Partial<Proposal> = {}): Proposal => ({
  track_id: 1,
  name: "a.flac",
  n_beats_now: 359,
  n_beats_new: 359,
  tempo_now_bpm: 120.02,
  tempo_new_bpm: 119.98,
  level_change: null,
  phase_change: false,
  changed: 3,
  kept_beats: 0,
  checked_beats: 0,
  f_before: null,
  f_after: null,
  trained_on: false,
  default_accept: true,
  reason: "same tempo and phase; the beats are refined",
  ...over,
});

describe("what will be learned", () => {
  it("an untouched song says nothing is checked, never that it was corrected", () => {
    const t = learnText(song(), false);
    expect(t).toBe("nothing checked yet — open it, check beats (K) or correct them");
    expect(t).not.toMatch(/corrected up to/);
    expect(learnText(song({ imported_beats: 359 }), false)).toMatch(/^nothing checked yet — its 359 imported beats count once you check them/);
  });

  it("a checked song says which stretch and how many beats, set by the user or checked", () => {
    expect(learnText(checked, false)).toBe("learns 0:00–0:31: 61 beats (12 set by you, 49 checked)");
    expect(learnText({ ...checked, user_beats: 0, confirmed_beats: 61 }, false)).toMatch(/\(all checked by you\)$/);
    expect(learnText({ ...checked, user_beats: 61, confirmed_beats: 0 }, false)).toMatch(/\(all set by you\)$/);
    // Checked beats in two stretches: only the longest is learned from, and it says so.
    expect(learnText({ ...checked, confirmed_beats: 59 }, false)).toBe(
      "learns 0:00–0:31: 61 beats, the longest checked stretch (10 checked elsewhere not used)",
    );
  });

  it("fewer than 4 checked beats in a row are not enough", () => {
    expect(learnText(song({ user_beats: 3 }), false)).toMatch(/^3 beats checked, fewer than 4 in a row/);
  });

  it("with 'every beat was checked', the whole song", () => {
    expect(learnText(song(), true)).toBe("whole song: 359 beats (all marked checked when training starts)");
    expect(learnText(song({ n_beats: 0 }), true)).toBe("no beats yet");
  });

  it("ticks: checked songs by default; untouched ones only with whole songs", () => {
    expect([...defaultTicks([song(), checked])]).toEqual([2]);
    expect(canTick(song(), false)).toBe(false);
    expect(canTick(song(), true)).toBe(true);
    expect(canTick(song({ n_beats: 0 }), true)).toBe(false);
    expect(canTick(checked, false)).toBe(true);
  });

  it("the summary line counts the checked beats of the ticked songs", () => {
    expect(learnSummary([song(), checked], new Set([2]), false)).toBe("Learns from 1 song: 61 checked beats.");
    // An untouched song ticked without "whole songs" is not counted.
    expect(learnSummary([song(), checked], new Set([1, 2]), false)).toBe("Learns from 1 song: 61 checked beats.");
    expect(learnSummary([song(), checked], new Set([1, 2]), true)).toBe("Learns from 2 songs: 718 beats (whole songs).");
    expect(learnSummary([song(), checked], new Set(), false)).toBe("Tick the songs to learn from.");
    expect(learnSummary([song()], new Set(), false)).toMatch(/^Nothing to learn from yet: open a song, press K/);
  });
});

describe("the adoption view", () => {
  it("tempo now → new; a level change is called out", () => {
    expect(tempoText(proposal())).toEqual({ text: "120 BPM", warn: false });
    expect(tempoText(proposal({ tempo_new_bpm: 124 }))).toEqual({ text: "120 → 124 BPM", warn: false });
    expect(tempoText(proposal({ tempo_now_bpm: 170, tempo_new_bpm: 85, level_change: "170 → 85 BPM" }))).toEqual({
      text: "170 → 85 BPM",
      warn: true,
    });
    expect(tempoText(proposal({ tempo_now_bpm: null, tempo_new_bpm: null }))).toEqual({ text: "—", warn: false });
  });

  it("changed beats, and the user's beats kept", () => {
    expect(changesText(proposal())).toEqual({ changed: "3 of 359 change", kept: "" });
    expect(changesText(proposal({ changed: 0, kept_beats: 61 }))).toEqual({ changed: "no beat changes", kept: "61 of yours kept" });
  });

  it("F on the checked beats, before → after", () => {
    expect(scoreText(proposal())).toBeNull();
    expect(scoreText(proposal({ checked_beats: 61, f_before: 0.62, f_after: 0.97 }))).toEqual({ text: "0.62 → 0.97 (61 beats)", trend: "better" });
    expect(scoreText(proposal({ checked_beats: 1, f_before: 1, f_after: 0.5 }))?.trend).toBe("worse");
    expect(scoreText(proposal({ checked_beats: 8, f_before: 1, f_after: 1 }))?.trend).toBe("same");
  });

  it("reasons read as sentences", () => {
    expect(reasonText(proposal())).toBe("Same tempo and phase; the beats are refined.");
    expect(reasonText(proposal({ reason: "worse on the 8 beats you checked (F 1.00 → 0.50)" }))).toBe(
      "Worse on the 8 beats you checked (F 1.00 → 0.50).",
    );
    expect(reasonText(proposal({ reason: "" }))).toBe("");
  });

  it("progress, summary and button words", () => {
    expect(progressText(1, 3)).toBe("Analysing song 2 of 3…");
    expect(progressText(3, 3)).toBe("Analysed 3 songs.");
    const ps = [proposal(), proposal({ track_id: 3, default_accept: false })];
    const done = { kind: "done" as const, model_id: 7, checked_beats: 61, f_before: 0.62, f_after: 0.97, songs_better: 1, songs_worse: 0 };
    expect(previewSummary(done, ps, new Set([1]))).toBe(
      "On the 61 beats you checked: F 0.62 → 0.97, better on 1 song. 1 of 2 songs ticked.",
    );
    expect(previewSummary({ ...done, songs_better: 2, songs_worse: 1 }, ps, new Set([1]))).toMatch(/better on 2 songs, worse on 1 song\. 1 of 2/);
    expect(previewSummary({ ...done, f_after: 0.62, songs_better: 0 }, ps, new Set([1]))).toMatch(/F 0\.62 → 0\.62, the same on every song\./);
    expect(previewSummary({ ...done, checked_beats: 0, f_before: null, f_after: null }, ps, new Set())).toMatch(
      /^No song has checked beats to score the model on.* 0 of 2 songs ticked\.$/,
    );
    expect(adoptButtonText(0)).toBe("Use the model for new songs only");
    expect(adoptButtonText(2)).toBe("Use the model and update the ticked songs (2)");
  });

  it("what adopting and rolling back did", () => {
    const r = { active_model: 7, adoption_id: 1, accepted: [{ track_id: 1, name: "a.flac", n_beats: 359 }] };
    expect(adoptedText(r, 3, "fine-tuned #1")).toBe("Now using fine-tuned #1. 1 song updated; 2 songs kept their beats. Roll back undoes this.");
    expect(adoptedText({ ...r, accepted: [] }, 1, "x")).toBe("Now using x. No song updated; 1 song kept its beats. Roll back undoes this.");
    expect(rollbackText({ active_model: null, reverted: 2, kept_edited: 0 })).toBe(
      "Rolled back: the previous model is in use again, 2 songs got their beats back.",
    );
    expect(rollbackText({ active_model: null, reverted: 0, kept_edited: 1 })).toBe(
      "Rolled back: the previous model is in use again, 0 songs got their beats back; 1 song you edited since was left alone.",
    );
  });
});
