// App shell: project, track list with analysis progress, timeline editing, export, help.
import { api, tempoFor, toAppError, type AppError, type JobEvent, type ProjectInfo, type TrackView } from "./api";
import { Timeline, curveStyle, syntheticTimeline } from "./timeline";
import {
  addBeat,
  formatTime,
  lowerBound,
  nudgeBeats,
  removeBeats,
  replaceRange,
  stretchBeats,
  unmatchedBeats,
  type Beats,
} from "./timeline-math";
import { displayPositions, setDownbeat } from "./bars";
import { Transport } from "./transport";
import { LearnPanel } from "./learn";
import { keyBelongsToTarget, keyTarget, nudgeStepS, NUDGE_MS } from "./keys";
import { checkedStatus, checkRange, countInRange } from "./checked";
import { spanText } from "./adopt";
import { basename, Songs } from "./songs";
import { ExportDialog } from "./export";
import { loadGridPrefs, readToleranceField, saveGridPrefs, straightenText } from "./grid";
import type { TimelineData } from "./wire";

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

interface Job {
  id: number;
  path: string;
  label: string;
  fraction: number;
  state: "queued" | "running" | "failed" | "cancelled";
  error?: AppError;
}

const state = {
  project: null as ProjectInfo | null,
  tracks: [] as TrackView[],
  jobs: new Map<number, Job>(),
  trackId: null as number | null,
  timeline: null as TimelineData | null,
  /** Per track, the head revision the next commit is based on (-1: none). */
  baseRev: new Map<number, number>(),
  beatsPerBar: 4,
  /** Commits run one after another so that each is based on the previous one. */
  queue: Promise.resolve() as Promise<unknown>,
  pendingEdits: 0,
};

// ---- notifications ----------------------------------------------------------------------------
function toast(e: AppError | string, kind: "error" | "info" = "error") {
  const err = typeof e === "string" ? { code: "", message: e, hint: "" } : e;
  if (err.code === "cancelled") return;
  const el = document.createElement("div");
  el.className = `toast ${kind}`;
  el.dataset.code = err.code;
  const code = document.createElement("span");
  code.className = "code";
  code.textContent = err.code;
  const msg = document.createElement("div");
  msg.className = "msg";
  msg.textContent = err.message;
  el.append(code, msg);
  if (err.hint) {
    const hint = document.createElement("div");
    hint.className = "hint";
    hint.textContent = err.hint;
    el.append(hint);
  }
  el.addEventListener("click", () => el.remove());
  $("toasts").append(el);
  // A song's file went away while the app runs: its badge becomes the way to fix it.
  if (err.code === "missing_file") void songs.fileMissing(err);
  setTimeout(() => el.remove(), kind === "error" ? 12000 : 5000);
}

async function guard<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    toast(toAppError(e));
    return undefined;
  }
}

// ---- timeline ----------------------------------------------------------------------------------
const timeline = new Timeline($<HTMLCanvasElement>("timeline"), {
  onEdit: (next, note) => commitEdit(next, note),
  onCursor: (t) => {
    $("status-cursor").textContent = t === null ? "" : formatTime(t, 0.001);
  },
  onChange: () => updateStatus(),
  onSeek: (t) => void transport.seek(t),
  onLoopRange: (r) => {
    void transport.setLoopRange(r);
    updateStatus();
  },
});
const transport = new Transport(timeline, (e) => toast(e));
const songs = new Songs({
  state,
  toast,
  selectTrack,
  closeSong,
  flushTaps,
  reloadBeats: async () => {
    timeline.selected.clear();
    await reloadBeats();
  },
  updateStatus,
  updateEmpty,
});
const exportDialog = new ExportDialog({ state, guard, toast, flushTaps });
const learn = new LearnPanel({
  onError: (e) => toast(e),
  onRetracked: () => {
    void refreshTracks().then(async () => {
      if (state.trackId !== null) await selectTrack(state.trackId);
    });
  },
});

/** Centres the view on suggestion `i` and moves the playhead just before it (listen, fix). */
function jumpToSuggestion(step: 1 | -1) {
  const list = timeline.suggestions;
  if (!list.length) {
    toast("Nothing to check: every beat sits on a clear activation peak and the tempo is steady.", "info");
    return;
  }
  const cur = timeline.currentSuggestion;
  const i = cur < 0 ? (step > 0 ? 0 : list.length - 1) : (cur + step + list.length) % list.length;
  timeline.currentSuggestion = i;
  const sg = list[i];
  const span = Math.max(6, 2 * (sg.endS - sg.startS));
  const v = timeline.view;
  timeline.setView({ startS: (sg.startS + sg.endS) / 2 - span / 2, pxPerS: v.widthPx / span, widthPx: v.widthPx });
  void transport.seek(Math.max(0, sg.startS - 1));
  updateStatus();
}

/** Loads the song's previous analysis, for the diff ghosts (after a re-tracking). */
async function loadDiff(id: number) {
  let prev: Float64Array | null;
  try {
    const b = await api.modelBeats(id, 1);
    prev = b.revision >= 0 ? b.times : null;
  } catch {
    prev = null;
  }
  if (state.trackId === id) timeline.setPrevious(prev);
}

function renderDiffButton() {
  const n = timeline.ghosts?.length ?? 0;
  const added = timeline.addedSincePrevious;
  const btn = $("btn-diff");
  btn.classList.toggle("hidden", !timeline.ghosts || (n === 0 && added === 0));
  btn.classList.toggle("off", !timeline.showGhosts);
  btn.textContent = `Δ ${n + added}`;
  btn.title = `vs the previous analysis: ${n} beat(s) moved or removed (dashed), ${added} new or moved here. Click to show/hide.`;
}

