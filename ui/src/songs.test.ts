import { describe, expect, it } from "vitest";
import { badgeOf, basename, importedText, removeQuestion, songOfMissingFile } from "./songs";
import type { TrackView } from "./api";

const song = (over: Partial<TrackView> = {}): TrackView => ({
  id: 1,
  path: "/music/a.flac",
  name: "a.flac",
  duration_s: 180,
  sample_rate_hz: 44100,
  channels: 2,
  status: "ok",
  head: null,
  tempo_bpm: null,
  can_undo: false,
  can_redo: false,
  n_revisions: 1,
  ...over,
});

describe("songs", () => {
  it("asks before removing, saying what goes and what stays", () => {
    expect(removeQuestion("Song.flac")).toBe(
      "Remove «Song.flac» from the project? Its beats and their history go with it; the audio file stays where it is.",
    );
  });

  it("says how many beats an import brought and that they are not checked", () => {
    expect(importedText(120, "song.csv")).toMatch(/^Imported 120 beats from song\.csv — check them \(K\) before learning from them/);
    expect(importedText(1, "one.txt")).toMatch(/^Imported 1 beat from one\.txt/);
  });

  it("finds the song a missing_file error names, the longest path first, never another file's", () => {
    const tracks = [song({ id: 1, path: "/music/a.flac" }), song({ id: 2, path: "/music/a.flac.d/a.flac" }), song({ id: 3, path: "/m/b c.mp3" })];
    const msg = (p: string) => `${p} is missing: it was moved, renamed or deleted`;
    expect(songOfMissingFile(msg("/music/a.flac"), tracks)?.id).toBe(1);
    expect(songOfMissingFile(msg("/music/a.flac.d/a.flac"), tracks)?.id).toBe(2);
    expect(songOfMissingFile(msg("/m/b c.mp3"), tracks)?.id).toBe(3);
    // A beat file being imported, or a prefix of a song's path: no song.
    expect(songOfMissingFile(msg("/beats/a.csv"), tracks)).toBeUndefined();
    expect(songOfMissingFile(msg("/music/a"), tracks)).toBeUndefined();
    expect(songOfMissingFile(msg("/x"), [song({ path: "" })])).toBeUndefined();
  });

  it("a song whose file is missing or changed gets the relink badge before its author's", () => {
    const head = { id: 3, author: "user" as const, note: "", n_beats: 4, created_at: "", provenance: { model: 0, user: 4, confirmed: 0, continued: 0, imported: 0, checked_spans: [] } };
    expect(badgeOf(song({ status: "missing", head }))?.cls).toBe("badge warn relink");
    expect(badgeOf(song({ status: "missing", head }))?.text).toBe("missing · relink…");
    expect(badgeOf(song({ status: "changed" }))?.title).toMatch(/changed at \/music\/a\.flac/);
    expect(badgeOf(song({ head }))).toEqual({ cls: "badge user", text: "edited", title: "" });
    expect(badgeOf(song({ head: { ...head, author: "import" } }))?.text).toBe("import");
    expect(badgeOf(song())).toBeNull();
  });

  it("names a file by its last path component, on any system", () => {
    expect(basename("/music/beats/x.csv")).toBe("x.csv");
    expect(basename("C:\\Music\\y.txt")).toBe("y.txt");
  });
});
