// The song list and what is done to a song as a whole: remove it from the project (asked in
// the app's dialog), import a beat file as its beats (an undoable revision, through the edit
// queue), relink a moved or changed file (asked again when it is not the same length), and a
// file that went away while the app runs (the song gets its relink badge).
import { api, toAppError, type AppError, type TrackView } from "./api";
import { ask } from "./ask";
import { formatTime } from "./timeline-math";

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

/** The page's state the songs share with the editor (main.ts `state`). */
export interface SongsState {
  tracks: TrackView[];
  trackId: number | null;
  /** Per song, the head revision the next commit is based on. */
  baseRev: Map<number, number>;
  /** Edits are committed one after another: whatever moves a song's head waits its turn. */
  queue: Promise<unknown>;
  pendingEdits: number;
}

export interface SongsHost {
  state: SongsState;
  toast(e: AppError | string, kind?: "error" | "info"): void;
  selectTrack(id: number): Promise<void>;
  /** No song is open any more (the last one was removed). */
  closeSong(): void;
  /** Saves a pending run of taps (its own undo step) before something else changes the beats. */
  flushTaps(): void;
  /** Reads the open song's beats again (after its head moved on the server). */
  reloadBeats(): Promise<void>;
  updateStatus(): void;
  /** The empty-list and count texts. */
  updateEmpty(): void;
}

export function basename(p: string): string {
  return p.split(/[\\/]/).pop() ?? p;
}

/** The question before a song is removed. */
export function removeQuestion(name: string): string {
  return `Remove «${name}» from the project? Its beats and their history go with it; the audio file stays where it is.`;
}

/** What an import did, and what to do next. */
export function importedText(nBeats: number, file: string): string {
  return `Imported ${nBeats} beat${nBeats === 1 ? "" : "s"} from ${file} — check them (K) before learning from them. Ctrl+Z undoes the import.`;
}

/**
 * The song whose file a `missing_file` error names ("/music/a.flac is missing: …"), or
 * undefined (another file, a beat file being imported for one). The longest path wins.
 */
export function songOfMissingFile<T extends { path: string }>(message: string, tracks: readonly T[]): T | undefined {
  let best: T | undefined;
  for (const t of tracks) {
    if (t.path && message.startsWith(`${t.path} `) && (!best || t.path.length > best.path.length)) best = t;
  }
  return best;
}

/** The badge of a song: its file's state first (a way to fix it), else who made its beats. */
export function badgeOf(t: TrackView): { cls: string; text: string; title: string } | null {
  if (t.status !== "ok") {
    return {
      cls: "badge warn relink",
      text: `${t.status} · relink…`,
      title: `The file ${t.status === "missing" ? "is not at" : "changed at"} ${t.path}. Click to choose where it is now (beats and analyses are kept).`,
    };
  }
  if (!t.head) return null;
  return { cls: `badge ${t.head.author}`, text: t.head.author === "user" ? "edited" : t.head.author, title: "" };
}

export class Songs {
  constructor(private host: SongsHost) {}

  private get state() {
    return this.host.state;
  }

  /** The track list, from `state.tracks`. */
  render() {
    const ul = $("tracks");
    ul.replaceChildren();
    for (const t of this.state.tracks) {
      const li = document.createElement("li");
      li.dataset.track = String(t.id);
      li.classList.toggle("active", t.id === this.state.trackId);
      const name = document.createElement("div");
      name.className = "name";
      name.textContent = t.name;
      name.title = t.path;
      const meta = document.createElement("div");
      meta.className = "meta";
      const parts = [formatTime(t.duration_s)];
      if (t.tempo_bpm) parts.push(`${t.tempo_bpm.toFixed(1)} BPM`);
      parts.push(`${t.head?.n_beats ?? 0} beats`);
      const facts = document.createElement("span");
      facts.className = "facts";
      facts.textContent = parts.join(" · ");
      meta.append(facts);
      const b = badgeOf(t);
      if (b) {
        const badge = document.createElement("span");
        badge.className = b.cls;
        badge.textContent = b.text;
        if (b.title) badge.title = b.title;
        if (t.status !== "ok") {
          badge.onclick = (ev) => {
            ev.stopPropagation();
            void this.relink(t);
          };
        }
        meta.append(badge);
      }
      // Shown on hover and keyboard focus (Tab reaches it); asks before anything happens.
      const remove = document.createElement("button");
      remove.className = "remove";
      remove.textContent = "×";
      remove.title = "Remove from the project…";
      remove.setAttribute("aria-label", `Remove ${t.name} from the project`);
      remove.onclick = (ev) => {
        ev.stopPropagation();
        void this.remove(t);
      };
      li.append(name, meta, remove);
      li.onclick = () => void this.host.selectTrack(t.id);
      ul.append(li);
    }
    this.host.updateEmpty();
  }