/** Beats inside the ruler range (all beats when there is none). */
function beatsInRange(): number[] {
  const r = timeline.loopS;
  const t = timeline.beats.times;
  if (!r || r[1] - r[0] < 0.01) return Array.from({ length: t.length }, (_, i) => i);
  const out: number[] = [];
  for (let i = lowerBound(t, r[0]); i < t.length && t[i] <= r[1]; i++) out.push(i);
  return out;
}

/** Replaces the beats in the ruler range with the model's (its latest analysis). */
async function replaceWithModel() {
  const r = timeline.loopS;
  if (state.trackId === null) return;
  if (!r || r[1] - r[0] < 0.05) {
    toast("Drag on the ruler to choose the range to replace with the model's beats.", "info");
    return;
  }
  const model = await guard(api.modelBeats(state.trackId));
  if (!model) return;
  if (model.revision < 0) {
    toast("This song has no beats from the model: analyse it first.", "info");
    return;
  }
  const next = replaceRange(timeline.beats, model.times, r[0], r[1], state.beatsPerBar);
  commitEdit(next, `model beats from ${r[0].toFixed(2)} s to ${r[1].toFixed(2)} s`);
}

/**
 * "Continue my beats": the beats the user has checked (up to the last one that differs from
 * the model's) stay; the rest of the song is re-tracked following their tempo and phase.
 */
async function continueFromCorrections() {
  const trackId = state.trackId;
  if (trackId === null) return;
  flushTaps();
  await state.queue;
  const until = await guard(api.correctedUntil(trackId));
  if (until === undefined) return;
  if (until === null) {
    toast("Correct the first beats of the song (add, move, delete or tap), then continue: the rest follows their tempo and phase.", "info");
    return;
  }
  const cont = await guard(api.continueBeats(trackId, until));
  if (!cont || state.trackId !== trackId) return;
  const before = timeline.beats.times;
  const next = replaceRange(timeline.beats, cont.times, until + 1e-6, Number.POSITIVE_INFINITY, state.beatsPerBar);
  const changed = unmatchedBeats(next.times, before).length + unmatchedBeats(before, next.times).length;
  if (changed === 0) {
    toast(`The beats after ${formatTime(until, 0.1)} already follow your corrections.`, "info");
    return;
  }
  commitEdit(next, `continued the beats checked up to ${until.toFixed(2)} s`);
  toast(`Beats after ${formatTime(until, 0.1)} re-tracked at the tempo and phase of yours (${changed} changed). Ctrl+Z undoes it.`, "info");
}

/**
 * Taps in a row: each shows at once, and the run is saved as one revision (one undo step)
 * when tapping pauses for `TAP_RUN_MS`, or before anything else reads or changes the beats.
 */
const TAP_RUN_MS = 2000;
const taps = { trackId: -1, beats: null as Beats | null, n: 0, first: 0, last: 0, timer: 0 };

/** Saves the pending run of taps (nothing when there is none). */
function flushTaps() {
  clearTimeout(taps.timer);
  taps.timer = 0;
  const { beats, n, first, last, trackId } = taps;
  taps.beats = null;
  taps.n = 0;
  if (!beats || n === 0) return;
  saveBeats(trackId, beats, n === 1 ? `tap beat at ${first.toFixed(3)} s` : `tap ${n} beats from ${first.toFixed(3)} s to ${last.toFixed(3)} s`);
}

/** Adds a beat where the music is heard now, less the tap offset (Sonic Visualiser's `;`). */
async function tapBeat() {
  const heard = await transport.heardPosition();
  const trackId = state.trackId;
  if (heard === null || trackId === null) return;
  const t = timeline.snapTime(Math.max(0, heard - transport.tapOffsetS()));
  const r = addBeat(timeline.beats, t, state.beatsPerBar);
  if (r.index < 0) return;
  if (taps.n && taps.trackId !== trackId) flushTaps();
  if (!taps.n) Object.assign(taps, { trackId, first: t, last: t });
  Object.assign(taps, { beats: r.beats, n: taps.n + 1, first: Math.min(taps.first, t), last: Math.max(taps.last, t) });
  timeline.setBeats(r.beats);
  clearTimeout(taps.timer);
  taps.timer = window.setTimeout(flushTaps, TAP_RUN_MS);
  updateStatus();
}

function currentTrack(): TrackView | undefined {
  return state.tracks.find((t) => t.id === state.trackId);
}

/** Shows and saves an edit of the open song (after any pending taps, their own step). */
function commitEdit(next: Beats, note: string) {
  const trackId = state.trackId;
  if (trackId === null) return;
  flushTaps();
  timeline.setBeats(next);
  saveBeats(trackId, next, note);
}

/** Queues a commit of `next` as the song's new revision. */
function saveBeats(trackId: number, next: Beats, note: string) {
  queueHeadChange(trackId, () => api.commitBeats(trackId, next, state.baseRev.get(trackId) ?? -1, state.beatsPerBar, note));
}

/**
 * Queues a request that makes a new head revision of a song (an edit, a confirmation), after
 * the edits before it: the next one is based on its revision. On failure the error is shown
 * and the open song's beats are read again.
 */
function queueHeadChange(trackId: number, request: () => Promise<TrackView>, done?: () => void) {
  state.pendingEdits++;
  state.queue = state.queue
    .then(async () => {
      const tv = await request();
      state.baseRev.set(trackId, tv.head?.id ?? -1);
      replaceTrack(tv);
      done?.();
    })
    .catch(async (e) => {
      toast(toAppError(e));
      if (state.trackId === trackId) await reloadBeats();
    })
    .finally(() => {
      state.pendingEdits--;
      updateStatus();
    });
}

/**
 * "The beats up to here are right" (✓ Checked, K): the selected beats, else every beat from
 * 0 s to the playhead, become checked, what fine-tuning learns from. A new revision (one undo
 * step) that moves the head, so it goes through the edit queue like a commit.
 */
