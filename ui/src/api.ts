// Typed layer over the Tauri commands of src-tauri/src (commands.rs, export.rs, jobs.rs, dialogs.rs …).
import { Channel, invoke } from "@tauri-apps/api/core";
import { encodeBeats, parseBeats, parseTimeline, type BeatsData, type TimelineData } from "./wire";
import type { Beats } from "./timeline-math";
import type { GridPrefs, StraightenResult } from "./grid";

/** The error every command rejects with (src-tauri/src/error.rs). */
export interface AppError {
  code: string;
  message: string;
  hint: string;
}

export function isAppError(e: unknown): e is AppError {
  return typeof e === "object" && e !== null && "code" in e && "message" in e;
}

/** Any rejection as an AppError (IPC failures become `internal`). */
export function toAppError(e: unknown): AppError {
  if (isAppError(e)) return e;
  return { code: "internal", message: String(e), hint: "" };
}

export interface TrackTempo {
  min_bpm: number;
  max_bpm: number;
  beats_per_bar: number;
}

export interface ProjectSettings {
  min_bpm: number;
  max_bpm: number;
  beats_per_bar: number;
  active_model_id?: number | null;
  /** Songs with their own tempo range and meter, by track id. */
  track_tempo?: Record<string, TrackTempo>;
}

/** The tempo range and meter a song is tracked with: its own, else the project's. */
export function tempoFor(settings: ProjectSettings, trackId: number | null): TrackTempo & { own: boolean } {
  const own = trackId === null ? undefined : settings.track_tempo?.[String(trackId)];
  if (own) return { ...own, own: true };
  return { min_bpm: settings.min_bpm, max_bpm: settings.max_bpm, beats_per_bar: settings.beats_per_bar, own: false };
}

export interface ProjectInfo {
  path: string;
  name: string;
  settings: ProjectSettings;
}

/** Where a beat came from (issue 19). Training uses only `user` and `confirmed` ("checked") beats. */
export type BeatSource = "model" | "user" | "confirmed" | "continued" | "imported";

/** A revision's beats per source, and the runs of checked beats. */
export interface Provenance {
  model: number;
  user: number;
  confirmed: number;
  continued: number;
  imported: number;
  /** Runs of consecutive checked (user/confirmed) beats: [first beat, last beat] (s), sorted. */
  checked_spans: [number, number][];
}

export interface RevisionView {
  id: number;
  author: "user" | "model" | "import";
  note: string;
  n_beats: number;
  created_at: string;
  provenance: Provenance;
}

export interface TrackView {
  id: number;
  path: string;
  name: string;
  duration_s: number;
  sample_rate_hz: number;
  channels: number;
  status: "ok" | "missing" | "changed";
  head: RevisionView | null;
  tempo_bpm: number | null;
  can_undo: boolean;
  can_redo: boolean;
  n_revisions: number;
}

export type JobEvent =
  | { kind: "queued"; job_id: number; path: string }
  | { kind: "progress"; job_id: number; stage: string; label: string; fraction: number }
  | { kind: "done"; job_id: number; track_id: number; n_beats: number; tempo_bpm: number | null }
  | { kind: "failed"; job_id: number; error: AppError }
  | { kind: "cancelled"; job_id: number };

export interface JobStart {
  job_id: number;
  path: string;
}

export interface FormatInfo {
  name: string;
  label: string;
  extension: string;
  limitations: string | null;
}

export interface ExportedFile {
  format: string;
  path: string;
  n_beats: number;
}

/** The audio output the player opened (src-tauri/src/playback.rs). */
export interface OutputInfo {
  device: string;
  sample_rate_hz: number;
  channels: number;
  sample_format: string;
}

export interface TransportState {
  playing: boolean;
  /** As heard: the device's output latency is already taken off. */
  position_s: number;
  duration_s: number;
  speed: number;
  music_gain: number;
  click_gain: number;
  loop_s: [number, number] | null;
  ended: boolean;
}

export interface PlaybackView {
  track_id: number | null;
  output: OutputInfo | null;
  transport: TransportState | null;
  error: string | null;
}

