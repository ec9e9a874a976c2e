// The adoption view (issue 19, replaces "use the model and re-track every song"): a model is
// previewed on every song without changing anything, one row per song as it is analysed
// (tempo now → new with a tempo level change called out, the beats that would change, the
// F-measure on the song's checked beats before → after, the reason for the default choice),
// then the user adopts the model for the ticked songs only, ticks them all, or cancels.
import { api, toAppError, type AdoptResult, type AppError, type PreviewEvent, type Proposal } from "./api";
import {
  adoptButtonText,
  changesText,
  previewSummary,
  progressText,
  reasonText,
  scoreText,
  tempoText,
} from "./adopt";

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

type Done = Extract<PreviewEvent, { kind: "done" }>;

export interface AdoptHooks {
  /** The model is the project's now and the ticked songs have its beats. */
  onAdopted(r: AdoptResult, totalSongs: number, modelName: string): void;
  /** Closed without adopting: nothing changed. */
  onCancelled(): void;
  onError(e: AppError): void;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className = "", text = ""): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text) e.textContent = text;
  return e;
}

export class AdoptView {
  modelId: number | null = null;
  modelName = "";
  jobId: number | null = null;
  proposals: Proposal[] = [];
  ticked = new Set<number>();
  done: Done | null = null;
  /** Each preview's number: events of an earlier (cancelled) one are ignored. */
  private run = 0;
  private adopting = false;

  constructor(private hooks: AdoptHooks) {
    $("adopt-cancel").onclick = () => this.cancel();
    $("adopt-tick-all").onclick = () => {
      for (const p of this.proposals) this.ticked.add(p.track_id);
      for (const cb of document.querySelectorAll<HTMLInputElement>("#adopt-songs tbody input[type=checkbox]")) cb.checked = true;
      this.renderSummary();
    };
    $("adopt-go").onclick = () => void this.adopt();
  }

  isOpen() {
    return !$("adopt-modal").classList.contains("hidden");
  }

  /** Previews `modelId` (null: the shipped model) on every song and shows the rows as they come. */
  async open(modelId: number | null, modelName: string) {
    const run = ++this.run;
    this.modelId = modelId;
    this.modelName = modelName;
    this.jobId = null;
    this.proposals = [];
    this.ticked = new Set();
    this.done = null;
    this.adopting = false;
    $("adopt-title").textContent = `Use ${modelName}?`;
    $("adopt-songs").querySelector("tbody")?.replaceChildren();
    $("adopt-summary").textContent = "";
    this.progress("Analysing every song with the model…", 0);
    this.setReady(false);
    $("adopt-modal").classList.remove("hidden");
    try {
      const id = await api.previewModel(modelId, (e) => {
        if (run === this.run) this.onEvent(e);
      });
      if (run === this.run && !this.done) this.jobId = id;
    } catch (e) {
      if (run !== this.run) return;
      this.close();
      this.hooks.onError(toAppError(e));
    }
  }

  onEvent(e: PreviewEvent) {
    switch (e.kind) {
      case "song": {
        const p = e.proposal;
        this.proposals.push(p);
        if (p.default_accept) this.ticked.add(p.track_id);
        this.appendRow(p);
        this.progress(progressText(e.index + 1, e.total), (e.index + 1) / Math.max(1, e.total));
        break;
      }
      case "failed":
        if (e.track_id < 0) {
          // The whole preview stopped: nothing changed.
          this.jobId = null;
          if (e.error.code === "cancelled") {
            this.close();
            this.hooks.onCancelled();
          } else {
            this.progress(`The preview failed: ${e.error.message}`, null);
            this.hooks.onError(e.error);
          }
          return;
        }
        this.appendFailed(e.name, e.error);
        break;
      case "done":
        this.jobId = null;
        this.done = e;
        this.progress(progressText(this.proposals.length, this.proposals.length), null);
        this.setReady(true);
        this.renderSummary();
        break;
    }
  }

  /** Cancel (button or Escape): stops the preview if it runs; nothing changes. */
  cancel() {
    if (this.adopting) return;
    if (this.jobId !== null) void api.cancelJob(this.jobId);
    this.jobId = null;
    this.run++;
    this.close();
    this.hooks.onCancelled();
  }