function confirmChecked() {
  const trackId = state.trackId;
  if (trackId === null || !state.timeline) return;
  flushTaps();
  const times = timeline.beats.times;
  const selected = selectedIndices()
    .filter((i) => i < times.length)
    .map((i) => times[i]);
  const range = checkRange(selected, timeline.playheadS, times.length ? times[0] : null);
  const n = range ? countInRange(times, range[0], range[1]) : 0;
  if (!range || n === 0) {
    toast("Select the beats that are right, or play (or click the ruler) up to where they are right, then press K.", "info");
    return;
  }
  // A hair either side, so the first and last beats are in the range whatever the rounding.
  const [fromS, toS] = [Math.max(0, range[0] - 1e-6), range[1] + 1e-6];
  const first = lowerBound(times, range[0]);
  const span: [number, number] = [times[first], times[first + n - 1]];
  queueHeadChange(
    trackId,
    () => api.confirmBeats(trackId, fromS, toS),
    () => toast(`${n} beat${n === 1 ? "" : "s"} checked (${spanText(span)}): fine-tuning can learn from them. Ctrl+Z undoes it.`, "info"),
  );
}

/**
 * "Straighten beats" (G, or the tempo dialog): the selected beats, else the whole song, move
 * onto a straight grid (constant tempo per section, a new section only where a beat lies more
 * than the grid tolerance from it), the grid the DJ exports write. One undoable revision that
 * checks nothing: every beat keeps its source.
 */
function straighten() {
  const trackId = state.trackId;
  if (trackId === null || !state.timeline) return;
  flushTaps();
  const times = timeline.beats.times;
  const sel = selectedIndices().filter((i) => i < times.length);
  const span: [number, number] | null =
    sel.length >= 2 ? [times[sel[0]], times[sel[sel.length - 1]]] : times.length >= 2 ? [times[0], times[times.length - 1]] : null;
  if (!span) {
    toast("Straightening needs at least two beats: select them, or none for the whole song.", "info");
    return;
  }
  const tol = loadGridPrefs().tolerance_ms;
  queueHeadChange(
    trackId,
    async () => {
      const r = await api.straightenBeats(trackId, Math.max(0, span[0] - 1e-6), span[1] + 1e-6, tol);
      toast(straightenText(r, span, tol), "info");
      return r.track;
    },
    () => {
      if (state.trackId === trackId) void reloadBeats();
    },
  );
}

/** Ctrl+Q: saves pending taps and edits, then quits (the project file is made whole). */
async function quit() {
  flushTaps();
  await state.queue;
  await guard(api.quitApp());
}

async function reloadBeats() {
  if (state.trackId === null) return;
  const b = await guard(api.beats(state.trackId));
  if (!b) return;
  state.baseRev.set(state.trackId, b.revision);
  if (b.beatsPerBar) state.beatsPerBar = b.beatsPerBar;
  timeline.setBeats(b, state.beatsPerBar);
}

async function history(kind: "undo" | "redo") {
  const id = state.trackId;
  if (id === null) return;
  flushTaps();
  await state.queue;
  const tv = await guard(kind === "undo" ? api.undo(id) : api.redo(id));
  if (!tv) return;
  replaceTrack(tv);
  await reloadBeats();
}

async function selectTrack(id: number) {
  flushTaps();
  // The ruler range and Loop belong to the song they were chosen on.
  if (id !== state.trackId) transport.resetLoop();
  state.trackId = id;
  songs.render();
  renderTempoButton();
  const [data, beats] = await Promise.all([guard(api.timeline(id)), guard(api.beats(id))]);
  if (state.trackId !== id) return;
  state.timeline = data ?? null;
  state.baseRev.set(id, beats?.revision ?? -1);
  state.beatsPerBar =
    beats?.beatsPerBar || (state.project ? tempoFor(state.project.settings, state.trackId).beats_per_bar : 4);
  timeline.setData(data ?? null, beats ?? { times: new Float64Array(0), positions: null }, state.beatsPerBar);
  renderCurveToggles();
  void transport.load(id);
  void loadDiff(id);
  $("no-track").classList.add("hidden");
  updateStatus();
  timeline.canvas.focus();
}

// ---- project ----------------------------------------------------------------------------------
async function openProject(kind: "new" | "open", path?: string) {
  let p = path;
  if (!p) {
    const picked = await guard(api.pickPath(kind === "new" ? "new_project" : "open_project"));
    if (!picked || picked.length === 0) return;
    p = picked[0];
  }
  const info = await guard(kind === "new" ? api.projectNew(p) : api.projectOpen(p));
  if (info) await showProject(info);
}

async function showProject(info: ProjectInfo) {
  state.project = info;
  state.trackId = null;
  state.timeline = null;
  timeline.setData(null, { times: new Float64Array(0), positions: null }, 4);
  $("project-name").textContent = `${info.name} — ${info.path}`;
  renderTempoButton();
  $("welcome").classList.add("hidden");
  $("btn-add").removeAttribute("disabled");
  await refreshTracks();
  if (state.tracks.length > 0) await selectTrack(state.tracks[0].id);
  else $("no-track").classList.remove("hidden");
  updateStatus();
}

async function refreshTracks() {
  const tracks = await guard(api.listTracks());
  if (!tracks) return;
  state.tracks = tracks;
  songs.render();
}

function replaceTrack(tv: TrackView) {
  songs.replace(tv);
}

/** No song open: the last one was removed. The player has let it go (`remove_track`). */
function closeSong() {
  flushTaps();
  transport.resetLoop();
  transport.unload();
  state.trackId = null;
  state.timeline = null;
  timeline.setData(null, { times: new Float64Array(0), positions: null }, state.beatsPerBar);
  renderCurveToggles();
  renderTempoButton();
  songs.render();
  $("no-track").classList.remove("hidden");
  updateStatus();
}

async function addSongs(paths?: string[]) {
  if (!state.project) return;
  const chosen = paths ?? (await guard(api.pickPath("audio")));
  if (!chosen || chosen.length === 0) return;
  await guard(api.addTracks(chosen, onJobEvent));
}