export type PlaybackAction =
  | { action: "play" }
  | { action: "pause" }
  | { action: "toggle" }
  | { action: "seek"; position_s: number }
  | { action: "speed"; speed: number }
  | { action: "gains"; music_gain: number; click_gain: number }
  | { action: "loop"; range_s: [number, number] | null };

/** Fine-tuning (src-tauri/src/finetune.rs). */
export interface Candidate {
  track_id: number;
  name: string;
  n_beats: number;
  duration_s: number;
  /** Has a run of at least 4 checked beats: can be learned from. */
  corrected: boolean;
  /** End of `learn_region_s` (kept for compatibility). */
  corrected_until_s: number | null;
  /** The stretch learned from: the longest run of checked beats, [first, last] (s). */
  learn_region_s: [number, number] | null;
  /** Beats in that stretch. */
  learn_beats: number;
  /** Beats the user set or moved, and beats the user confirmed, in the whole song. */
  user_beats: number;
  confirmed_beats: number;
  /** Model, continued and imported beats: never learned from. */
  unchecked_beats: number;
  imported_beats: number;
}

export interface ModelView {
  id: number | null;
  name: string;
  parent_id: number | null;
  active: boolean;
}

export interface FinetuneInfo {
  candidates: Candidate[];
  models: ModelView[];
  device: string;
  device_is_gpu: boolean;
  device_note: string | null;
}

export interface Scores {
  f_measure: number;
  cmlt: number;
  amlt: number;
  beats: number;
}

export interface FinetuneReport {
  run_id: number;
  model_id: number;
  model_name: string;
  base_name: string;
  before: Scores | null;
  after: Scores | null;
  improved: boolean;
  validated: boolean;
  best_epoch: number;
  /** Share of the trained change kept (1: all; less when a smaller step did as well held out). */
  kept_share: number;
  /** Nothing was trained: the previous model already placed every beat you checked. */
  base_kept: boolean;
  epochs: number;
  elapsed_s: number;
  songs: { track_id: number; name: string; region_end_s: number; beats: number }[];
  /** What the bar classifier learned from the songs whose bars you numbered (null: nothing). */
  bars: BarsFinetuneReport | null;
}

/** The bar classifier's part of a fine-tuning run (engine `train::bars::BarsFinetuneReport`). */
export interface BarsFinetuneReport {
  songs: number;
  train_beats: number;
  held_out_beats: number;
  accuracy_before: number | null;
  accuracy_after: number | null;
  /** 0: nothing did better on the held-out beats, the previous classifier is kept. */
  best_epoch: number;
}

export type TrainEvent =
  | { kind: "preparing"; song: string; index: number; total: number; stage: string }
  | {
      kind: "epoch";
      epoch: number;
      max_epochs: number;
      train_loss: number;
      held_out_f: number | null;
      base_f: number | null;
      best_f: number | null;
      eta_s: number;
    }
  | { kind: "finished"; report: FinetuneReport }
  | { kind: "failed"; error: AppError }
  | { kind: "cancelled" };

/** What accepting a model's beats would do to one song (`preview_model`). */
export interface Proposal {
  track_id: number;
  name: string;
  n_beats_now: number;
  n_beats_new: number;
  tempo_now_bpm: number | null;
  tempo_new_bpm: number | null;
  /** "170 → 85 BPM" when the tempo level would change. */
  level_change: string | null;
  /** The new beats sit half a beat from the current ones. */
  phase_change: boolean;
  /** Current beats that would move (> 70 ms), appear or vanish. */
  changed: number;
  /** Beats the user set, checked or imported: kept whatever is accepted. */
  kept_beats: number;
  /** Checked beats the models were scored on. */
  checked_beats: number;
  /** F-measure on those: the previous model, the new one. */
  f_before: number | null;
  f_after: number | null;
  /** The model was trained on this song (its score there is optimistic). */
  trained_on: boolean;
  default_accept: boolean;
  /** Why it is ticked or not, in the user's words. */
  reason: string;
}

