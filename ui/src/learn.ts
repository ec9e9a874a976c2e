// The fine-tuning panel: choose songs (each says exactly which checked beats it would teach),
// train with a live chart (training loss and held-out F-measure per epoch), cancel, read the
// before/after table, then preview the new model song by song and adopt it for the songs
// the user ticks (adopt-view.ts), or keep the previous; an adoption can be rolled back.
import {
  api,
  toAppError,
  type AdoptResult,
  type AppError,
  type FinetuneInfo,
  type FinetuneMode,
  type FinetuneReport,
  type TrainEvent,
} from "./api";
import { formatTime } from "./timeline-math";
import { barsReportText, keptShareText, deviceText, learnVerdict } from "./messages";
import { adoptedText, canTick, defaultTicks, learnSummary, learnText, rollbackText } from "./adopt";
import { AdoptView } from "./adopt-view";

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

interface EpochPoint {
  epoch: number;
  loss: number;
  f: number | null;
}

export interface LearnHooks {
  onError(e: AppError): void;
  /** Songs' beats changed (adopted or rolled back): refresh the track list and the open timeline. */
  onRetracked(): void;
}

export class LearnPanel {
  info: FinetuneInfo | null = null;
  report: FinetuneReport | null = null;
  jobId: number | null = null;
  points: EpochPoint[] = [];
  baseF: number | null = null;
  maxEpochs = 0;
  running = false;
  /** The songs ticked (defaults: those with checked beats), kept across re-renders. */
  ticked = new Set<number>();
  /** An adoption made from this panel that can be rolled back. */
  canRollBack = false;
  readonly adoption: AdoptView;

  constructor(private hooks: LearnHooks) {
    this.adoption = new AdoptView({
      onAdopted: (r, total, name) => this.onAdopted(r, total, name),
      onCancelled: () => {
        $("learn-status").textContent = "Nothing changed: the previous model stays in use.";
      },
      onError: (e) => this.hooks.onError(e),
    });
    $("learn-rollback").onclick = () => void this.rollBack();
    // "Every beat was checked": every song can be ticked, and each says it is learned whole.
    $<HTMLInputElement>("learn-whole").onchange = () => this.renderSongs();
    $("learn-close").onclick = () => this.close();
    $("learn-start").onclick = () => void this.start();
    // The keep-the-rest term needs the cached lower layers: not with the whole network.
    $<HTMLSelectElement>("learn-mode").onchange = (e) => {
      $<HTMLInputElement>("learn-keep-rest").disabled = (e.target as HTMLSelectElement).value === "full";
    };
    $("learn-cancel").onclick = () => {
      if (this.jobId !== null) void api.cancelJob(this.jobId);
    };
    $("learn-use").onclick = () => this.report && void this.adoption.open(this.report.model_id, this.report.model_name);
    $("learn-keep").onclick = () => {
      this.setButtons("idle");
      $("learn-status").textContent = "The previous model stays in use. The new one is kept in the list below.";
    };
  }

  isOpen() {
    return !$("learn-modal").classList.contains("hidden");
  }

  /** Escape: closes the adoption view alone (cancelling its preview); false when it is not open. */
  escape(): boolean {
    if (!this.adoption.isOpen()) return false;
    this.adoption.cancel();
    return true;
  }

  /** Opens the panel; the song list is read after `saved` (the edits being saved). */
  async open(saved: Promise<unknown> = Promise.resolve()) {
    $("learn-modal").classList.remove("hidden");
    if (!this.running) {
      this.points = [];
      this.report = null;
      $("learn-report").replaceChildren();
      $("learn-retrack").replaceChildren();
      $("learn-status").textContent = "";
      this.setButtons("idle");
      this.drawChart();
    }
    $("learn-rollback").classList.toggle("hidden", !this.canRollBack);
    // Reading every song's corrections takes a few seconds on a big project.
    this.showLoading();
    await saved.catch(() => undefined);
    await this.refresh();
  }

  /** Whether the song list is being read (Start waits for it). */
  loading = false;

  private showLoading() {
    this.loading = true;
    $<HTMLButtonElement>("learn-start").disabled = true;
    for (const [id, text] of [
      ["learn-songs", "Reading your checked beats…"],
      ["learn-models", "Reading the models…"],
    ]) {
      const li = document.createElement("li");
      li.className = "loading muted";
      const spin = document.createElement("span");
      spin.className = "spinner";
      spin.setAttribute("aria-hidden", "true");
      li.append(spin, text);
      $(id).replaceChildren(li);
      $(id).setAttribute("aria-busy", "true");
    }
    $("learn-device").textContent = "";
    $("learn-summary").textContent = "";
  }