function onJobEvent(e: JobEvent) {
  const job = state.jobs.get(e.job_id);
  switch (e.kind) {
    case "queued":
      state.jobs.set(e.job_id, { id: e.job_id, path: e.path, label: "queued", fraction: 0, state: "queued" });
      break;
    case "progress":
      if (job) Object.assign(job, { label: e.label, fraction: e.fraction, state: "running" });
      break;
    case "done":
      state.jobs.delete(e.job_id);
      void refreshTracks().then(() => {
        if (state.trackId === null) void selectTrack(e.track_id);
      });
      break;
    case "failed":
      if (job) Object.assign(job, { state: "failed", label: e.error.message, error: e.error });
      toast(e.error);
      break;
    case "cancelled":
      state.jobs.delete(e.job_id);
      break;
  }
  renderJobs();
}

// ---- rendering --------------------------------------------------------------------------------
/** Text a narrow window leaves out (style.css hides `.wide` below the default width). */
function wide(text: string): HTMLSpanElement {
  const el = document.createElement("span");
  el.className = "wide";
  el.textContent = text;
  return el;
}

/**
 * Job rows are updated in place (progress arrives many times a second): replacing them
 * would swallow a click on "Cancel" that lands between two events.
 */
function renderJobs() {
  const ul = $("jobs");
  const rows = new Map<number, HTMLLIElement>();
  for (const li of Array.from(ul.children) as HTMLLIElement[]) {
    const id = Number(li.dataset.job);
    if (state.jobs.has(id)) rows.set(id, li);
    else li.remove();
  }
  for (const j of state.jobs.values()) {
    let li = rows.get(j.id);
    if (!li) {
      li = document.createElement("li");
      li.dataset.job = String(j.id);
      const row = document.createElement("div");
      row.className = "row1";
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = basename(j.path);
      name.title = j.path;
      const btn = document.createElement("button");
      row.append(name, btn);
      const stage = document.createElement("div");
      stage.className = "stage";
      const bar = document.createElement("div");
      bar.className = "bar";
      bar.append(document.createElement("div"));
      li.append(row, stage, bar);
      ul.append(li);
    }
    li.className = j.state;
    if (j.error) li.dataset.code = j.error.code;
    const btn = li.querySelector("button") as HTMLButtonElement;
    const failed = j.state === "failed";
    btn.textContent = failed ? "Dismiss" : "Cancel";
    btn.onclick = failed
      ? () => {
          state.jobs.delete(j.id);
          renderJobs();
        }
      : () => void api.cancelJob(j.id);
    (li.querySelector(".stage") as HTMLElement).textContent = failed ? j.label : `Analysing: ${j.label}…`;
    const bar = li.querySelector(".bar") as HTMLElement;
    bar.classList.toggle("hidden", failed);
    (bar.firstElementChild as HTMLElement).style.width = `${Math.round(Math.max(0.04, j.fraction) * 100)}%`;
  }
  updateEmpty();
}

function updateEmpty() {
  $("no-track").textContent =
    state.jobs.size > 0 && state.tracks.length === 0
      ? "Analysing… the timeline opens when the first song is ready."
      : "Select a track, or add songs to the project.";
  $("side-empty").classList.toggle("hidden", !state.project || state.tracks.length > 0 || state.jobs.size > 0);
  $("track-count").textContent = state.tracks.length ? String(state.tracks.length) : "";
}

const CURVE_TITLES: Record<string, string> = {
  flux: "Spectral flux of the percussive stem (show/hide)",
  max: "ZeroNS network: both branches combined (show/hide)",
  anchor: "ZeroNS non-percussive branch (show/hide)",
  postve: "ZeroNS percussive branch (show/hide)",
  downbeat: "Downbeat: where the model hears the bar's first beat (the network's downbeat curve, or the bar classifier's probability at each beat; show/hide)",
};

/** The curves menu: a row per curve of the song (shown/hidden); the button shows their dots. */
function renderCurveToggles() {
  const g = $("curve-toggles");
  const dots = $("curve-dots");
  g.replaceChildren();
  dots.replaceChildren();
  const curves = state.timeline?.curves ?? [];
  $("btn-curves").classList.toggle("hidden", curves.length === 0);
  for (const c of curves) {
    const style = curveStyle(c.kind);
    const on = !timeline.hiddenCurves.has(c.kind);
    const chip = document.createElement("button");
    chip.className = "chip";
    chip.dataset.curve = c.kind;
    chip.setAttribute("role", "menuitemcheckbox");
    chip.setAttribute("aria-checked", String(on));
    chip.classList.toggle("on", on);
    const dot = document.createElement("span");
    dot.className = "dot";
    dot.style.background = style.color;
    chip.append(dot, document.createTextNode(style.label));
    chip.title = CURVE_TITLES[c.kind] ?? c.kind;
    chip.onclick = () => {
      if (timeline.hiddenCurves.has(c.kind)) timeline.hiddenCurves.delete(c.kind);
      else timeline.hiddenCurves.add(c.kind);
      renderCurveToggles();
      timeline.invalidate();
    };
    g.append(chip);
    if (on) {
      const d = document.createElement("span");
      d.className = "dot";
      d.style.background = style.color;
      dots.append(d);
    }
  }
}

function showCurveMenu(open: boolean) {
  $("curve-toggles").classList.toggle("hidden", !open);
  $("btn-curves").setAttribute("aria-expanded", String(open));
}