export type PreviewEvent =
  | { kind: "song"; index: number; total: number; proposal: Proposal }
  /** `track_id` -1: the whole preview stopped (code `cancelled` when cancelled). */
  | { kind: "failed"; track_id: number; name: string; error: AppError }
  | {
      kind: "done";
      model_id: number | null;
      checked_beats: number;
      f_before: number | null;
      f_after: number | null;
      songs_better: number;
      songs_worse: number;
    };

export interface AdoptResult {
  active_model: number | null;
  adoption_id: number;
  accepted: { track_id: number; name: string; n_beats: number }[];
}

export interface RollbackResult {
  active_model: number | null;
  reverted: number;
  kept_edited: number;
}

export type RetrackEvent =
  | { kind: "track"; track_id: number; name: string; index: number; total: number; n_beats: number; changed: number; head_moved: boolean }
  | { kind: "failed"; track_id: number; name: string; error: AppError }
  | { kind: "done"; active_model: number | null };

export type FinetuneMode = "heads" | "top" | "full";

/** What a file dialog picks (src-tauri/src/dialogs.rs `PickKind`): `relink` one audio file (the song's
 * file moved or changed), `beat_file` one beat file to import. */
/** What the straighten edit did, with the song as it is now (src-tauri `export::StraightenView`). */
export interface StraightenView extends StraightenResult {
  track: TrackView;
}

export type PickKind = "new_project" | "open_project" | "audio" | "export_dir" | "relink" | "beat_file";