  /**
   * A song's new state from a command. `TrackView.status` is only checked by `list_tracks` and
   * `relink_track` (`fresh`); the others say "ok" without looking, so the known state is kept.
   */
  replace(tv: TrackView, fresh = false) {
    const i = this.state.tracks.findIndex((t) => t.id === tv.id);
    if (i >= 0) this.state.tracks[i] = fresh ? tv : { ...tv, status: this.state.tracks[i].status };
    this.render();
    this.host.updateStatus();
  }

  /** Every song again, their files checked. */
  async refresh() {
    try {
      this.state.tracks = await api.listTracks();
    } catch (e) {
      this.host.toast(toAppError(e));
      return;
    }
    this.render();
  }

  /** Asks, then removes the song; the open song's removal opens the first one left. */
  async remove(t: TrackView) {
    const yes = await ask({ title: "Remove the song?", message: removeQuestion(t.name), yes: "Remove", danger: true });
    if (!yes) return;
    // The song's pending edits are saved (or fail) first, and none is sent after it is gone.
    this.host.flushTaps();
    const run = this.state.queue.then(() => api.removeTrack(t.id));
    this.state.queue = run.catch(() => undefined);
    let rest: TrackView[];
    try {
      rest = await run;
    } catch (e) {
      this.host.toast(toAppError(e));
      return;
    }
    // The remaining songs with their files checked (as `list_tracks` does).
    this.state.tracks = rest;
    this.state.baseRev.delete(t.id);
    this.render();
    this.host.toast(`Removed ${t.name} from the project. The audio file is still at ${t.path}.`, "info");
    if (this.state.trackId === t.id) {
      if (rest.length) await this.host.selectTrack(rest[0].id);
      else this.host.closeSong();
    } else {
      this.host.updateStatus();
    }
  }

  /** One file from the dialog of `kind`; null when dismissed (or failed: said in a toast). */
  private async pickOne(kind: "beat_file" | "relink"): Promise<string | null> {
    try {
      const picked = await api.pickPath(kind);
      return picked && picked.length > 0 ? picked[0] : null;
    } catch (e) {
      this.host.toast(toAppError(e));
      return null;
    }
  }

  /** Picks a beat file and makes its beats the open song's (one undo step). */
  async importBeats() {
    const trackId = this.state.trackId;
    if (trackId === null) return;
    this.host.flushTaps();
    const file = await this.pickOne("beat_file");
    if (file === null) return;
    // Like a commit: after the edits before it, and the next edit is based on its revision.
    this.state.pendingEdits++;
    this.host.updateStatus();
    this.state.queue = this.state.queue
      .then(async () => {
        const tv = await api.importBeatFile(trackId, file);
        this.state.baseRev.set(trackId, tv.head?.id ?? -1);
        this.replace(tv);
        if (this.state.trackId === trackId) await this.host.reloadBeats();
        this.host.toast(importedText(tv.head?.n_beats ?? 0, basename(file)), "info");
      })
      .catch((e) => this.host.toast(toAppError(e)))
      .finally(() => {
        this.state.pendingEdits--;
        this.host.updateStatus();
      });
    await this.state.queue;
  }

  /**
   * Points the song at the file the user picks. A file of another length is another recording
   * or an edit whose beats would not fit: asked again, then relinked with `force`.
   */
  async relink(t: TrackView) {
    const path = await this.pickOne("relink");
    if (path === null) return;
    let tv: TrackView;
    try {
      tv = await api.relinkTrack(t.id, path);
    } catch (e) {
      const err = toAppError(e);
      if (err.code !== "relink_mismatch") {
        this.host.toast(err);
        return;
      }
      const yes = await ask({ title: "Relink anyway?", message: err.message, hint: err.hint, yes: "Relink anyway" });
      if (!yes) return;
      try {
        tv = await api.relinkTrack(t.id, path, true);
      } catch (e2) {
        this.host.toast(toAppError(e2));
        return;
      }
    }
    this.replace(tv, true);
    this.host.toast(`${tv.name} now points at ${tv.path}`, "info");
    if (this.state.trackId === t.id) await this.host.selectTrack(t.id);
  }

  /**
   * A `missing_file` error: the song whose file it names shows its relink badge (its history
   * state read again with `track_state`). Another file named: every song's file is checked.
   */
  async fileMissing(err: AppError) {
    const t = songOfMissingFile(err.message, this.state.tracks);
    if (!t) return this.refresh();
    let tv: TrackView = t;
    try {
      tv = await api.trackState(t.id);
    } catch {
      // The badge still tells the truth: the error said the file is gone.
    }
    this.replace({ ...tv, status: "missing" }, true);
  }
}