function updateStatus() {
  const t = currentTrack();
  const has = !!t && !!state.timeline;
  document.body.classList.toggle("has-track", has);
  $("track-name").textContent = t?.name ?? "";
  $("track-meta").textContent = t
    ? `${formatTime(t.duration_s)} · ${(t.sample_rate_hz / 1000).toFixed(1)} kHz · ${t.channels} ch` +
      (t.tempo_bpm ? ` · ${t.tempo_bpm.toFixed(1)} BPM` : "")
    : "";
  $<HTMLButtonElement>("btn-undo").disabled = !t?.can_undo;
  $<HTMLButtonElement>("btn-redo").disabled = !t?.can_redo;
  $<HTMLButtonElement>("btn-export").disabled = !state.project || state.tracks.length === 0;
  $<HTMLButtonElement>("btn-import").disabled = !t;
  $<HTMLButtonElement>("btn-learn").disabled = !state.project || state.tracks.length === 0;
  const span = timeline.view.widthPx / timeline.view.pxPerS;
  $("zoom").textContent = has
    ? `View ${span >= 60 ? formatTime(span) : span >= 1 ? `${span.toFixed(1)} s` : `${(span * 1000).toFixed(0)} ms`}`
    : "";
  renderDiffButton();
  const sgs = timeline.suggestions;
  const sgBtn = $("btn-suggest");
  // The count stays; " to check" goes in a narrow window.
  sgBtn.replaceChildren(`⚑ ${sgs.length || "none"}`);
  if (sgs.length) sgBtn.append(wide(" to check"));
  sgBtn.classList.toggle("none", sgs.length === 0);
  const cur = sgs[timeline.currentSuggestion];
  if (cur) sgBtn.title = `${timeline.currentSuggestion + 1}/${sgs.length}: ${cur.reason} (${formatTime(cur.startS, 0.1)}–${formatTime(cur.endS, 0.1)}). N: next, Shift+N: previous`;
  const head = t?.head;
  timeline.setChecked(has ? head?.provenance?.checked_spans : null);
  $("status-checked").textContent = has ? checkedStatus(head?.provenance?.checked_spans, timeline.beats.times[0] ?? null) : "";
  const tapping = taps.n && taps.trackId === state.trackId ? ` · ${taps.n} tap${taps.n > 1 ? "s" : ""} (one undo step)` : "";
  $("status-rev").textContent = head
    ? `Revision ${head.id} · ${head.author}${head.note ? ` · ${head.note}` : ""}${state.pendingEdits ? " · saving…" : ""}${tapping}`
    : "";
  const n = timeline.selected.size;
  if (n === 1) {
    const i = [...timeline.selected][0];
    $("status-sel").textContent = `Beat ${i + 1} at ${formatTime(timeline.beats.times[i] ?? 0, 0.001)}`;
  } else {
    $("status-sel").textContent = n > 1 ? `${n} beats selected` : has ? `${timeline.beats.times.length} beats` : "";
  }
  const r = timeline.loopS;
  const looping = $<HTMLInputElement>("loop").checked;
  $("status-range").textContent =
    has && r && r[1] - r[0] > 0.05
      ? `Range ${formatTime(r[0], 0.01)}–${formatTime(r[1], 0.01)}${looping ? " · looping" : " · L: loop it"}`
      : "";
}

// ---- tempo range and meter -------------------------------------------------------------------
function renderTempoButton() {
  const st = state.project?.settings;
  if (!st) {
    $("btn-tempo").textContent = "";
    return;
  }
  const t = tempoFor(st, state.trackId);
  // In a narrow window: "100–140 · 3/4", the song's own range told by the button's colour.
  $("btn-tempo").replaceChildren(
    `${Math.round(t.min_bpm)}–${Math.round(t.max_bpm)}`,
    wide(" BPM"),
    ` · ${t.beats_per_bar}/4`,
    ...(t.own ? [wide(" · this song")] : []),
  );
  $("btn-tempo").classList.toggle("own", t.own);
  $("btn-tempo").title = `Tempo range and meter the tracker uses${t.own ? ", this song's own" : ""} (re-track with them)`;
}

function openTempo() {
  const st = state.project?.settings;
  if (!st) return;
  const t = tempoFor(st, state.trackId);
  $<HTMLInputElement>("tempo-min").value = String(t.min_bpm);
  $<HTMLInputElement>("tempo-max").value = String(t.max_bpm);
  $<HTMLInputElement>("tempo-bpb").value = String(t.beats_per_bar);
  const only = $<HTMLInputElement>("tempo-only-song");
  only.checked = t.own;
  only.disabled = state.trackId === null;
  $("tempo-song-name").textContent = currentTrack()?.name ?? "the selected song";
  const tol = $<HTMLInputElement>("grid-tol");
  tol.value = String(loadGridPrefs().tolerance_ms);
  tol.classList.remove("invalid");
  $<HTMLButtonElement>("tempo-straighten").disabled = state.trackId === null;
  $("tempo-result").textContent = "";
  $("tempo-modal").classList.remove("hidden");
}

/** The tempo dialog's grid tolerance into the shared grid settings (the exports use it too). */
function saveGridTolerance(): boolean {
  const tol = readToleranceField($<HTMLInputElement>("grid-tol"));
  if (tol === null) return false;
  saveGridPrefs({ ...loadGridPrefs(), tolerance_ms: tol });
  return true;
}

