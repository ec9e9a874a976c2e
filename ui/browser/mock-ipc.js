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
  function beats(rev, times = beatTimes) {
    const beatTimes_ = times;
    const n = beatTimes_.length, buf = new ArrayBuffer(24 + 8 * n), v = new DataView(buf);
    "ZNBT".split("").forEach((c, i) => v.setUint8(i, c.charCodeAt(0)));
    v.setUint32(4, n, true); v.setBigInt64(8, BigInt(rev), true); v.setUint32(16, 0, true); v.setUint32(20, 4, true);
    beatTimes_.forEach((t, i) => v.setFloat64(24 + 8 * i, t, true));
    return buf;
  }
  let rev = 1;
  // `window.__MOCK_TWO_SONGS__`: a second song (id 2) with the same audio and beats.
  const track = (id = 1) => ({
    id, path: id === 1 ? window.__MOCK_PATH__ ?? "/music/demo_groove.flac" : "/music/second_song.flac",
    name: id === 1 ? (window.__MOCK_NAME__ ?? "demo_groove.flac") : "second_song.flac", duration_s: DUR, sample_rate_hz: SR, channels: 2,
    status: window.__MOCK_MISSING__ ? "missing" : "ok", head: { id: rev, author: rev > 1 ? "user" : "model", note: rev > 1 ? "move beat 38" : "", n_beats: beatTimes.length, created_at: "" },
    tempo_bpm: BPM, can_undo: rev > 1, can_redo: false, n_revisions: rev,
  });
  const tl = timeline();
  // Playback: a clock that runs while "playing" (no sound). `window.__MOCK_NO_AUDIO__`
  // makes the player unavailable, as on a machine without a sound card.
  const pb = { playing: false, pos: 0, t0: 0, speed: 1, music_gain: 1, click_gain: 0.5, loop: null };
  const pbPos = () => (pb.playing ? Math.min(DUR, pb.pos + ((performance.now() - pb.t0) / 1000) * pb.speed) : pb.pos);
  const pbView = () => ({
    track_id: 1,
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
      case "list_tracks": return window.__MOCK_TWO_SONGS__ ? [track(1), track(2)] : [track()];
      case "track_state": return track(args.trackId ?? 1);
      case "timeline": return tl;
      case "beats": return beats(rev);
      // The analysis before the latest one put beat 10 0.2 s later (a re-tracking moved it).
      case "model_beats": return args.back === 1 ? beats(0, beatTimes.map((t, i) => (i === 10 ? t + 0.2 : t))) : beats(1);
      case "commit_beats": rev += 1; window.__MOCK_COMMITS__ = (window.__MOCK_COMMITS__ ?? 0) + 1; return track();
      case "corrected_until": return window.__MOCK_UNTIL__ === undefined ? 10.0 : window.__MOCK_UNTIL__;
      // The continuation: the checked beats, then the grid half a beat later (an off-beat fixed).
      case "continue_beats": return beats(-1, beatTimes.map((t) => (t > args.untilS ? t + period / 2 : t)));
      case "undo": rev = Math.max(1, rev - 1); return track();
      case "redo": return track();
      case "export_formats": return [
        { name: "csv", label: "CSV", extension: "csv", limitations: null },
        { name: "jams", label: "JAMS", extension: "jams", limitations: null },
        { name: "rekordbox", label: "Rekordbox XML", extension: "xml", limitations: "Rekordbox stores a tempo grid, not beats." },
      ];
      // `window.__MOCK_INFO_DELAY__`: finetune_info takes this long (ms), as it does on a big project.
      case "finetune_info": return new Promise((r) => setTimeout(r, window.__MOCK_INFO_DELAY__ ?? 0)).then(() => ({
        candidates: [{ track_id: 1, name: "demo_groove.flac", corrected: rev > 1, corrected_until_s: rev > 1 ? 19.0 : null, n_beats: beatTimes.length, duration_s: DUR }],
        models: [{ id: null, name: "Shipped model", parent_id: null, active: !window.__MOCK_ACTIVE__ },
          ...(window.__MOCK_ACTIVE__ !== undefined ? [{ id: 7, name: "fine-tuned #1 on 1 song (top)", parent_id: 1, active: !!window.__MOCK_ACTIVE__ }] : [])],
        device: "CPU (burn flex)", device_is_gpu: false, device_note: window.__MOCK_DEVICE_NOTE__ ?? null,
      }));
      case "finetune_start": {
        window.__LAST_FINETUNE__ = { mode: args.mode, wholeSongs: args.wholeSongs, keepRest: args.keepRest };
        // A short scripted run: 12 epochs, held-out F rising from the base 0.62 to 0.97.
        const ch = args.onEvent; let i = 0;
        const send = (m) => window.__TAURI_INTERNALS__.runCallback(ch.id, { index: i++, message: m });
        send({ kind: "preparing", song: "demo_groove.flac", index: 0, total: 1, stage: "computing the spectrogram" });
        for (let e = 1; e <= 12; e++) setTimeout(() => send({ kind: "epoch", epoch: e, max_epochs: 200, train_loss: 0.4 / Math.sqrt(e), held_out_f: Math.min(0.97, 0.62 + 0.04 * e), base_f: 0.62, best_f: Math.min(0.97, 0.62 + 0.04 * e), eta_s: 30 - e }), 20 * e);
        setTimeout(() => {
          window.__MOCK_ACTIVE__ = false;
          send({ kind: "finished", report: { run_id: 1, model_id: 7, model_name: "fine-tuned #1 on 1 song (top)", base_name: "shipped model",
            before: { f_measure: 0.62, cmlt: 0.41, amlt: 0.80, beats: 8 }, after: { f_measure: 0.97, cmlt: 0.95, amlt: 0.97, beats: 8 },
            improved: true, validated: true, best_epoch: 11, epochs: 12, elapsed_s: 3.2, songs: [{ track_id: 1, name: "demo_groove.flac", region_end_s: 19.5, beats: 38 }] } });
        }, 300);
        return 41;
      }
      case "use_model": {
        const ch = args.onEvent; let i = 0;
        const send = (m) => window.__TAURI_INTERNALS__.runCallback(ch.id, { index: i++, message: m });
        window.__MOCK_ACTIVE__ = args.choice.model_id === 7;
        setTimeout(() => {
          send({ kind: "track", track_id: 1, name: "demo_groove.flac", index: 0, total: 1, n_beats: 359, changed: 3, head_moved: false });
          send({ kind: "done", active_model: args.choice.model_id });
        }, 50);
        return 42;
      }
      case "cancel_job": return true;
      case "pick_path": return args.kind === "audio" ? ["/music/moved/demo_groove.flac"] : null;
      case "relink_track": window.__MOCK_MISSING__ = false; window.__MOCK_PATH__ = args.path; return track();
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
        window.__MOCK_LOADS__ = (window.__MOCK_LOADS__ ?? 0) + 1;
        Object.assign(pb, { playing: false, pos: 0 });
        return pbView();
      case "playback_state": return pbView();
      case "playback_control": return control(args.action);
      case "plugin:event|listen": return 1;
      default: throw { code: "internal", message: `unmocked command ${cmd}`, hint: "" };
    }
  });
})();
