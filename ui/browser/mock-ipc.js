// Mocked Tauri IPC for browser tests of the UI alone (no Rust): a project with one
// synthetic 3-minute song at 120 BPM. Runs in the page before the app (classic script,
// after @tauri-apps/api/mocks.js). Binary commands are answered with ArrayBuffers in the
// layouts of src-tauri/src/wire.rs.
(function () {
  const SR = 44100, DUR = 180, FPS = 62.5, BPM = 120;
  const period = 60 / BPM;
  function rand(seed) { let s = seed; return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 4294967296); }
  function timeline() {
    const r = rand(7);
    const levels = [];
    let block = 32, n = Math.ceil((DUR * SR) / block), prev = null;
    for (;;) {
      const mm = new Float32Array(2 * n);
      for (let b = 0; b < n; b++) {
        if (prev) {
          let lo = Infinity, hi = -Infinity;
          for (let j = 4 * b; j < Math.min(4 * b + 4, prev.length / 2); j++) { lo = Math.min(lo, prev[2 * j]); hi = Math.max(hi, prev[2 * j + 1]); }
          mm[2 * b] = lo; mm[2 * b + 1] = hi;
        } else {
          const t = (b * block) / SR;
          const ph = (t % period) / period;
          const kick = Math.exp(-ph * 14) * 0.85;
          const hat = Math.exp(-(((t + period / 2) % period) / period) * 30) * 0.25;
          const bed = 0.12 + 0.06 * Math.sin(t * 0.7);
          const a = Math.min(1, kick + hat + bed * (0.6 + 0.4 * r()));
          mm[2 * b] = -a * (0.75 + 0.25 * r()); mm[2 * b + 1] = a * (0.75 + 0.25 * r());
        }
      }
      levels.push({ block, mm });
      if (n <= 512) break;
      prev = mm; block *= 4; n = Math.ceil(n / 4);
    }
    const nf = Math.ceil(DUR * FPS);
    const curve = new Float32Array(nf);
    for (let k = 0; k < nf; k++) {
      const t = k / FPS, ph = ((t % period) + period) % period;
      const d = Math.min(ph, period - ph);
      const off = Math.abs((((t + period / 2) % period)) - 0) < 0.02 ? 0.25 : 0;
      curve[k] = Math.max(0, Math.exp(-(d * d) / 0.0004) * (0.7 + 0.3 * r()) + off * r() + 0.04 * r());
    }
    // `window.__MOCK_CURVES__`: the curve kinds (the real app has flux, max, anchor, postve);
    // every one carries the same values.
    const names = (window.__MOCK_CURVES__ ?? ["flux"]).map((k) => new TextEncoder().encode(k));
    const headerLen = 32 + 8 * levels.length + names.reduce((s, n) => s + 12 + Math.ceil(n.length / 4) * 4, 0);
    const total = headerLen + levels.reduce((s, l) => s + l.mm.byteLength, 0) + names.length * curve.byteLength;
    const buf = new ArrayBuffer(total), v = new DataView(buf);
    "ZNTL".split("").forEach((c, i) => v.setUint8(i, c.charCodeAt(0)));
    v.setUint32(4, 1, true); v.setFloat64(8, DUR, true); v.setUint32(16, SR, true);
    v.setUint32(20, levels.length, true); v.setUint32(24, names.length, true);
    let at = 32;
    for (const l of levels) { v.setUint32(at, l.block, true); v.setUint32(at + 4, l.mm.length / 2, true); at += 8; }
    for (const name of names) {
      v.setFloat32(at, FPS, true); v.setUint32(at + 4, nf, true); v.setUint32(at + 8, name.length, true);
      new Uint8Array(buf, at + 12, name.length).set(name); at += 12 + Math.ceil(name.length / 4) * 4;
    }
    for (const l of levels) { new Float32Array(buf, at, l.mm.length).set(l.mm); at += l.mm.byteLength; }
    for (let i = 0; i < names.length; i++, at += curve.byteLength) new Float32Array(buf, at, nf).set(curve);
    return buf;
  }
  // `window.__MOCK_TRACK_TEMPO__`: song 1's own tempo range and meter (the per-song label).
  const settings = { min_bpm: 55, max_bpm: 215, beats_per_bar: 4, track_tempo: window.__MOCK_TRACK_TEMPO__ ? { 1: window.__MOCK_TRACK_TEMPO__ } : {} };
  const beatTimes = Array.from({ length: Math.floor((DUR - 0.3) / period) }, (_, i) => 0.5 + i * period + (i === 37 ? 0.06 : 0));
  /** The wire's beat list (src/wire.ts); with `positions`, each beat's position in its bar. */
  function beats(rev, times = beatTimes, positions = null) {
    const beatTimes_ = times;
    const n = beatTimes_.length, buf = new ArrayBuffer(24 + 8 * n + (positions ? 4 * n : 0)), v = new DataView(buf);
    "ZNBT".split("").forEach((c, i) => v.setUint8(i, c.charCodeAt(0)));
    v.setUint32(4, n, true); v.setBigInt64(8, BigInt(rev), true); v.setUint32(16, positions ? 1 : 0, true); v.setUint32(20, 4, true);
    beatTimes_.forEach((t, i) => v.setFloat64(24 + 8 * i, t, true));
    if (positions) positions.forEach((p, i) => v.setUint32(24 + 8 * n + 4 * i, p, true));
    return buf;
  }
  // ---- songs and their beat revisions, with the provenance of every beat (issue 19) -----------
  // Songs: 1 (always), 2 with `window.__MOCK_TWO_SONGS__` or `__MOCK_THREE_SONGS__` (the same
  // audio and beats), 3 with `__MOCK_THREE_SONGS__`: a 170-BPM song that a new model would
  // track at 85 BPM (a tempo level change). Every song starts with one model revision.
  const SAME_BEAT_S = 0.0005;
  const CHECKED = new Set(["user", "confirmed"]);
  const KEPT = new Set(["user", "confirmed", "imported"]);
  const dnbPeriod = 60 / 170;
  const dnbTimes = Array.from({ length: Math.floor((DUR - 0.6) / dnbPeriod) }, (_, i) => 0.3 + i * dnbPeriod);
  let nextRev = 1;
  const songs = new Map();
  const addSong = (id, times) => songs.set(id, { revs: [{ id: nextRev++, author: "model", note: "", times: times.slice(), sources: times.map(() => "model") }], head: 0 });
  addSong(1, beatTimes);
  addSong(2, beatTimes);
  addSong(3, dnbTimes);
  // Songs removed from the project (`remove_track`), songs pointed at another file (`relink_track`),
  // songs whose file went away while the app runs (`window.__MOCK_LOSE_FILE__(id)`).
  const removed = new Set();
  const paths = new Map();
  const gone = new Set();
  window.__MOCK_LOSE_FILE__ = (id) => gone.add(id);
  const songIds = () => (window.__MOCK_THREE_SONGS__ ? [1, 2, 3] : window.__MOCK_TWO_SONGS__ ? [1, 2] : [1]).filter((id) => !removed.has(id));
  const fileName = (p) => p.split("/").pop();
  const songName = (id) => (paths.has(id) ? fileName(paths.get(id)) : id === 1 ? (window.__MOCK_NAME__ ?? "demo_groove.flac") : id === 2 ? "second_song.flac" : "dnb_roller.flac");
  const songPath = (id) => paths.get(id) ?? (id === 1 ? window.__MOCK_PATH__ ?? "/music/demo_groove.flac" : `/music/${songName(id)}`);
  const headOf = (id) => { const s = songs.get(id); return s.revs[s.head]; };
  /** Test hook: a song's head beats and their sources. */
  window.__MOCK_HEAD__ = (id) => { const r = headOf(id); return { id: r.id, times: r.times.slice(), sources: r.sources.slice(), note: r.note, positions: r.positions ? r.positions.slice() : null }; };
  function pushRev(id, rev) {
    const s = songs.get(id);
    s.revs.splice(s.head + 1);
    s.revs.push({ id: nextRev++, ...rev });
    s.head = s.revs.length - 1;
    return s.revs[s.head];
  }
  /** Runs [start, end) of consecutive beats whose source is in `set`. */
  function runs(sources, set) {
    const out = [];
    let start = -1;
    sources.forEach((src, i) => {
      if (set.has(src) && start < 0) start = i;
      if (!set.has(src) && start >= 0) { out.push([start, i]); start = -1; }
    });
    if (start >= 0) out.push([start, sources.length]);
    return out;
  }
  function provenance(r) {
    const c = { model: 0, user: 0, confirmed: 0, continued: 0, imported: 0 };
    for (const src of r.sources) c[src] += 1;
    return { ...c, checked_spans: runs(r.sources, CHECKED).map(([a, b]) => [r.times[a], r.times[b - 1]]) };
  }
  /** The run fine-tuning learns from: the longest checked run (the earliest of equals), ≥ 4 beats. */
  function learnRun(sources) {
    let best = null;
    for (const r of runs(sources, CHECKED)) if (r[1] - r[0] >= 4 && (!best || r[1] - r[0] > best[1] - best[0])) best = r;
    return best;
  }
  function medianPeriod(times) {
    const d = times.slice(1).map((t, i) => t - times[i]).sort((a, b) => a - b);
    return d.length ? d[Math.floor(d.length / 2)] : null;
  }
  const tempoOf = (times) => { const p = medianPeriod(times); return p ? 60 / p : null; };
  const mmss = (t) => `${Math.floor(t / 60)}:${String(Math.floor(t % 60)).padStart(2, "0")}`;
  /** A song's TrackView. As in src-tauri, only `list_tracks` and `remove_track` check the file (`checkFile`): every other command says "ok". */
  const track = (id = 1, checkFile = false) => {
    const s = songs.get(id), r = headOf(id);
    if (!s || removed.has(id)) throw { code: "not_found", message: `no track ${id}`, hint: "" };
    return {
      id, path: songPath(id),
      name: songName(id), duration_s: DUR, sample_rate_hz: SR, channels: 2,
      status: checkFile && ((id === 1 && window.__MOCK_MISSING__) || gone.has(id)) ? "missing" : "ok",
      head: { id: r.id, author: r.author, note: r.note, n_beats: r.times.length, created_at: "", provenance: provenance(r) },
      tempo_bpm: tempoOf(r.times), can_undo: s.head > 0, can_redo: s.head < s.revs.length - 1, n_revisions: s.revs.length,
    };
  };
  // `commit_beats` sends its track and note as headers, which mockIPC does not pass on: the
  // wrapper below (installed after mockIPC) keeps the latest call's.
  let headers = {};
  /** A commit: each beat keeps the source of a beat at the same time in the revision it was made on, others get the edit's. */
  function commit(body) {
    const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
    const n = v.getUint32(4, true), base = Number(v.getBigInt64(8, true));
    const times = Array.from({ length: n }, (_, i) => v.getFloat64(24 + 8 * i, true));
    // Positions in the bar, kept with the revision as the store keeps them.
    const positions = v.getUint32(16, true) ? Array.from({ length: n }, (_, i) => v.getUint32(24 + 8 * n + 4 * i, true)) : null;
    const id = Number(headers["x-zerons-track"] ?? 1);
    const note = decodeURIComponent(headers["x-zerons-note"] ?? "");
    const from = headOf(id);
    if (base !== from.id) {
      window.__MOCK_CONFLICTS__ = (window.__MOCK_CONFLICTS__ ?? 0) + 1;
      throw { code: "conflict", message: `the beats changed since revision ${base}`, hint: "The song was reloaded; make the edit again." };
    }
    const edit = note.startsWith("continued") ? "continued" : note.startsWith("model beats") ? "model" : "user";
    let j = 0;
    const sources = times.map((t) => {
      while (j < from.times.length && from.times[j] < t - SAME_BEAT_S) j++;
      return j < from.times.length && Math.abs(from.times[j] - t) <= SAME_BEAT_S ? from.sources[j] : edit;
    });
    pushRev(id, { author: "user", note, times, sources, positions });
    window.__MOCK_COMMITS__ = (window.__MOCK_COMMITS__ ?? 0) + 1;
    return track(id);
  }
  function confirm({ trackId, fromS, toS }) {
    const r = headOf(trackId);
    const inRange = (t) => t >= fromS && t <= toS;
    if (!r.times.some(inRange)) throw { code: "no_beats", message: `no beats between ${mmss(fromS)} and ${mmss(toS)}`, hint: "Select the beats you checked, or move the playhead past them." };
    const sources = r.sources.map((src, i) => (inRange(r.times[i]) && src !== "user" ? "confirmed" : src));
    pushRev(trackId, { author: "user", note: `checked ${mmss(fromS)}–${mmss(toS)}`, times: r.times.slice(), sources });
    window.__MOCK_CONFIRMS__ = (window.__MOCK_CONFIRMS__ ?? 0) + 1;
    return track(trackId);
  }
  /** "Straighten beats": one least-squares tempo over the range (the engine's sections are
   *  tested in Rust); every beat keeps its source. `window.__MOCK_STRAIGHTENS__` counts calls. */
  function straighten({ trackId, fromS, toS, toleranceMs }) {
    window.__MOCK_STRAIGHTENS__ = [...(window.__MOCK_STRAIGHTENS__ ?? []), { fromS, toS, toleranceMs }];
    const r = headOf(trackId);
    const idx = r.times.map((t, i) => [t, i]).filter(([t]) => t >= fromS && t <= toS).map(([, i]) => i);
    if (idx.length < 2) throw { code: "cannot_straighten", message: `fewer than two beats between ${mmss(fromS)} and ${mmss(toS)}: nothing to straighten`, hint: "Select a stretch with at least two beats, or none for the whole song." };
    const n = idx.length, xs = idx.map((_, k) => k), ys = idx.map((i) => r.times[i]);
    const mx = (n - 1) / 2, my = ys.reduce((a, b) => a + b, 0) / n;
    const slope = xs.reduce((a, x, k) => a + (x - mx) * (ys[k] - my), 0) / xs.reduce((a, x) => a + (x - mx) ** 2, 0);
    const fit = xs.map((x) => my + slope * (x - mx));
    const shift = Math.max(...fit.map((f, k) => Math.abs(f - ys[k])));
    const times = r.times.slice();
    idx.forEach((i, k) => (times[i] = fit[k]));
    const changed = shift > 1e-6;
    if (changed) pushRev(trackId, { author: "user", note: `straightened ${mmss(ys[0])}–${mmss(ys[n - 1])} (1 tempo section)`, times, sources: r.sources.slice() });
    return { track: track(trackId), n_beats: n, n_sections: 1, bpms: [60 / slope], max_shift_ms: shift * 1000, changed };
  }
  function candidate(id) {
    const r = headOf(id);
    const c = provenance(r);
    const run = learnRun(r.sources);
    const region = run ? [r.times[run[0]], r.times[run[1] - 1]] : null;
    return {
      track_id: id, name: songName(id), n_beats: r.times.length, duration_s: DUR,
      corrected: !!region, corrected_until_s: region ? region[1] : null, learn_region_s: region,
      learn_beats: run ? run[1] - run[0] : 0, user_beats: c.user, confirmed_beats: c.confirmed,
      unchecked_beats: c.model + c.continued + c.imported, imported_beats: c.imported,
    };
  }

  // ---- models: preview, adoption, roll-back ------------------------------------------------
  let trainedOn = [];
  const modelName = (m) => (m === 7 ? "fine-tuned #1 on 1 song (top)" : "Shipped model");
  const activeModel = () => (window.__MOCK_ACTIVE__ ? 7 : null);
  /** A model's beats for a song: the shipped model gives the first analysis; model 7 hears a
   * push at 100 s on the 120-BPM songs (4 beats 90 ms later) and the 170-BPM song at 85 BPM. */
  function modelOutput(id, m) {
    const first = songs.get(id).revs[0].times;
    if (m !== 7) return first.slice();
    if (id === 3) return first.filter((_, i) => i % 2 === 0);
    return first.map((t, i) => (i === 37 ? t - 0.06 : i >= 199 && i < 203 ? t + 0.09 : t));
  }
  /** Greedy one-to-one matches of `est` to `ref` within `tol`. */
  function matches(ref, est, tol = 0.07) {
    let i = 0, j = 0, m = 0;
    while (i < ref.length && j < est.length) {
      if (Math.abs(ref[i] - est[j]) <= tol) { m++; i++; j++; } else if (est[j] < ref[i]) j++; else i++;
    }
    return m;
  }
  /** F-measure of `est` on the checked beats of `r` (only the estimated beats inside the checked runs count). */
  function checkedF(r, est) {
    const spans = runs(r.sources, CHECKED);
    const ref = spans.flatMap(([a, b]) => r.times.slice(a, b));
    if (!ref.length) return null;
    const inSpan = est.filter((t) => spans.some(([a, b]) => t >= r.times[a] - 0.07 && t <= r.times[b - 1] + 0.07));
    const m = matches(ref, inSpan);
    const p = inSpan.length ? m / inSpan.length : 0, rr = m / ref.length;
    return p + rr ? (2 * p * rr) / (p + rr) : 0;
  }
  /** The new model's beats where nobody vouched for the current ones (a half-beat margin around each kept run). */
  function merge(r, proposal) {
    const half = (medianPeriod(r.times) ?? 0.5) / 2;
    const kept = runs(r.sources, KEPT).map(([a, b]) => [r.times[a] - half, r.times[b - 1] + half]);
    const out = [];
    r.times.forEach((t, i) => { if (KEPT.has(r.sources[i])) out.push([t, r.sources[i]]); });
    for (const t of proposal) if (!kept.some(([a, b]) => t >= a && t <= b)) out.push([t, "model"]);
    out.sort((x, y) => x[0] - y[0]);
    return { times: out.map((x) => x[0]), sources: out.map((x) => x[1]) };
  }
  // The decision of src-tauri/src/adopt.rs (`choose`).
  function choose(empty, changed, level, phase, fb, fa, n) {
    if (empty) return [true, "the song has no beats yet"];
    if (changed === 0) return [true, "no beat would change"];
    if (fb !== null && fa !== null && fa + 1e-9 < fb) return [false, `worse on the ${n} beats you checked (F ${fb.toFixed(2)} → ${fa.toFixed(2)})`];
    if (fb !== null && fa !== null && fa > fb + 1e-9) return [true, `better on the ${n} beats you checked (F ${fb.toFixed(2)} → ${fa.toFixed(2)})`];
    const evidence = fa !== null && fa >= 0.95;
    if (level && !evidence) return [false, `the tempo would change (${level}) and no beat you checked supports it`];
    if (!level && phase && !evidence) return [false, "the beats would move by half a beat and no beat you checked supports it"];
    return [true, "same tempo and phase; the beats are refined"];
  }
  const proposals = new Map();
  function propose(id, m) {
    const r = headOf(id);
    const next = modelOutput(id, m);
    proposals.set(id, { model: m, times: next });
    const merged = merge(r, next);
    const changed = r.times.length - matches(r.times, merged.times) + Math.max(0, merged.times.length - r.times.length);
    const now = tempoOf(r.times), after = tempoOf(next);
    const level = now && after && Math.abs(after / now - 1) > 0.08 ? `${Math.round(now)} → ${Math.round(after)} BPM` : null;
    const period = medianPeriod(r.times) ?? 0.5;
    const off = next.filter((t) => {
      const d = Math.min(...r.times.map((x) => Math.abs(x - t))) / period;
      return d > 0.35 && d < 0.65;
    }).length;
    const phase = !level && off > next.length / 2;
    const checked = r.sources.filter((src) => CHECKED.has(src)).length;
    const fb = checkedF(r, modelOutput(id, activeModel())), fa = checkedF(r, next);
    const [accept, reason] = choose(r.times.length === 0, changed, level, phase, fb, fa, checked);
    return {
      track_id: id, name: songName(id), n_beats_now: r.times.length, n_beats_new: next.length,
      tempo_now_bpm: now, tempo_new_bpm: after, level_change: level, phase_change: phase, changed,
      kept_beats: r.sources.filter((src) => KEPT.has(src)).length, checked_beats: fb === null ? 0 : checked,
      f_before: fb, f_after: fa, trained_on: m === 7 && trainedOn.includes(id), default_accept: accept, reason,
    };
  }
  const jobs = new Map();
  let nextJob = 50;
  const adoptions = [];
  const tl = timeline();
  // Playback: a clock that runs while "playing" (no sound). `window.__MOCK_NO_AUDIO__`
  // makes the player unavailable, as on a machine without a sound card.
  const pb = { playing: false, pos: 0, t0: 0, speed: 1, music_gain: 1, click_gain: 0.5, loop: null };
  const pbPos = () => (pb.playing ? Math.min(DUR, pb.pos + ((performance.now() - pb.t0) / 1000) * pb.speed) : pb.pos);
  const pbView = () => ({
    track_id: pb.track ?? null,
    output: { device: "mock:out", sample_rate_hz: 48000, channels: 2, sample_format: "f32" },
    transport: { playing: pb.playing, position_s: pbPos(), duration_s: DUR, speed: pb.speed, music_gain: pb.music_gain, click_gain: pb.click_gain, loop_s: pb.loop, ended: false },
    // `window.__MOCK_STREAM_ERROR__`: a stream error (as cpal reports it), reported once.
    error: window.__MOCK_STREAM_ERROR__ ? [window.__MOCK_STREAM_ERROR__, (window.__MOCK_STREAM_ERROR__ = null)][0] : null,
  });
  window.__MOCK_PLAYBACK__ = pb;
  function control(a) {
    const now = pbPos();
    switch (a.action) {
      case "play": pb.pos = now; pb.t0 = performance.now(); pb.playing = true; break;
      case "pause": pb.pos = now; pb.playing = false; break;
      case "toggle": pb.pos = now; pb.t0 = performance.now(); pb.playing = !pb.playing; break;
      case "seek": pb.pos = a.position_s; pb.t0 = performance.now(); break;
      case "speed": pb.pos = now; pb.t0 = performance.now(); pb.speed = a.speed; break;
      case "gains": pb.music_gain = a.music_gain; pb.click_gain = a.click_gain; break;
      case "loop": pb.loop = a.range_s; break;
    }
    return pbView();
  }
  window.__MOCK_CALLS__ = [];
  window.__TAURI_MOCKS__.mockIPC((cmd, args) => {
    window.__MOCK_CALLS__.push(cmd);
    switch (cmd) {
      case "project_current": return { path: "/music/demo.zerons", name: "demo", settings: JSON.parse(JSON.stringify(settings)) };
      case "recent_projects": return [];
      case "launch_project": return null;
      case "list_tracks": return songIds().map((id) => track(id, true));
      case "track_state": return track(args.trackId ?? 1);
      case "timeline": return tl;
      case "beats": { const r = headOf(args.trackId ?? 1); return beats(r.id, r.times, r.positions ?? null); }
      case "model_beats": {
        // The analysis before the latest one put beat 10 0.2 s later (a re-tracking moved it).
        const s = songs.get(args.trackId ?? 1);
        if (args.back === 1) return beats(0, s.revs[0].times.map((t, i) => (i === 10 ? t + 0.2 : t)));
        const m = [...s.revs].reverse().find((r) => r.author === "model");
        return beats(m.id, m.times);
      }
      case "commit_beats": return commit(args);
      case "confirm_beats": return confirm(args);
      case "corrected_until": return window.__MOCK_UNTIL__ === undefined ? 10.0 : window.__MOCK_UNTIL__;
      // The continuation: the checked beats, then the grid half a beat later (an off-beat fixed).
      case "continue_beats": return beats(-1, headOf(args.trackId ?? 1).times.map((t) => (t > args.untilS ? t + period / 2 : t)));
      case "undo": { const s = songs.get(args.trackId); s.head = Math.max(0, s.head - 1); return track(args.trackId); }
      case "redo": { const s = songs.get(args.trackId); s.head = Math.min(s.revs.length - 1, s.head + 1); return track(args.trackId); }
      case "straighten_beats": return straighten(args);
      // `window.__MOCK_EXPORTS__`: every export asked for, with its grid settings.
      case "export_track":
      case "export_project": {
        (window.__MOCK_EXPORTS__ ??= []).push({ cmd, ...args });
        return args.formats.map((f) => ({ format: f, path: `${args.dir}/demo_groove.${f}`, n_beats: headOf(args.trackId ?? 1).times.length }));
      }
      case "export_formats": return [
        { name: "csv", label: "CSV", extension: "csv", limitations: null },
        { name: "jams", label: "JAMS", extension: "jams", limitations: null },
        { name: "rekordbox", label: "Rekordbox XML", extension: "xml", limitations: "Rekordbox stores a tempo grid, not beats." },
      ];
      // `window.__MOCK_INFO_DELAY__`: finetune_info takes this long (ms), as it does on a big project.
      case "finetune_info": return new Promise((r) => setTimeout(r, window.__MOCK_INFO_DELAY__ ?? 0)).then(() => ({
        candidates: songIds().map(candidate),
        models: [{ id: null, name: "Shipped model", parent_id: null, active: !window.__MOCK_ACTIVE__ },
          ...(window.__MOCK_ACTIVE__ !== undefined ? [{ id: 7, name: "fine-tuned #1 on 1 song (top)", parent_id: 1, active: !!window.__MOCK_ACTIVE__ }] : [])],
        device: "CPU (burn flex)", device_is_gpu: false, device_note: window.__MOCK_DEVICE_NOTE__ ?? null,
      }));
      case "finetune_start": {
        window.__LAST_FINETUNE__ = { mode: args.mode, wholeSongs: args.wholeSongs, keepRest: args.keepRest, trackIds: args.trackIds };
        // "Every beat was checked": each chosen song is confirmed whole first (a revision).
        if (args.wholeSongs) for (const id of args.trackIds) confirm({ trackId: id, fromS: 0, toS: Infinity });
        trainedOn = args.trackIds.slice();
        const learned = args.trackIds.map(candidate).filter((c) => c.learn_region_s);
        const songReports = learned.map((c) => ({ track_id: c.track_id, name: c.name, region_end_s: c.learn_region_s[1], beats: c.learn_beats }));
        // A short scripted run: 12 epochs, held-out F rising from the base 0.62 to 0.97.
        const ch = args.onEvent; let i = 0;
        const send = (m) => window.__TAURI_INTERNALS__.runCallback(ch.id, { index: i++, message: m });
        send({ kind: "preparing", song: "demo_groove.flac", index: 0, total: 1, stage: "computing the spectrogram" });
        // `window.__MOCK_NOTHING_TO_LEARN__`: the shipped model already places every checked beat
        // (engine `FinetuneConfig::when_base_agrees`): no epoch, the base kept.
        if (window.__MOCK_NOTHING_TO_LEARN__) {
          const held = { f_measure: 0.95, cmlt: 0.9, amlt: 0.9, beats: 8 };
          setTimeout(() => send({ kind: "finished", report: { run_id: 1, model_id: 7, model_name: "fine-tuned #1 on 1 song (top)", base_name: "shipped model",
            before: held, after: held, improved: false, validated: true, best_epoch: 0, kept_share: 0, base_kept: true, epochs: 0, elapsed_s: 0.4,
            songs: songReports, bars: null } }), 50);
          return 41;
        }
        for (let e = 1; e <= 12; e++) setTimeout(() => send({ kind: "epoch", epoch: e, max_epochs: 200, train_loss: 0.4 / Math.sqrt(e), held_out_f: Math.min(0.97, 0.62 + 0.04 * e), base_f: 0.62, best_f: Math.min(0.97, 0.62 + 0.04 * e), eta_s: 30 - e }), 20 * e);
        setTimeout(() => {
          window.__MOCK_ACTIVE__ = false;
          send({ kind: "finished", report: { run_id: 1, model_id: 7, model_name: "fine-tuned #1 on 1 song (top)", base_name: "shipped model",
            before: { f_measure: 0.62, cmlt: 0.41, amlt: 0.80, beats: 8 }, after: { f_measure: 0.97, cmlt: 0.95, amlt: 0.97, beats: 8 },
            improved: true, validated: true, best_epoch: 11, kept_share: 0.5, base_kept: false, epochs: 12, elapsed_s: 3.2, songs: songReports,
            bars: { songs: 1, train_beats: 48, held_out_beats: 16, accuracy_before: 0.5, accuracy_after: 0.94, best_epoch: 9 } } });
        }, 300);
        return 41;
      }
      case "preview_model": {
        // One song every `window.__MOCK_PREVIEW_DELAY__` ms (60), then the totals; nothing changes.
        const ch = args.onEvent; let i = 0;
        const send = (m) => window.__TAURI_INTERNALS__.runCallback(ch.id, { index: i++, message: m });
        const job = nextJob++, ids = songIds(), model = args.modelId ?? null;
        jobs.set(job, { cancelled: false });
        window.__MOCK_PREVIEWS__ = (window.__MOCK_PREVIEWS__ ?? 0) + 1;
        const done = [];
        const step = (k) => {
          if (jobs.get(job).cancelled) return send({ kind: "failed", track_id: -1, name: "", error: { code: "cancelled", message: "cancelled", hint: "" } });
          if (k === ids.length) {
            const scored = done.filter((p) => p.f_before !== null && p.f_after !== null);
            const n = scored.reduce((a, p) => a + p.checked_beats, 0);
            const mean = (key) => (n ? scored.reduce((a, p) => a + p[key] * p.checked_beats, 0) / n : null);
            jobs.delete(job);
            return send({ kind: "done", model_id: model, checked_beats: n, f_before: mean("f_before"), f_after: mean("f_after"),
              songs_better: scored.filter((p) => p.f_after > p.f_before + 1e-9).length, songs_worse: scored.filter((p) => p.f_after + 1e-9 < p.f_before).length });
          }
          const proposal = propose(ids[k], model);
          done.push(proposal);
          send({ kind: "song", index: k, total: ids.length, proposal });
          setTimeout(() => step(k + 1), window.__MOCK_PREVIEW_DELAY__ ?? 60);
        };
        setTimeout(() => step(0), window.__MOCK_PREVIEW_DELAY__ ?? 60);
        return job;
      }
      case "adopt_model": {
        // The model becomes the project's; only the accepted songs get its beats (merged around the kept ones).
        const model = args.modelId ?? null;
        window.__MOCK_ADOPTED__ = { modelId: model, accept: args.accept.slice() };
        const last = adoptions[adoptions.length - 1];
        const adoption = last && last.model === model ? last : { id: adoptions.length + 1, model, before: activeModel(), tracks: [] };
        if (adoption !== last) adoptions.push(adoption);
        const accepted = [];
        for (const id of args.accept) {
          const p = proposals.get(id);
          if (!p || p.model !== model) throw { code: "bad_request", message: `song ${id} was not previewed with this model`, hint: "" };
          const s = songs.get(id), before = s.head, r = headOf(id);
          const m = merge(r, p.times);
          const rev = pushRev(id, { author: "model", note: `beats of ${modelName(model)}`, ...m });
          adoption.tracks.push({ id, before: s.revs[before], rev: rev.id });
          accepted.push({ track_id: id, name: songName(id), n_beats: rev.times.length });
        }
        window.__MOCK_ACTIVE__ = model === 7;
        return { active_model: model, adoption_id: adoption.id, accepted };
      }
      case "rollback_adoption": {
        const a = adoptions.pop();
        if (!a) throw { code: "nothing_to_roll_back", message: "no model was adopted since the last roll-back", hint: "Nothing to undo here." };
        let reverted = 0, kept = 0;
        for (const t of a.tracks) {
          if (headOf(t.id).id !== t.rev) { kept++; continue; }
          pushRev(t.id, { author: t.before.author, note: "beats before the model was adopted", times: t.before.times.slice(), sources: t.before.sources.slice() });
          reverted++;
        }
        window.__MOCK_ACTIVE__ = a.before === 7;
        return { active_model: a.before, reverted, kept_edited: kept };
      }
      case "cancel_job": { const j = jobs.get(args.jobId); if (j) j.cancelled = true; return true; }
      case "pick_path": {
        // `window.__MOCK_PICK_RELINK__` / `__MOCK_PICK_BEATS__`: what the relink / beat-file dialog returns (null: dismissed).
        (window.__MOCK_PICKS__ ??= []).push(args.kind);
        if (args.kind === "relink") return "__MOCK_PICK_RELINK__" in window ? window.__MOCK_PICK_RELINK__ : ["/music/moved/demo_groove.flac"];
        if (args.kind === "beat_file") return "__MOCK_PICK_BEATS__" in window ? window.__MOCK_PICK_BEATS__ : ["/music/beats/demo_groove.csv"];
        if (args.kind === "export_dir") return window.__MOCK_PICK_DIR__ ?? null;
        return args.kind === "audio" ? ["/music/moved/demo_groove.flac"] : null;
      }
      case "relink_track": {
        // As src-tauri's: the file must decode (a .txt, .csv or .pdf does not) and last as long
        // as the song (a "radio_edit" lasts 2:41), else `relink_mismatch` unless `force`.
        const id = args.trackId ?? 1;
        (window.__MOCK_RELINKS__ ??= []).push({ trackId: id, path: args.path, force: args.force ?? null });
        track(id);
        if (/\.(txt|csv|pdf)$/i.test(args.path)) throw { code: "unsupported_audio", message: `${args.path}: not a supported audio file (no audio track found)`, hint: "Convert the file to WAV, FLAC, MP3, AAC or Ogg Vorbis and add it again." };
        if (/radio_edit/.test(args.path) && !args.force) throw { code: "relink_mismatch", message: `${fileName(args.path)} lasts 2:41, and the song lasted 3:00 when it was added`, hint: "It may be another recording or an edited version, whose beats would not fit. Choose the same recording, or relink anyway." };
        if (id === 1) window.__MOCK_MISSING__ = false;
        gone.delete(id);
        paths.set(id, args.path);
        return track(id);
      }
      case "remove_track": {
        // The song, its beats and their history go; the player lets it go if it had it.
        const id = args.trackId;
        track(id);
        removed.add(id);
        if (pb.track === id) Object.assign(pb, { track: null, playing: false, pos: 0 });
        (window.__MOCK_REMOVED__ ??= []).push(id);
        return songIds().map((x) => track(x, true));
      }
      case "import_beat_file": {
        // "…bad…": a parse error naming the file and line; "…empty…": no beats; otherwise
        // `window.__MOCK_BEAT_FILE__` (times) or 200 beats a quarter beat after the mock's grid.
        const id = args.trackId;
        track(id);
        if (/bad/.test(args.path)) throw { code: "parse", message: `${args.path}:3: "0.5x" is not a time in seconds`, hint: "Fix the file at the line shown, or export it again from its tool." };
        const times = /empty/.test(args.path) ? [] : window.__MOCK_BEAT_FILE__ ?? Array.from({ length: 200 }, (_, i) => 0.625 + i * period);
        if (!times.length) throw { code: "no_beats", message: `${fileName(args.path)} holds no beats`, hint: "Choose a beat file with at least one beat." };
        pushRev(id, { author: "import", note: `imported ${fileName(args.path)}`, times: times.slice(), sources: times.map(() => "imported") });
        window.__MOCK_IMPORTS__ = (window.__MOCK_IMPORTS__ ?? 0) + 1;
        return track(id);
      }
      case "set_project_settings":
        if (!(args.minBpm > 0 && args.minBpm < args.maxBpm)) throw { code: "config", message: "invalid configuration: min_bpm must be below max_bpm", hint: "Check the project settings (tempo range, meter)." };
        if ((args.trackId ?? null) !== null && args.clearTrack) delete settings.track_tempo[args.trackId];
        else if ((args.trackId ?? null) !== null) settings.track_tempo[args.trackId] = { min_bpm: args.minBpm, max_bpm: args.maxBpm, beats_per_bar: args.beatsPerBar };
        else Object.assign(settings, { min_bpm: args.minBpm, max_bpm: args.maxBpm, beats_per_bar: args.beatsPerBar });
        window.__MOCK_SETTINGS__ = settings;
        return { path: "/music/demo.zerons", name: "demo", settings: JSON.parse(JSON.stringify(settings)) };
      case "retrack": {
        const ch = args.onEvent; let i = 0;
        const send = (m) => window.__TAURI_INTERNALS__.runCallback(ch.id, { index: i++, message: m });
        setTimeout(() => {
          send({ kind: "track", track_id: 1, name: "demo_groove.flac", index: 0, total: 1, n_beats: 359, changed: 0, head_moved: true });
          send({ kind: "done", active_model: null });
        }, 30);
        return 43;
      }
      case "playback_load":
        // `window.__MOCK_NO_AUDIO__`: true, or the error message to throw (raw ALSA text, as cpal words it).
        if (window.__MOCK_NO_AUDIO__) throw { code: "audio_device", message: window.__MOCK_NO_AUDIO__ === true ? "audio output: this computer has no audio output device" : window.__MOCK_NO_AUDIO__, hint: "Playback is off; editing, analysis and export work as usual. Connect an audio output (or set ZERONS_AUDIO_DEVICE) and select the song again." };
        if (gone.has(args.trackId)) throw { code: "missing_file", message: `${songPath(args.trackId)} is missing: it was moved, renamed or deleted`, hint: "Put the file back, or find it with the song's badge in the list (relink)." };
        window.__MOCK_LOADS__ = (window.__MOCK_LOADS__ ?? 0) + 1;
        Object.assign(pb, { playing: false, pos: 0, track: args.trackId });
        return pbView();
      case "playback_state": return pbView();
      case "playback_control": return control(args.action);
      case "plugin:event|listen": return 1;
      default: throw { code: "internal", message: `unmocked command ${cmd}`, hint: "" };
    }
  });
  const invokeMocked = window.__TAURI_INTERNALS__.invoke;
  window.__TAURI_INTERNALS__.invoke = (cmd, args, options) => {
    headers = options?.headers ?? {};
    return invokeMocked(cmd, args, options);
  };
})();