async function saveTempo(scope: "none" | "one" | "all") {
  const min = Number($<HTMLInputElement>("tempo-min").value);
  const max = Number($<HTMLInputElement>("tempo-max").value);
  const bpb = Math.round(Number($<HTMLInputElement>("tempo-bpb").value));
  const song = $<HTMLInputElement>("tempo-only-song").checked && state.trackId !== null ? state.trackId : null;
  const hadOwn = state.project ? tempoFor(state.project.settings, state.trackId).own : false;
  // Unticking "only this song" hands the song back to the project's settings.
  const info = await guard(
    song === null && hadOwn && state.trackId !== null
      ? api.setProjectSettings(min, max, bpb, state.trackId, true).then(() => api.setProjectSettings(min, max, bpb))
      : api.setProjectSettings(min, max, bpb, song),
  );
  if (!info) return;
  state.project = info;
  state.beatsPerBar = bpb;
  renderTempoButton();
  if (scope === "none") {
    $("tempo-result").textContent =
      song === null ? "Saved. Songs added from now on use these settings." : "Saved for this song; re-track it to use them.";
    return;
  }
  const ids = (scope === "one" || song !== null) && state.trackId !== null ? [state.trackId] : [];
  const lines: string[] = [];
  $("tempo-result").textContent = "Re-tracking…";
  await guard(
    api.retrack(ids, (e) => {
      if (e.kind === "track") {
        lines.push(`${e.name}: ${e.n_beats} beats, ${e.changed} changed${e.head_moved ? "" : " (your corrected beats stay in front)"}`);
        $("tempo-result").textContent = lines.join("\n");
      } else if (e.kind === "failed") {
        toast(e.error);
      } else if (e.kind === "done") {
        lines.push("Done.");
        $("tempo-result").textContent = lines.join("\n");
        void refreshTracks().then(async () => {
          if (state.trackId !== null) await selectTrack(state.trackId);
        });
      }
    }),
  );
}

// ---- learning -------------------------------------------------------------------------------
/** Opens the fine-tuning panel; its song list is read once pending edits are saved. */
function openLearn() {
  flushTaps();
  void learn.open(state.queue);
}

// ---- help -------------------------------------------------------------------------------------
const SHORTCUTS: [string, [string, string][]][] = [
  [
    "Edit",
    [
      ["Click", "Add a beat (snaps to the activation peak)"],
      ["Drag a beat", "Move it"],
      ["Right-click", "Remove a beat"],
      ["Shift+click", "Add to the selection"],
      ["Delete / Backspace", "Remove selected beats"],
      ["← / →", `Nudge the selection by ${NUDGE_MS.normal} ms`],
      ["Shift+← / →", `Nudge by ${NUDGE_MS.coarse} ms`],
      ["Ctrl+← / →", `Nudge by ${NUDGE_MS.fine} ms`],
      ["D", "This is beat 1: the bars are counted again from the selected beat to the next meter change"],
      ["2 … 9", "Meter change: bars of that many beats from the selected beat to the next meter change"],
      ["A", "Select the beats in the ruler range (all without one)"],
      ["Alt+← / →", `Stretch the selection: its last beat by ${NUDGE_MS.normal} ms (Shift: ${NUDGE_MS.coarse}, Ctrl: ${NUDGE_MS.fine})`],
      ["M", "Replace the ruler range with the model's beats"],
      ["C", "Continue my beats: re-track the rest of the song at the tempo and phase of the beats I corrected"],
      ["G", "Straighten: the selected beats (else the whole song) onto a straight grid, constant tempo per section, within the grid tolerance (tempo dialog)"],
      ["K", "The beats up to here are right: mark them checked (the selected beats, else from the start to the playhead); learning uses only checked beats"],
      ["S", "Snap to activation peak on/off"],
    ],
  ],
  [
    "Navigate",
    [
      ["Wheel", "Zoom around the pointer"],
      ["Shift+wheel", "Scroll"],
      ["Drag empty space", "Scroll"],
      ["+ / −", "Zoom in / out"],
      ["0", "Whole song"],
      [", / .", "Previous / next beat"],
      ["N / Shift+N", "Next / previous place to check (weak activation, tempo jump)"],
    ],
  ],
  [
    "Playback",
    [
      ["Space", "Play / pause (clicks on the beats, accented downbeats)"],
      ["Click the ruler", "Move the playhead there"],
      ["Drag on the ruler", "Choose a loop range"],
      ["L", "Loop on/off"],
      ["; / T", "Tap a beat at the playhead (minus the tap offset)"],
    ],
  ],
  [
    "History",
    [
      ["Ctrl+Z", "Undo (kept in the project file)"],
      ["Ctrl+Shift+Z / Ctrl+Y", "Redo"],
    ],
  ],
  [
    "Project",
    [
      ["Ctrl+N / Ctrl+O", "New / open project"],
      ["Ctrl+Q", "Quit (every edit is saved in the project file)"],
      ["Ctrl+I", "Add songs"],
      ["Ctrl+E", "Export beats"],
      ["Ctrl+L", "Learn from your corrections (fine-tune)"],
      ["?", "This help"],
      ["Esc", "Close dialogs, clear selection"],
    ],
  ],
];

function renderHelp() {
  const g = $("help-grid");
  g.replaceChildren();
  for (const [section, rows] of SHORTCUTS) {
    const box = document.createElement("section");
    const h = document.createElement("h3");
    h.textContent = section;
    box.append(h);
    for (const [k, what] of rows) {
      const row = document.createElement("div");
      const kk = document.createElement("span");
      kk.className = "k";
      for (const [i, part] of k.split(" / ").entries()) {
        if (i) kk.append(" / ");
        const kbd = document.createElement("kbd");
        kbd.textContent = part;
        kk.append(kbd);
      }
      const w = document.createElement("span");
      w.className = "muted";
      w.textContent = what;
      row.append(w, kk);
      box.append(row);
    }
    g.append(box);
  }
}

// ---- keyboard ---------------------------------------------------------------------------------
const MODALS = ["export-modal", "help-modal", "learn-modal", "tempo-modal", "adopt-modal"];

function anyModalOpen(): boolean {
  return MODALS.some((id) => !$(id).classList.contains("hidden"));
}

function closeModals(): boolean {
  let closed = false;
  for (const id of MODALS) {
    if (!$(id).classList.contains("hidden")) {
      $(id).classList.add("hidden");
      closed = true;
    }
  }
  return closed;
}

function selectedIndices(): number[] {
  return [...timeline.selected].sort((a, b) => a - b);
}