  private close() {
    $("adopt-modal").classList.add("hidden");
  }

  private async adopt() {
    if (!this.done || this.adopting) return;
    const accept = this.proposals.filter((p) => this.ticked.has(p.track_id)).map((p) => p.track_id);
    this.adopting = true;
    this.setReady(false);
    this.progress("Updating the ticked songs…", null);
    try {
      const r = await api.adoptModel(this.modelId, accept);
      this.close();
      this.hooks.onAdopted(r, this.proposals.length, this.modelName);
    } catch (e) {
      this.progress("", null);
      this.setReady(true);
      this.hooks.onError(toAppError(e));
    } finally {
      this.adopting = false;
    }
  }

  /** The progress line and its bar (`fraction` null: no bar). */
  private progress(text: string, fraction: number | null) {
    $("adopt-progress-text").textContent = text;
    const bar = $("adopt-bar");
    bar.classList.toggle("hidden", fraction === null);
    (bar.firstElementChild as HTMLElement).style.width = `${Math.round(Math.max(0.03, fraction ?? 0) * 100)}%`;
  }

  /** Adopting and "Tick all" wait for the whole preview. */
  private setReady(ready: boolean) {
    $<HTMLButtonElement>("adopt-go").disabled = !ready;
    $<HTMLButtonElement>("adopt-tick-all").disabled = !ready;
    $("adopt-go").textContent = adoptButtonText(this.ticked.size);
  }

  private renderSummary() {
    $("adopt-go").textContent = adoptButtonText(this.proposals.filter((p) => this.ticked.has(p.track_id)).length);
    if (this.done) $("adopt-summary").textContent = previewSummary(this.done, this.proposals, this.ticked);
  }

  private appendRow(p: Proposal) {
    const tr = el("tr");
    tr.dataset.track = String(p.track_id);
    tr.classList.toggle("off", !p.default_accept);
    // Song, and why it is ticked or not.
    const song = el("td", "song");
    const label = el("label", "toggle");
    const cb = el("input");
    cb.type = "checkbox";
    cb.value = String(p.track_id);
    cb.checked = this.ticked.has(p.track_id);
    cb.onchange = () => {
      if (cb.checked) this.ticked.add(p.track_id);
      else this.ticked.delete(p.track_id);
      this.renderSummary();
    };
    label.append(cb, el("span", "name", p.name));
    song.append(label, el("div", "reason", reasonText(p)));
    // Tempo now → new.
    const t = tempoText(p);
    const tempo = el("td", "tempo");
    tempo.append(el("span", t.warn ? "warn" : "", t.warn ? `⚠ ${t.text}` : t.text));
    if (t.warn) tempo.title = "The tempo level would change (double, half or a third off): check the song before accepting.";
    // The beats that would change.
    const ch = changesText(p);
    const beats = el("td", "beats", ch.changed);
    if (ch.kept) beats.append(el("div", "kept", ch.kept));
    if (p.phase_change) beats.append(el("div", "warn", "⚠ moved by half a beat"));
    // F on the checked beats.
    const f = el("td", "score");
    const s = scoreText(p);
    if (s) f.append(el("span", s.trend, s.text));
    else f.append(el("span", "muted", "nothing checked"));
    if (p.trained_on) {
      const tag = el("span", "tag", "trained on");
      tag.title = "The model was trained on this song: its score here is optimistic.";
      f.append(" ", tag);
    }
    tr.append(song, tempo, beats, f);
    $("adopt-songs").querySelector("tbody")?.append(tr);
  }

  private appendFailed(name: string, error: AppError) {
    const tr = el("tr", "failed");
    const song = el("td", "song");
    song.append(el("span", "name", name || "a song"), el("div", "reason", `Not analysed: ${error.message}. It keeps its beats.`));
    const rest = el("td");
    rest.colSpan = 3;
    tr.append(song, rest);
    $("adopt-songs").querySelector("tbody")?.append(tr);
  }
}
