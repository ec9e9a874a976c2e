// The export dialog: the formats, this song or the whole project, and the DJ grid the
// Rekordbox and Traktor files get (style and tolerance, shared with the straighten edit).
// Every choice is kept from one export, and session, to the next.
import { api, type AppError, type FormatInfo, type TrackView } from "./api";
import { GRID_STYLES, loadGridPrefs, parseTolerance, readToleranceField, saveGridPrefs, type GridStyle } from "./grid";

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

const PREFS_KEY = "zerons.export";

export interface ExportHost {
  state: { tracks: TrackView[]; trackId: number | null; queue: Promise<unknown> };
  guard<T>(p: Promise<T>): Promise<T | undefined>;
  toast(e: AppError | string, kind?: "error" | "info"): void;
  flushTaps(): void;
}

function loadPrefs(): { formats: string[] | null; scope: string } {
  try {
    const p = JSON.parse(localStorage.getItem(PREFS_KEY) ?? "{}") as { formats?: unknown; scope?: unknown };
    const formats = Array.isArray(p.formats) ? p.formats.filter((f): f is string => typeof f === "string") : null;
    return { formats, scope: p.scope === "all" ? "all" : "track" };
  } catch {
    return { formats: null, scope: "track" };
  }
}

const checkedFormats = () => [...document.querySelectorAll<HTMLInputElement>("#export-formats input:checked")].map((c) => c.value);

function savePrefs() {
  const scope = document.querySelector<HTMLInputElement>('input[name="scope"]:checked')?.value ?? "track";
  try {
    localStorage.setItem(PREFS_KEY, JSON.stringify({ formats: checkedFormats(), scope }));
  } catch {
    // Storage off (private mode): the choices last until the window closes.
  }
}

export class ExportDialog {
  private formats: FormatInfo[] = [];

  constructor(private host: ExportHost) {
    const style = $<HTMLSelectElement>("export-grid-style");
    for (const [value, label] of GRID_STYLES) style.append(new Option(label, value));
    style.onchange = () => this.saveGrid();
    $<HTMLInputElement>("export-grid-tol").oninput = () => this.saveGrid();
    $("export-cancel").onclick = () => $("export-modal").classList.add("hidden");
    $("export-go").onclick = () => void this.run();
  }

  /** The grid row's settings into the shared preferences (a bad tolerance is flagged, not saved). */
  private saveGrid() {
    const tolInput = $<HTMLInputElement>("export-grid-tol");
    const tol = readToleranceField(tolInput);
    const style = $<HTMLSelectElement>("export-grid-style").value as GridStyle;
    tolInput.disabled = style === "per-beat";
    if (tol !== null) saveGridPrefs({ style, tolerance_ms: tol });
  }

  async open() {
    this.host.flushTaps();
    if (this.formats.length === 0) this.formats = (await this.host.guard(api.exportFormats())) ?? [];
    const prefs = loadPrefs();
    const ul = $("export-formats");
    ul.replaceChildren();
    for (const f of this.formats) {
      const li = document.createElement("li");
      const label = document.createElement("label");
      const cb = document.createElement("input");
      cb.type = "checkbox";
      cb.value = f.name;
      cb.checked = prefs.formats ? prefs.formats.includes(f.name) : f.name === "csv" || f.name === "jams";
      cb.dataset.format = f.name;
      cb.onchange = () => {
        savePrefs();
        this.showGridRow();
      };
      const text = document.createElement("span");
      text.textContent = f.label;
      const ext = document.createElement("span");
      ext.className = "ext";
      ext.textContent = `.${f.extension}`;
      label.append(cb, text, ext);
      li.append(label);
      if (f.limitations) {
        const lim = document.createElement("div");
        lim.className = "lim";
        lim.textContent = f.limitations;
        li.append(lim);
      }
      ul.append(li);
    }
    for (const r of document.querySelectorAll<HTMLInputElement>('input[name="scope"]')) {
      r.checked = r.value === prefs.scope;
      r.onchange = savePrefs;
    }
    const grid = loadGridPrefs();
    $<HTMLSelectElement>("export-grid-style").value = grid.style;
    const tol = $<HTMLInputElement>("export-grid-tol");
    tol.value = String(grid.tolerance_ms);
    tol.disabled = grid.style === "per-beat";
    tol.classList.remove("invalid");
    this.showGridRow();
    $("export-result").textContent = "";
    $("export-modal").classList.remove("hidden");
  }

  /** The grid settings matter only to the DJ formats: shown while one of them is ticked. */
  private showGridRow() {
    const dj = checkedFormats().some((f) => f === "rekordbox" || f === "traktor");
    $("export-grid").classList.toggle("dim", !dj);
  }

  private async run() {
    const { state, guard, toast } = this.host;
    const formats = checkedFormats();
    if (formats.length === 0) {
      $("export-result").textContent = "Choose at least one format.";
      return;
    }
    if (parseTolerance($<HTMLInputElement>("export-grid-tol").value) === null) {
      $("export-result").textContent = "Set the grid tolerance between 0 and 50 ms.";
      return;
    }
    const grid = loadGridPrefs();
    const all = document.querySelector<HTMLInputElement>('input[name="scope"]:checked')?.value === "all";
    const ids = all ? state.tracks.map((t) => t.id) : state.trackId !== null ? [state.trackId] : [];
    if (ids.length === 0) return;
    const dir = await guard(api.pickPath("export_dir"));
    if (!dir || dir.length === 0) return;
    this.host.flushTaps();
    await state.queue;
    const written: string[] = [];
    if (all) {
      // One Rekordbox / Traktor collection for the whole project, one file per song otherwise.
      const files = await guard(api.exportProject(formats, dir[0], grid));
      if (files) written.push(...files.map((f) => f.path));
    } else {
      for (const id of ids) {
        const files = await guard(api.exportTrack(id, formats, dir[0], grid));
        if (files) written.push(...files.map((f) => f.path));
      }
    }
    $("export-result").textContent = written.length ? `Wrote ${written.length} file(s):\n${written.join("\n")}` : "";
    $("export-result").style.whiteSpace = "pre-line";
    if (written.length) toast(`Exported ${written.length} file(s) to ${dir[0]}`, "info");
  }
}