  close() {
    $("learn-modal").classList.add("hidden");
  }

  async refresh() {
    try {
      this.info = await api.finetuneInfo();
    } catch (e) {
      if (this.loading) for (const id of ["learn-songs", "learn-models"]) $(id).replaceChildren();
      this.hooks.onError(toAppError(e));
      return;
    } finally {
      this.loading = false;
      $<HTMLButtonElement>("learn-start").disabled = false;
      $("learn-songs").removeAttribute("aria-busy");
      $("learn-models").removeAttribute("aria-busy");
    }
    this.ticked = defaultTicks(this.info.candidates);
    this.renderSongs();
    this.renderModels();
    $("learn-device").textContent = deviceText(this.info);
  }

  /** One row per song: its tick, its name, and exactly what would be learned from it. */
  renderSongs() {
    const ul = $("learn-songs");
    ul.replaceChildren();
    const whole = $<HTMLInputElement>("learn-whole").checked;
    const candidates = this.info?.candidates ?? [];
    for (const c of candidates) {
      const li = document.createElement("li");
      li.classList.toggle("corrected", c.corrected);
      li.dataset.track = String(c.track_id);
      const cb = document.createElement("input");
      cb.type = "checkbox";
      cb.value = String(c.track_id);
      cb.disabled = !canTick(c, whole);
      cb.checked = !cb.disabled && this.ticked.has(c.track_id);
      cb.onchange = () => {
        if (cb.checked) this.ticked.add(c.track_id);
        else this.ticked.delete(c.track_id);
        $("learn-summary").textContent = learnSummary(candidates, this.ticked, whole);
      };
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = c.name;
      const what = document.createElement("span");
      what.className = "what";
      what.textContent = learnText(c, whole);
      const label = document.createElement("label");
      label.className = "toggle";
      if (cb.disabled && c.n_beats > 0) label.title = "No checked beats: tick “Every beat of the ticked songs is right” to learn from the whole song.";
      label.append(cb, name);
      li.append(label, what);
      ul.append(li);
    }
    if (!ul.children.length) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = "No analysed songs yet.";
      ul.append(li);
    }
    $("learn-summary").textContent = candidates.length ? learnSummary(candidates, this.ticked, whole) : "";
  }

  private renderModels() {
    const ul = $("learn-models");
    ul.replaceChildren();
    for (const m of this.info?.models ?? []) {
      const li = document.createElement("li");
      li.classList.toggle("active", m.active);
      const name = document.createElement("span");
      name.textContent = m.name + (m.active ? "  — in use" : "");
      li.append(name);
      // Any model can be previewed: one not in use to adopt it, the one in use to update
      // the songs not accepted yet, one by one.
      const b = document.createElement("button");
      b.textContent = m.active ? "Update songs…" : "Use…";
      b.title = m.active
        ? "See what the model in use would change in each song, then choose more songs to update"
        : "See what this model would change in each song, then choose the songs to update";
      b.disabled = this.running;
      b.onclick = () => void this.adoption.open(m.id, m.name);
      li.append(b);
      ul.append(li);
    }
  }

  private setButtons(mode: "idle" | "training" | "report") {
    $("learn-start").classList.toggle("hidden", mode !== "idle");
    $("learn-cancel").classList.toggle("hidden", mode !== "training");
    $("learn-use").classList.toggle("hidden", mode !== "report");
    $("learn-keep").classList.toggle("hidden", mode !== "report");
  }

  private async start() {
    const ids = [...document.querySelectorAll<HTMLInputElement>("#learn-songs input:checked:not(:disabled)")].map((c) => Number(c.value));
    if (!ids.length) {
      $("learn-status").textContent = "Tick at least one song with checked beats (✓ Checked or K on the timeline).";
      return;
    }
    const mode = $<HTMLSelectElement>("learn-mode").value as FinetuneMode;
    const whole = $<HTMLInputElement>("learn-whole").checked;
    const keepRest = mode !== "full" && $<HTMLInputElement>("learn-keep-rest").checked;
    this.points = [];
    this.baseF = null;
    this.report = null;
    $("learn-report").replaceChildren();
    $("learn-retrack").replaceChildren();
    $("learn-status").textContent = "Preparing…";
    this.running = true;
    this.setButtons("training");
    this.drawChart();
    try {
      this.jobId = await api.finetuneStart(ids, mode, whole, keepRest, (e) => this.onTrain(e));
    } catch (e) {
      this.running = false;
      this.setButtons("idle");
      $("learn-status").textContent = "";
      this.hooks.onError(toAppError(e));
    }
  }

  onTrain(e: TrainEvent) {
    switch (e.kind) {
      case "preparing":
        $("learn-status").textContent = `Preparing ${e.song} (${e.index + 1}/${e.total}): ${e.stage}…`;
        break;
      case "epoch":
        this.points.push({ epoch: e.epoch, loss: e.train_loss, f: e.held_out_f });
        this.baseF = e.base_f;
        this.maxEpochs = e.max_epochs;
        $("learn-status").textContent =
          `Epoch ${e.epoch}/${e.max_epochs} · loss ${e.train_loss.toFixed(4)}` +
          (e.held_out_f !== null ? ` · held-out F ${e.held_out_f.toFixed(3)}` : "") +
          (e.best_f !== null ? ` (best ${e.best_f.toFixed(3)})` : "") +
          ` · ${Math.ceil(e.eta_s)} s left at most`;
        this.drawChart();
        break;
      case "finished":
        this.running = false;
        this.jobId = null;
        this.report = e.report;
        this.renderReport(e.report);
        this.setButtons("report");
        // An unchanged model is nothing to use.
        $("learn-use").classList.toggle("hidden", e.report.base_kept);
        void this.refresh();
        break;
      case "failed":
        this.running = false;
        this.jobId = null;
        this.setButtons("idle");
        $("learn-status").textContent = `Failed: ${e.error.message}`;
        this.hooks.onError(e.error);
        break;
      case "cancelled":
        this.running = false;
        this.jobId = null;
        this.setButtons("idle");
        $("learn-status").textContent = "Cancelled. Nothing changed: the previous model stays in use.";
        break;
    }
  }

  private renderReport(r: FinetuneReport) {
    const box = $("learn-report");
    box.replaceChildren();
    $("learn-status").textContent =
      `Done in ${r.elapsed_s.toFixed(1)} s · ${r.base_kept ? "nothing trained" : `best epoch ${r.best_epoch} of ${r.epochs}`} · ` +
      r.songs.map((s) => `${s.name}: ${s.beats} beats to ${formatTime(s.region_end_s, 1)}`).join(" · ");
    if (r.before && r.after && !r.base_kept) {
      const t = document.createElement("table");
      const row = (cells: string[], head = false) => {
        const tr = document.createElement("tr");
        for (const c of cells) {
          const td = document.createElement(head ? "th" : "td");
          td.textContent = c;
          tr.append(td);
        }
        t.append(tr);
      };
      row([`Held-out beats (${r.after.beats})`, "F-measure", "CMLt", "AMLt"], true);
      row([`Before: ${r.base_name}`, r.before.f_measure.toFixed(3), r.before.cmlt.toFixed(3), r.before.amlt.toFixed(3)]);
      row(["After: fine-tuned", r.after.f_measure.toFixed(3), r.after.cmlt.toFixed(3), r.after.amlt.toFixed(3)]);
      box.append(t);
    }
    const v = document.createElement("div");
    const verdict = learnVerdict(r);
    v.className = `verdict ${verdict.tone}`;
    v.textContent = verdict.text;
    box.append(v);
    const lines: [string, string | null][] = [
      ["kept-share", r.base_kept ? null : keptShareText(r.kept_share)],
      ["bars-report", barsReportText(r.bars)],
    ];
    for (const [className, text] of lines) {
      if (!text) continue;
      const d = document.createElement("div");
      d.className = className;
      d.textContent = text;
      box.append(d);
    }
    $("learn-use").textContent = r.improved ? "Use this model…" : "Use it anyway…";
  }

  private onAdopted(r: AdoptResult, totalSongs: number, modelName: string) {
    this.setButtons("idle");
    this.canRollBack = true;
    $("learn-rollback").classList.remove("hidden");
    $("learn-status").textContent = adoptedText(r, totalSongs, modelName);
    const ul = $("learn-retrack");
    ul.replaceChildren();
    for (const a of r.accepted) {
      const li = document.createElement("li");
      const b = document.createElement("b");
      b.textContent = a.name;
      li.append(b, ` — updated, ${a.n_beats} beats (the beats you set or checked are kept)`);
      ul.append(li);
    }
    void this.refresh();
    this.hooks.onRetracked();
  }

  /** The previous model and the last adoption's songs' beats back. */
  private async rollBack() {
    const btn = $<HTMLButtonElement>("learn-rollback");
    btn.disabled = true;
    try {
      const r = await api.rollbackAdoption();
      $("learn-status").textContent = rollbackText(r);
      $("learn-retrack").replaceChildren();
      // The models list shows which one is in use: the previous one again.
      void this.refresh();
      this.hooks.onRetracked();
    } catch (e) {
      const err = toAppError(e);
      if (err.code === "nothing_to_roll_back") $("learn-status").textContent = "Nothing to roll back.";
      else {
        this.hooks.onError(err);
        return;
      }
    } finally {
      btn.disabled = false;
    }
    this.canRollBack = false;
    btn.classList.add("hidden");
    void this.refresh();
    this.hooks.onRetracked();
  }

  /** Loss (left axis, amber) and held-out F-measure (right axis 0–1, teal; dashed: before). */
  drawChart() {
    const c = $<HTMLCanvasElement>("learn-chart");
    const dpr = window.devicePixelRatio || 1;
    const W = 460;
    const H = 200;
    if (c.width !== W * dpr) {
      c.width = W * dpr;
      c.height = H * dpr;
    }
    const ctx = c.getContext("2d");
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = "#101216";
    ctx.fillRect(0, 0, W, H);
    const L = 44;
    const R = 40;
    const T = 12;
    const B = 26;
    const pw = W - L - R;
    const ph = H - T - B;
    ctx.strokeStyle = "#232831";
    ctx.strokeRect(L + 0.5, T + 0.5, pw, ph);
    ctx.font = "10px 'DejaVu Sans Mono', monospace";
    ctx.fillStyle = "#8b93a1";
    ctx.fillText("epoch", L + pw / 2 - 14, H - 6);
    const pts = this.points;
    const n = Math.max(this.maxEpochs ? Math.min(this.maxEpochs, Math.max(10, pts.length + 5)) : 10, pts.length);
    const x = (e: number) => L + ((e - 1) / Math.max(1, n - 1)) * pw;
    const losses = pts.map((p) => p.loss).filter(Number.isFinite);
    const lmax = losses.length ? Math.max(...losses) * 1.05 : 1;
    const lmin = losses.length ? Math.min(...losses) * 0.95 : 0;
    const yl = (v: number) => T + ph - ((v - lmin) / Math.max(1e-9, lmax - lmin)) * ph;
    const yf = (v: number) => T + ph - v * ph;
    // Axes labels.
    ctx.fillStyle = "#f5a524";
    ctx.fillText("loss", 6, T + 8);
    ctx.fillText(lmax.toFixed(3), 4, T + 20);
    ctx.fillText(lmin.toFixed(3), 4, T + ph);
    ctx.fillStyle = "#4fd1c5";
    ctx.fillText("F", W - R + 8, T + 8);
    for (const v of [0, 0.5, 1]) ctx.fillText(v.toFixed(1), W - R + 8, yf(v) + 3);
    ctx.fillStyle = "#59606c";
    for (const e of [1, Math.round(n / 2), n]) ctx.fillText(String(e), x(e) - 3, T + ph + 12);
    if (this.baseF !== null) {
      ctx.strokeStyle = "rgba(79,209,197,0.5)";
      ctx.setLineDash([4, 4]);
      ctx.beginPath();
      ctx.moveTo(L, yf(this.baseF));
      ctx.lineTo(L + pw, yf(this.baseF));
      ctx.stroke();
      ctx.setLineDash([]);
    }
    const line = (color: string, get: (p: EpochPoint) => number | null, y: (v: number) => number) => {
      ctx.strokeStyle = color;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      let started = false;
      for (const p of pts) {
        const v = get(p);
        if (v === null || !Number.isFinite(v)) continue;
        if (started) ctx.lineTo(x(p.epoch), y(v));
        else ctx.moveTo(x(p.epoch), y(v));
        started = true;
      }
      ctx.stroke();
      ctx.lineWidth = 1;
    };
    line("#f5a524", (p) => p.loss, yl);
    line("#4fd1c5", (p) => p.f, yf);
  }
}