document.addEventListener("keydown", (e) => {
  const mod = e.ctrlKey || e.metaKey;
  const key = e.key;
  const focused = e.target instanceof HTMLElement ? e.target : null;
  const target = keyTarget(focused);
  if (focused && keyBelongsToTarget(target, key)) {
    // Typing in a field: its keys are not shortcuts. Escape, and Enter in a one-line field,
    // hand the keyboard back to the timeline (the field keeps its value).
    const oneLine = focused instanceof HTMLInputElement;
    if (key === "Escape" || (key === "Enter" && oneLine)) {
      focused.blur();
      if (!anyModalOpen()) timeline.canvas.focus();
    }
    // Escape in a dialog's field closes the dialog (below).
    if (key !== "Escape" || !anyModalOpen()) return;
  }
  if ((target === "control" || target === "arrows") && key === " " && !mod && !anyModalOpen()) {
    // Space on a checkbox, button, slider or list of the main window plays (below) instead of
    // also ticking, pressing or opening it: browsers activate those on key up, and the focus
    // moves to the timeline first, so the key up lands there.
    e.preventDefault();
    timeline.canvas.focus();
  }
  if (key === "Escape") {
    if (!$("curve-toggles").classList.contains("hidden")) return showCurveMenu(false);
    // The adoption view over the Learn panel: Escape cancels it (and its preview) alone.
    if (learn.escape()) return;
    if (!closeModals()) {
      timeline.selected.clear();
      timeline.invalidate();
      updateStatus();
    }
    return;
  }
  if (!$("export-modal").classList.contains("hidden") || !$("tempo-modal").classList.contains("hidden") || learn.isOpen()) return;
  if (mod && key.toLowerCase() === "z") {
    e.preventDefault();
    void history(e.shiftKey ? "redo" : "undo");
    return;
  }
  if (mod && key.toLowerCase() === "y") {
    e.preventDefault();
    void history("redo");
    return;
  }
  if (mod && key.toLowerCase() === "i") return void (e.preventDefault(), addSongs());
  if (mod && key.toLowerCase() === "e") return void (e.preventDefault(), state.tracks.length && exportDialog.open());
  if (mod && key.toLowerCase() === "l") return void (e.preventDefault(), state.tracks.length && openLearn());
  if (mod && key.toLowerCase() === "n") return void (e.preventDefault(), openProject("new"));
  if (mod && key.toLowerCase() === "o") return void (e.preventDefault(), openProject("open"));
  if (mod && key.toLowerCase() === "q") return void (e.preventDefault(), quit());
  const arrow = key === "ArrowLeft" || key === "ArrowRight";
  if (mod && !arrow) return;
  if (key === "?") {
    $("help-modal").classList.toggle("hidden");
    return;
  }
  if (!state.timeline) return;
  const sel = selectedIndices();
  if (arrow && sel.length) {
    // Nudge (Alt: stretch) in milliseconds: 5 ms, Shift 20 ms, Ctrl 1 ms.
    e.preventDefault();
    const dt = (key === "ArrowLeft" ? -1 : 1) * nudgeStepS(e);
    const ms = `${dt > 0 ? "+" : "−"}${Math.round(Math.abs(dt) * 1000)} ms`;
    if (e.altKey) {
      if (sel.length < 2) return;
      const next = stretchBeats(timeline.beats, sel, dt);
      if (next !== timeline.beats) commitEdit(next, `stretch ${sel.length} beats by ${ms}`);
    } else {
      const next = nudgeBeats(timeline.beats, sel, dt);
      commitEdit(next, `nudge ${sel.length === 1 ? `beat ${sel[0] + 1}` : `${sel.length} beats`} by ${ms}`);
    }
    return;
  }
  if (mod) return;
  switch (key) {
    case "n":
      jumpToSuggestion(1);
      break;
    case "N":
      jumpToSuggestion(-1);
      break;
    case "a":
    case "A":
      timeline.selected = new Set(beatsInRange());
      timeline.invalidate();
      updateStatus();
      break;
    case "m":
    case "M":
      void replaceWithModel();
      break;
    case "c":
    case "C":
      void continueFromCorrections();
      break;
    case "k":
    case "K":
      confirmChecked();
      break;
    case "g":
    case "G":
      straighten();
      break;
    case " ":
      e.preventDefault();
      void transport.toggle();
      break;
    case ";":
    case "t":
    case "T":
      e.preventDefault();
      void tapBeat();
      break;
    case "l":
    case "L":
      transport.toggleLoop();
      if ($<HTMLInputElement>("loop").checked && !transport.hasLoopRange())
        toast("Loop is on: drag on the ruler to choose the range to loop.", "info");
      updateStatus();
      break;
    case "Delete":
    case "Backspace":
      if (sel.length) {
        e.preventDefault();
        const next = removeBeats(timeline.beats, sel, state.beatsPerBar);
        timeline.selected.clear();
        commitEdit(next, sel.length === 1 ? `remove beat ${sel[0] + 1}` : `remove ${sel.length} beats`);
      }
      break;
    case ",":
    case ".": {
      const n = timeline.beats.times.length;
      if (!n) break;
      const cur = sel.length ? sel[0] : -1;
      const i = key === "," ? Math.max(0, cur < 0 ? n - 1 : cur - 1) : Math.min(n - 1, cur + 1);
      timeline.selected = new Set([i]);
      const t = timeline.beats.times[i];
      const v = timeline.view;
      const x = (t - v.startS) * v.pxPerS;
      if (x < 40 || x > v.widthPx - 40) timeline.setView({ ...v, startS: t - v.widthPx / (2 * v.pxPerS) });
      timeline.invalidate();
      updateStatus();
      break;
    }
    case "d":
    case "D":
      if (sel.length === 1) commitEdit(setDownbeat(timeline.beats, sel[0], state.beatsPerBar), `downbeat at beat ${sel[0] + 1}`);
      else toast("Select one beat, then press D to make it beat 1.", "info");
      break;
    case "2":
    case "3":
    case "4":
    case "5":
    case "6":
    case "7":
    case "8":
    case "9":
      if (e.altKey) break;
      if (sel.length === 1) {
        const m = Number(key);
        commitEdit(setDownbeat(timeline.beats, sel[0], state.beatsPerBar, m), `bars of ${m} from beat ${sel[0] + 1}`);
      } else toast(`Select one beat, then press ${key} to start bars of ${key} beats there.`, "info");
      break;
    case "s":
    case "S": {
      const cb = $<HTMLInputElement>("snap");
      cb.checked = !cb.checked;
      timeline.snap = cb.checked;
      break;
    }
    case "+":
    case "=":
      timeline.zoomBy(1.5);
      break;
    case "-":
    case "_":
      timeline.zoomBy(1 / 1.5);
      break;
    case "0":
      timeline.fit();
      break;
  }
});