export const api = {
  /** Quits the app; every open project file is made whole first. */
  quitApp: () => invoke<null>("quit_app"),
  pickPath: (kind: PickKind) => invoke<string[] | null>("pick_path", { kind }),
  projectNew: (path: string) => invoke<ProjectInfo>("project_new", { path }),
  projectOpen: (path: string) => invoke<ProjectInfo>("project_open", { path }),
  projectCurrent: () => invoke<ProjectInfo | null>("project_current"),
  launchProject: () => invoke<string | null>("launch_project"),
  recentProjects: () => invoke<string[]>("recent_projects"),
  listTracks: () => invoke<TrackView[]>("list_tracks"),
  /**
   * Points a moved or changed song at `path`; its beats and analyses are kept. A file that is not
   * the same length as the song is refused with `relink_mismatch` (both durations in the message)
   * unless `force`; a file that is not audio with `decode` / `unsupported_audio`.
   */
  relinkTrack: (trackId: number, path: string, force = false) => invoke<TrackView>("relink_track", { trackId, path, force }),
  /** The song's history state. Its `status` is not checked (always "ok"): `listTracks` checks the files. */
  trackState: (trackId: number) => invoke<TrackView>("track_state", { trackId }),
  /** Removes a song with its beats and their history (the audio file stays); the remaining songs. */
  removeTrack: (trackId: number) => invoke<TrackView[]>("remove_track", { trackId }),
  /**
   * Makes a beat file's beats the song's current beats: a new revision (undoable) whose beats are
   * all `imported`. A bad file rejects with `parse` (the file and line), an empty one `no_beats`.
   */
  importBeatFile: (trackId: number, path: string) => invoke<TrackView>("import_beat_file", { trackId, path }),
  addTracks(paths: string[], onEvent: (e: JobEvent) => void): Promise<JobStart[]> {
    const channel = new Channel<JobEvent>();
    channel.onmessage = onEvent;
    return invoke<JobStart[]>("add_tracks", { paths, onEvent: channel });
  },
  cancelJob: (jobId: number) => invoke<boolean>("cancel_job", { jobId }),
  async timeline(trackId: number): Promise<TimelineData> {
    return parseTimeline(await invoke<ArrayBuffer>("timeline", { trackId }));
  },
  async beats(trackId: number): Promise<BeatsData> {
    return parseBeats(await invoke<ArrayBuffer>("beats", { trackId }));
  },
  /** The model's beats: `back` 0 = its latest revision, 1 = the one before (see a re-tracking's changes). */
  async modelBeats(trackId: number, back = 0) {
    return parseBeats(await invoke<ArrayBuffer>("model_beats", { trackId, back }));
  },
  /** How far the current beats have been checked (last difference from the model's), or null. */
  correctedUntil: (trackId: number) => invoke<number | null>("corrected_until", { trackId }),
  /** The beats up to `untilS`, then the tracker's continuation of their tempo and phase (not committed). */
  async continueBeats(trackId: number, untilS: number) {
    return parseBeats(await invoke<ArrayBuffer>("continue_beats", { trackId, untilS }));
  },
  commitBeats(trackId: number, beats: Beats, baseRevision: number, beatsPerBar: number, note: string) {
    return invoke<TrackView>("commit_beats", encodeBeats(beats, baseRevision, beatsPerBar), {
      headers: { "x-zerons-track": String(trackId), "x-zerons-note": encodeURIComponent(note) },
    });
  },
  /** "The beats here are right": beats in [fromS, toS] become checked (a new revision; `no_beats` when none). */
  confirmBeats: (trackId: number, fromS: number, toS: number) => invoke<TrackView>("confirm_beats", { trackId, fromS, toS }),
  undo: (trackId: number) => invoke<TrackView>("undo", { trackId }),
  redo: (trackId: number) => invoke<TrackView>("redo", { trackId }),
  finetuneInfo: () => invoke<FinetuneInfo>("finetune_info"),
  /** `keepRest`: keep the model's own output where the music differs from the corrected parts. */
  finetuneStart(trackIds: number[], mode: FinetuneMode, wholeSongs: boolean, keepRest: boolean, onEvent: (e: TrainEvent) => void) {
    const channel = new Channel<TrainEvent>();
    channel.onmessage = onEvent;
    return invoke<number>("finetune_start", { trackIds, mode, wholeSongs, keepRest, onEvent: channel });
  },
  /** Analyses every song with a model (null: the shipped one) without changing anything; job id (cancel_job). */
  previewModel(modelId: number | null, onEvent: (e: PreviewEvent) => void) {
    const channel = new Channel<PreviewEvent>();
    channel.onmessage = onEvent;
    return invoke<number>("preview_model", { modelId, onEvent: channel });
  },
  /** Makes the model the project's and gives the `accept`ed songs its beats (the others keep theirs). */
  adoptModel: (modelId: number | null, accept: number[]) => invoke<AdoptResult>("adopt_model", { modelId, accept }),
  /** The previous model and the last adoption's songs' beats back (`nothing_to_roll_back`). */
  rollbackAdoption: () => invoke<RollbackResult>("rollback_adoption"),
  /** The project's tempo range and meter, or with `trackId` that song's own (`clearTrack`: back to the project's). */
  setProjectSettings: (minBpm: number, maxBpm: number, beatsPerBar: number, trackId: number | null = null, clearTrack = false) =>
    invoke<ProjectInfo>("set_project_settings", { minBpm, maxBpm, beatsPerBar, trackId, clearTrack }),
  retrack(trackIds: number[], onEvent: (e: RetrackEvent) => void) {
    const channel = new Channel<RetrackEvent>();
    channel.onmessage = onEvent;
    return invoke<number>("retrack", { trackIds, onEvent: channel });
  },
  playbackLoad: (trackId: number) => invoke<PlaybackView>("playback_load", { trackId }),
  playbackControl: (action: PlaybackAction) => invoke<PlaybackView>("playback_control", { action }),
  playbackState: () => invoke<PlaybackView>("playback_state"),
  exportFormats: () => invoke<FormatInfo[]>("export_formats"),
  exportTrack: (trackId: number, formats: string[], dir: string, grid: GridPrefs) =>
    invoke<ExportedFile[]>("export_track", { trackId, formats, dir, grid }),
  /** Every song: one Rekordbox / Traktor collection each, one file per song otherwise. */
  exportProject: (formats: string[], dir: string, grid: GridPrefs) =>
    invoke<ExportedFile[]>("export_project", { formats, dir, grid }),
  /** "Straighten beats" between two times (one undoable revision; sources kept). */
  straightenBeats: (trackId: number, fromS: number, toS: number, toleranceMs: number) =>
    invoke<StraightenView>("straighten_beats", { trackId, fromS, toS, toleranceMs }),
};