// ---- wiring -----------------------------------------------------------------------------------
$("btn-new").onclick = () => void openProject("new");
$("btn-open").onclick = () => void openProject("open");
$("welcome-new").onclick = () => void openProject("new");
$("welcome-open").onclick = () => void openProject("open");
$("btn-add").onclick = () => void addSongs();
$("btn-export").onclick = () => void exportDialog.open();
$("btn-import").onclick = () => void songs.importBeats();
$("btn-tempo").onclick = () => openTempo();
$("btn-diff").onclick = () => {
  timeline.showGhosts = !timeline.showGhosts;
  renderDiffButton();
  timeline.invalidate();
};
$("tempo-cancel").onclick = () => $("tempo-modal").classList.add("hidden");
$("grid-tol").oninput = () => void saveGridTolerance();
$("tempo-straighten").onclick = () => {
  if (!saveGridTolerance()) {
    $("tempo-result").textContent = "Set the tolerance between 0 and 50 ms.";
    return;
  }
  $("tempo-modal").classList.add("hidden");
  straighten();
};
$("tempo-save").onclick = () => void saveTempo("none");
$("tempo-one").onclick = () => void saveTempo("one");
$("tempo-all").onclick = () => void saveTempo("all");
$("btn-suggest").onclick = () => jumpToSuggestion(1);
$("btn-curves").onclick = (e) => {
  e.stopPropagation();
  showCurveMenu($("curve-toggles").classList.contains("hidden"));
};
// A click anywhere but in the menu closes it.
document.addEventListener("mousedown", (e) => {
  if (!(e.target instanceof Node) || !$("btn-curves").parentElement?.contains(e.target)) showCurveMenu(false);
});
$("btn-continue").onclick = () => void continueFromCorrections();
$("btn-check").onclick = () => confirmChecked();
$("btn-learn").onclick = () => openLearn();
$("btn-help").onclick = () => $("help-modal").classList.toggle("hidden");
$("help-close").onclick = () => $("help-modal").classList.add("hidden");
$("btn-undo").onclick = () => void history("undo");
$("btn-redo").onclick = () => void history("redo");
$("btn-zoom-in").onclick = () => timeline.zoomBy(1.5);
$("btn-zoom-out").onclick = () => timeline.zoomBy(1 / 1.5);
$("btn-fit").onclick = () => timeline.fit();
$("loop").addEventListener("change", () => updateStatus());
$<HTMLInputElement>("snap").onchange = (e) => {
  timeline.snap = (e.target as HTMLInputElement).checked;
};
renderHelp();

async function showRecent() {
  const recent = (await guard(api.recentProjects())) ?? [];
  const box = $("recent");
  box.replaceChildren();
  if (recent.length === 0) return;
  const h = document.createElement("h3");
  h.textContent = "Recent projects";
  box.append(h);
  for (const p of recent.slice(0, 6)) {
    const a = document.createElement("a");
    a.textContent = p;
    a.onclick = () => void openProject("open", p);
    box.append(a);
  }
}

async function start() {
  const current = await guard(api.projectCurrent());
  const launched = current ? null : await guard(api.launchProject());
  if (current) await showProject(current);
  else if (launched) await openProject("open", launched);
  if (!state.project) await showRecent();
  try {
    const { getCurrentWebview } = await import("@tauri-apps/api/webview");
    await getCurrentWebview().onDragDropEvent((ev) => {
      if (ev.payload.type === "drop" && ev.payload.paths.length) void addSongs(ev.payload.paths);
    });
  } catch {
    // Outside Tauri (unit tests, browser preview): no file drops.
  }
}

// Test and diagnostics hooks (read by the e2e test; harmless in production).
declare global {
  interface Window {
    __zerons: unknown;
  }
}
window.__zerons = {
  state,
  timeline,
  beatClientX: (i: number) => timeline.beatClientX(i),
  beatTimes: () => Array.from(timeline.beats.times),
  /** Each beat's position in its bar as the timeline shows it (1 = downbeat). */
  beatPositions: () => Array.from(displayPositions(timeline.beats, state.beatsPerBar)),
  transport,
  learn,
  /** Saves pending taps and waits until every edit is saved. */
  idle: () => {
    flushTaps();
    return state.queue.then(() => state.pendingEdits === 0);
  },
  /** Redraw timings of a synthetic 10-minute song at several zoom levels. */
  benchRedraw(durationS = 600, rounds = 20) {
    const saved = { data: timeline.data, beats: timeline.beats, view: timeline.view };
    const synth = syntheticTimeline(durationS);
    timeline.setData(synth.data, synth.beats, 4);
    const r = timeline.benchmark(rounds);
    timeline.setData(saved.data, saved.beats, state.beatsPerBar);
    timeline.setView(saved.view);
    return r;
  },
};

// A window closing or hidden saves a run of taps now rather than after the pause.
window.addEventListener("pagehide", () => flushTaps());
document.addEventListener("visibilitychange", () => {
  if (document.hidden) flushTaps();
});

void start();
