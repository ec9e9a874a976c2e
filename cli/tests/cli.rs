//! End-to-end tests of the `zerons` binary: output formats, batches with bad files, exit
//! codes and messages.

use std::path::PathBuf;
use std::process::Command;

fn zerons() -> Command {
    Command::new(env!("CARGO_BIN_EXE_zerons"))
}

/// Runs `cmd` and asserts that it succeeds; the failure message names the command and
/// shows its stderr.
fn run_ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `cmd` and asserts that it fails; returns its stderr.
fn run_fails(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "{cmd:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

fn demo() -> PathBuf {
    repo("assets/demo/time_to_strike_excerpt.mp3")
}

#[test]
fn analyze_prints_one_time_per_line_with_three_decimals() {
    let out = run_ok(zerons().arg("analyze").arg(demo()));
    let text = String::from_utf8(out.stdout).unwrap();
    let times: Vec<f64> = text
        .lines()
        .map(|l| {
            let (_, frac) = l.split_once('.').expect("decimal point");
            assert_eq!(frac.len(), 3, "three decimals: {l}");
            l.parse().unwrap()
        })
        .collect();
    // 30 s at ≈ 120 BPM (madmom finds 60 beats on this excerpt).
    assert!((50..=70).contains(&times.len()), "{} beats", times.len());
    assert!(times.windows(2).all(|w| w[1] > w[0]));
    let median_ibi = {
        let mut d: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
        d.sort_by(f64::total_cmp);
        d[d.len() / 2]
    };
    assert!((median_ibi - 0.5).abs() < 0.03, "median IBI {median_ibi}");
}

#[test]
fn batch_writes_one_file_per_input_and_reports_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("beats");
    let out = zerons()
        .args(["analyze", "--format", "jams", "-o"])
        .arg(&out_dir)
        .arg(demo())
        .arg(repo("tests/fixtures/audio/not_audio.mp3"))
        .arg(repo("tests/fixtures/audio/silent.wav"))
        .arg(repo("tests/fixtures/audio/clicks.flac"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("not_audio.mp3: not a supported audio file"),
        "{stderr}"
    );
    assert!(stderr.contains("silent.wav: audio is silent"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let demo_jams = out_dir.join("time_to_strike_excerpt.jams");
    let text = std::fs::read_to_string(&demo_jams).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!((v["file_metadata"]["duration"].as_f64().unwrap() - 30.0).abs() < 0.1);
    assert_eq!(v["annotations"][0]["namespace"], "beat");
    // The shipped model numbers the bars, and both the report and the file say how.
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("time_to_strike_excerpt.mp3: ")
                && l.contains(" BPM, bars of 4 beats by the bar classifier → ")),
        "{stderr}"
    );
    assert!(
        text.contains("bar classifier"),
        "the JAMS says how the bars were found: {text}"
    );
    assert!(out_dir.join("clicks.jams").exists());
    assert!(!out_dir.join("silent.jams").exists());
}

/// Regression (issue 20): a file that is not audio printed symphonia's own `ERROR probe
/// reached EOF` log line before our message.
#[test]
fn stderr_without_verbose_holds_only_our_messages() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("notes.mp3");
    std::fs::write(
        &fake,
        r#"{"these": "are not the samples you are looking for"}"#,
    )
    .unwrap();
    let empty = dir.path().join("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    for bad in [&fake, &empty] {
        let stderr = run_fails(zerons().arg("analyze").arg(bad));
        let name = bad.file_name().unwrap().to_string_lossy().into_owned();
        assert!(stderr.contains(&name), "{stderr}");
        for line in stderr.lines() {
            assert!(
                !line.contains("ERROR") && !line.contains("WARN") && !line.contains("probe"),
                "a library's log line on stderr: {line:?}\n{stderr}"
            );
        }
    }
}

#[test]
fn missing_file_is_one_line_naming_it() {
    let out = zerons()
        .args(["analyze", "/nonexistent/song.mp3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("error: /nonexistent/song.mp3:"),
        "{stderr}"
    );
}

#[test]
fn analyze_then_eval_roundtrip_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    for ext in ["csv", "beats", "jams"] {
        let path = dir.path().join(format!("demo.{ext}"));
        run_ok(zerons().arg("analyze").arg(demo()).arg("-o").arg(&path));
        let out = run_ok(zerons().arg("eval").arg(&path).arg(&path).arg("--json"));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for key in [
            "f_measure",
            "cemgil",
            "cemgil_best",
            "goto",
            "p_score",
            "cmlc",
            "cmlt",
            "amlc",
            "amlt",
            "information_gain",
        ] {
            assert!(v[key].is_number(), "{ext}: {key} missing in {v}");
        }
        assert_eq!(v["f_measure"], 1.0, "{ext}");
    }
    // The other formats, DJ grids included (they need the audio path, which analyze passes),
    // read back close to the CSV beats (grids approximate them by tempo segments).
    let csv = dir.path().join("demo.csv");
    for ext in ["svl", "xml", "nml", "mid"] {
        let path = dir.path().join(format!("demo.{ext}"));
        run_ok(zerons().arg("analyze").arg(demo()).arg("-o").arg(&path));
        let out = run_ok(zerons().arg("eval").arg(&csv).arg(&path).arg("--json"));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(v["f_measure"].as_f64().unwrap() >= 0.95, "{ext}: {v}");
    }
    let xml = std::fs::read_to_string(dir.path().join("demo.xml")).unwrap();
    assert!(xml.contains("time_to_strike_excerpt.mp3"), "{xml}");
    // Issue 19: the 120 BPM demo is one straight tempo section (it was 38 TEMPO entries of
    // 117, 121 and 125 BPM), and so one Traktor grid marker.
    let tempos: Vec<&str> = xml.lines().filter(|l| l.contains("<TEMPO ")).collect();
    assert_eq!(tempos.len(), 1, "{xml}");
    assert!(
        tempos[0].contains("Bpm=\"120.") || tempos[0].contains("Bpm=\"119.9"),
        "{xml}"
    );
    let nml = std::fs::read_to_string(dir.path().join("demo.nml")).unwrap();
    assert_eq!(nml.matches("TYPE=\"4\"").count(), 1, "{nml}");
    // A tolerance below the beats' spread splits the grid; a bad one is refused.
    let tight = dir.path().join("tight.xml");
    run_ok(
        zerons()
            .arg("analyze")
            .arg(demo())
            .args(["--grid-tolerance-ms", "0.5", "-o"])
            .arg(&tight),
    );
    let text = std::fs::read_to_string(&tight).unwrap();
    assert!(text.matches("<TEMPO ").count() > 1, "{text}");
    let err = run_fails(
        zerons()
            .arg("analyze")
            .arg(demo())
            .args(["--grid-tolerance-ms", "500", "-o"])
            .arg(&tight),
    );
    assert!(err.contains("grid"), "{err}");
    // --straighten writes the straight grid's beats in any format: the demo's beat
    // intervals become one constant (they vary by several ms on the tracker's beats).
    let straight = dir.path().join("straight.csv");
    run_ok(
        zerons()
            .arg("analyze")
            .arg(demo())
            .args(["--straighten", "-o"])
            .arg(&straight),
    );
    let times = zerons::formats::read_beats(&straight).unwrap().times_s;
    let plain = zerons::formats::read_beats(&csv).unwrap().times_s;
    assert_eq!(times.len(), plain.len());
    let spread = |t: &[f64]| {
        let ibi: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
        ibi.iter().cloned().fold(0.0, f64::max) - ibi.iter().cloned().fold(9.0, f64::min)
    };
    assert!(spread(&times) < 0.002, "straight: {} s", spread(&times));
    assert!(
        spread(&plain) > spread(&times),
        "tracked: {} s",
        spread(&plain)
    );
    // `export --straighten` does the same to an existing beat file, keeping its positions.
    let numbered = dir.path().join("numbered.beats");
    std::fs::write(
        &numbered,
        plain
            .iter()
            .enumerate()
            .map(|(k, t)| format!("{t:.4}\t{}\n", k % 4 + 1))
            .collect::<String>(),
    )
    .unwrap();
    let exported = dir.path().join("exported.beats");
    run_ok(
        zerons()
            .arg("export")
            .arg(&numbered)
            .args(["--straighten", "-o"])
            .arg(&exported),
    );
    let out = zerons::formats::read_beats(&exported).unwrap();
    assert_eq!(out.times_s.len(), plain.len());
    assert!(
        spread(&out.times_s) < 0.002,
        "exported: {} s",
        spread(&out.times_s)
    );
    let positions = out.positions.expect("positions kept");
    assert!(
        positions
            .iter()
            .enumerate()
            .all(|(k, p)| *p as usize == k % 4 + 1)
    );
}

#[test]
fn eval_reports_downbeat_scores_when_both_files_have_positions() {
    let dir = tempfile::tempdir().unwrap();
    // 4/4 at 120 BPM from 0.5 s to 30 s; the estimate has the bar phase off by one beat.
    let beats = |shift: u32| -> String {
        (0..60)
            .map(|k| format!("{:.3}\t{}\n", 0.5 + 0.5 * f64::from(k), (k + shift) % 4 + 1))
            .collect()
    };
    let reference = dir.path().join("ref.beats");
    let rotated = dir.path().join("est.beats");
    let plain = dir.path().join("plain.csv");
    std::fs::write(&reference, beats(0)).unwrap();
    std::fs::write(&rotated, beats(1)).unwrap();
    let times: String = (0..60)
        .map(|k| format!("{}\n", 0.5 + 0.5 * f64::from(k)))
        .collect();
    std::fs::write(&plain, format!("time_s\n{times}")).unwrap();

    let out = run_ok(
        zerons()
            .arg("eval")
            .arg(&reference)
            .arg(&reference)
            .arg("--json"),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["downbeat_f_measure"], 1.0, "{v}");
    assert_eq!(v["position_accuracy"], 1.0, "{v}");

    let out = run_ok(zerons().arg("eval").arg(&reference).arg(&rotated));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Downbeat F-measure          0.0000"),
        "{text}"
    );
    assert!(
        text.contains("Bar-position accuracy       0.0000"),
        "{text}"
    );
    assert!(
        text.contains("F-measure                   1.0000"),
        "{text}"
    );

    // Without positions on one side: beat scores only, and a note saying why.
    let out = run_ok(
        zerons()
            .arg("eval")
            .arg(&reference)
            .arg(&plain)
            .arg("--json"),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.get("downbeat_f_measure").is_none(), "{v}");
    assert_eq!(v["f_measure"], 1.0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the estimate has no beat positions"),
        "{stderr}"
    );
}

#[test]
fn eval_reports_malformed_beat_file_with_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.beats");
    std::fs::write(&bad, "0.5\n1.0\nabc\n").unwrap();
    let out = zerons().arg("eval").arg(&bad).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.beats:3"), "{stderr}");
}

#[test]
fn tracker_options_are_checked() {
    let out = zerons()
        .arg("analyze")
        .arg(demo())
        .args(["--tracker", "ellis", "--min-bpm", "60"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = zerons()
        .arg("analyze")
        .arg(demo())
        .args(["--min-bpm", "300", "--max-bpm", "100"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("error"));
}

#[test]
fn import_weights_then_analyze_with_the_model() {
    // The ÷16-width ZeroNS network in the authors' checkpoint format (PyTorch 2.11,
    // ../shared/golden/zerons_torch, see tests/fixtures/zerons_torch).
    let dir = tempfile::tempdir().unwrap();
    let model_dir = dir.path().join("tiny");
    let out = run_ok(
        zerons()
            .arg("import-weights")
            .arg(repo("tests/fixtures/zerons_torch/tiny_pretext.pth.gz"))
            .arg("-o")
            .arg(&model_dir),
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("paper architecture"));
    for activation in ["max", "anchor", "postve"] {
        run_ok(
            zerons()
                .arg("analyze")
                .arg(repo("tests/fixtures/audio/clicks.flac"))
                .args(["--device", "cpu", "--activation", activation, "--model"])
                .arg(&model_dir),
        );
    }
    // The network activations use the bundled model by default; a bundled model that cannot
    // be loaded ($ZERONS_MODEL pointing nowhere) is a clear error, not a silent fallback.
    let out = zerons()
        .arg("analyze")
        .arg(demo())
        .args(["--activation", "max"])
        .env("ZERONS_MODEL", "/nonexistent/model")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot load the model /nonexistent/model"),
        "{stderr}"
    );
    // Regression: the I/O reason was printed twice (message and error chain).
    assert_eq!(stderr.matches("os error 2").count(), 1, "{stderr}");
    // A file that is not a model gives a clear error.
    let out = zerons()
        .arg("analyze")
        .arg(demo())
        .arg("--model")
        .arg(repo("tests/fixtures/audio/clicks.wav"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot load the model"));
}

#[test]
fn bundled_model_serves_network_activations_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    // The JAMS of the demo analysed with `extra` arguments (it names the tracked activation).
    let analyze_jams = |extra: &[&str], name: &str| {
        let out = dir.path().join(name);
        run_ok(
            zerons()
                .arg("analyze")
                .arg(demo())
                .args(extra)
                .arg("-o")
                .arg(&out),
        );
        std::fs::read_to_string(out).unwrap()
    };
    // --activation max without --model, and the default: the bundled lite model
    // (assets/model); --activation flux tracks without a network.
    for (extra, name, tracked) in [
        (&["--activation", "max"][..], "demo.jams", "ZeroNS network"),
        (&[][..], "default.jams", "ZeroNS network"),
        (&["--activation", "flux"][..], "flux.jams", "spectral flux"),
    ] {
        let jams = analyze_jams(extra, name);
        assert!(jams.contains(tracked), "{extra:?}: {jams}");
    }
    // The figure of a song: waveform, both branches, the tracked curve, reference hits.
    let reference = dir.path().join("ref.csv");
    std::fs::write(&reference, "time_s\n1.0\n1.5\n2.0\n").unwrap();
    let svg = dir.path().join("demo.svg");
    run_ok(
        zerons()
            .arg("plot")
            .arg(demo())
            .arg("--beats")
            .arg(&reference)
            .args(["--from", "0", "--to", "8", "-o"])
            .arg(&svg),
    );
    let text = std::fs::read_to_string(&svg).unwrap();
    for label in [
        "non-percussive branch",
        "percussive branch",
        "Time (s)",
        "reference: hit",
    ] {
        assert!(text.contains(label), "{label} missing from the figure");
    }
    // Training curves of a pretraining run (metrics.json of the shipped model's run).
    let curves = dir.path().join("curves.png");
    run_ok(
        zerons()
            .arg("plot")
            .arg("--training")
            .arg(repo("assets/model-v2/training/stage2-raw-metrics.json"))
            .arg("-o")
            .arg(&curves),
    );
    assert!(std::fs::metadata(&curves).unwrap().len() > 10_000);
    // A span outside the song is refused with a message.
    let out = zerons()
        .arg("plot")
        .arg(demo())
        .args(["--from", "500", "-o"])
        .arg(dir.path().join("x.svg"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--from 500"));
}

#[test]
fn a_project_is_scriptable_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("p.zerons");
    let song = dir.path().join("song.mp3");
    std::fs::copy(demo(), &song).unwrap();
    let text = |cmd: &mut Command| String::from_utf8(run_ok(cmd).stdout).unwrap();
    run_ok(zerons().args(["project", "new"]).arg(&project).args([
        "--min-bpm",
        "80",
        "--max-bpm",
        "160",
    ]));
    run_ok(zerons().args(["project", "add"]).arg(&project).arg(&song));
    // Tracked with the shipped network, like `analyze` and the app, and stored under the
    // curve names the app's toggles know (regression: the CLI tracked the flux and stored
    // it under its long description).
    {
        let p = zerons::store::Project::open(&project).unwrap();
        let analysis = p.analyses(1).unwrap().last().unwrap().id;
        let kinds: Vec<String> = p
            .curves(analysis)
            .unwrap()
            .into_iter()
            .map(|c| c.kind)
            .collect();
        // "downbeat": the bar classifier's probability at each beat (issue 21).
        assert_eq!(kinds, ["max", "anchor", "postve", "downbeat"]);
    }
    let list = text(zerons().args(["project", "list"]).arg(&project));
    assert!(
        list.starts_with("1\t") && list.contains("\tok\t") && list.contains("model"),
        "{list}"
    );
    // Import reference beats as a user revision, read them back, undo, export.
    let reference = dir.path().join("ref.csv");
    std::fs::write(&reference, "time\n0.5\n1.0\n1.5\n2.0\n").unwrap();
    run_ok(
        zerons()
            .args(["project", "import"])
            .arg(&project)
            .arg("1")
            .arg(&reference),
    );
    let beats = text(zerons().args(["project", "beats"]).arg(&project).arg("1"));
    let times: Vec<f64> = beats
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(times, vec![0.5, 1.0, 1.5, 2.0], "{beats}");
    run_ok(zerons().args(["project", "undo"]).arg(&project).arg("1"));
    let out = dir.path().join("out.csv");
    run_ok(
        zerons()
            .args(["project", "export"])
            .arg(&project)
            .arg("1")
            .arg(&out),
    );
    let exported = std::fs::read_to_string(&out).unwrap();
    assert!(
        exported.lines().count() > 10,
        "the model's beats after the undo: {exported}"
    );
    // The whole project as one Rekordbox and one Traktor collection (issue 19).
    for (format, ext) in [("rekordbox", "xml"), ("traktor", "nml")] {
        let set = dir.path().join(format!("set.{ext}"));
        let out = text(
            zerons()
                .args(["project", "export"])
                .arg(&project)
                .args(["--format", format, "--grid-tolerance-ms", "12", "-o"])
                .arg(&set),
        );
        assert!(out.contains("1 songs"), "{out}");
        let back = zerons::formats::read_collection(&set).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].audio_path.file_name().unwrap(), "song.mp3");
    }
    let err = run_fails(
        zerons()
            .args(["project", "export"])
            .arg(&project)
            .args(["--format", "csv", "-o"])
            .arg(dir.path().join("x.csv")),
    );
    assert!(err.contains("rekordbox or traktor"), "{err}");
    // A moved file is reported, not re-analysed, and relinked.
    let moved = dir.path().join("moved.mp3");
    std::fs::rename(&song, &moved).unwrap();
    assert!(text(zerons().args(["project", "list"]).arg(&project)).contains("MISSING (relink)"));
    // Issue 19: relinking to a file that is not audio, or to another recording, is refused.
    let fake = dir.path().join("fake.mp3");
    std::fs::write(&fake, br#"{"not": "audio"}"#).unwrap();
    let err = run_fails(
        zerons()
            .args(["project", "relink"])
            .arg(&project)
            .arg("1")
            .arg(&fake),
    );
    assert!(err.contains("fake.mp3"), "{err}");
    let other = repo("tests/fixtures/audio/clicks.wav");
    let err = run_fails(
        zerons()
            .args(["project", "relink"])
            .arg(&project)
            .arg("1")
            .arg(&other),
    );
    assert!(err.contains("--force") && err.contains("lasted"), "{err}");
    assert!(text(zerons().args(["project", "list"]).arg(&project)).contains("MISSING (relink)"));
    run_ok(
        zerons()
            .args(["project", "relink"])
            .arg(&project)
            .arg("1")
            .arg(&moved),
    );
    let list = text(zerons().args(["project", "list"]).arg(&project));
    assert!(
        list.contains("moved.mp3") && list.contains("\tok\t"),
        "{list}"
    );
    // Bad input: an unknown track is a clear error.
    let err = run_fails(zerons().args(["project", "beats"]).arg(&project).arg("99"));
    assert!(err.contains("99"), "{err}");
    // Removing a song takes its beats and history with it, and leaves the audio file.
    run_ok(zerons().args(["project", "remove"]).arg(&project).arg("1"));
    assert!(!text(zerons().args(["project", "list"]).arg(&project)).contains("moved.mp3"));
    assert!(moved.exists());
    let err = run_fails(zerons().args(["project", "remove"]).arg(&project).arg("1"));
    assert!(err.contains('1'), "{err}");
}

/// `--continue-from`: the checked beats are kept exactly and the rest follows their tempo.
/// The "checked" beats here count the demo in half time (every other beat of the tracker's
/// own, 60 BPM, as a user may): unguided the tracker is at 120 BPM; guided (tempo range
/// ±30 % around 60) it must go on in half time, on the song's beats.
#[test]
fn analyze_continues_checked_beats() {
    let parse = |out: std::process::Output| -> Vec<f64> {
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| l.parse().unwrap())
            .collect()
    };
    let plain = parse(run_ok(zerons().arg("analyze").arg(demo())));
    let checked: Vec<f64> = plain
        .iter()
        .step_by(2)
        .copied()
        .filter(|t| *t < 10.0)
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("checked.csv");
    let text: String = checked.iter().map(|t| format!("{t:.3}\n")).collect();
    std::fs::write(&file, text).unwrap();
    let guided = parse(run_ok(
        zerons()
            .arg("analyze")
            .arg(demo())
            .arg("--continue-from")
            .arg(&file)
            .args(["--until", "10"]),
    ));
    assert!(
        guided[..checked.len()]
            .iter()
            .zip(&checked)
            .all(|(g, c)| (g - c).abs() < 1e-3),
        "checked beats kept: {guided:?}"
    );
    let rest: Vec<f64> = guided.iter().copied().filter(|t| *t > 10.0).collect();
    assert!(rest.len() >= 15, "{rest:?}");
    let median = |v: &[f64]| {
        let mut d: Vec<f64> = v.windows(2).map(|w| w[1] - w[0]).collect();
        d.sort_by(f64::total_cmp);
        d[d.len() / 2]
    };
    let (half_time, full) = (median(&rest), median(&plain));
    assert!(
        (half_time / full - 2.0).abs() < 0.1,
        "half time goes on: {half_time} s vs {full} s"
    );
    // On the song's beats, but for at most three while the decoder moves to the stronger of
    // the two half-time phases (this metal excerpt's backbeat; the shipped network's curve
    // takes three beats, the flux two): the tempo is the user's, the phase only where the
    // music does not clearly say otherwise.
    let off_grid: Vec<f64> = rest
        .iter()
        .copied()
        .filter(|t| plain.iter().all(|p| (p - t).abs() >= 0.07))
        .collect();
    assert!(off_grid.len() <= 3, "off the song's beats: {off_grid:?}");
    // Bad uses are clear errors.
    let err = run_fails(
        zerons()
            .arg("analyze")
            .arg(demo())
            .arg(demo())
            .arg("--continue-from")
            .arg(&file),
    );
    assert!(err.contains("one audio file"), "{err}");
    let missing = dir.path().join("nope.csv");
    let err = run_fails(
        zerons()
            .arg("analyze")
            .arg(demo())
            .arg("--continue-from")
            .arg(&missing),
    );
    assert!(err.contains("nope.csv"), "{err}");
}

/// `zerons export` converts beat files between formats and `zerons import` reads any of them
/// back (or says exactly what is wrong).
#[test]
fn export_and_import_convert_plain_beat_files() {
    let dir = tempfile::tempdir().unwrap();
    let src = repo("tests/fixtures/formats/example.beats");
    let jams = dir.path().join("song.jams");
    let out = run_ok(zerons().arg("export").arg(&src).arg("-o").arg(&jams));
    assert!(String::from_utf8_lossy(&out.stdout).contains("jams"));
    let read = |path: &std::path::Path| -> Vec<f64> {
        let out = run_ok(zerons().arg("import").arg(path));
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| l.split(',').next().unwrap().parse().unwrap())
            .collect()
    };
    let (a, b) = (read(&src), read(&jams));
    assert!(a.len() > 3 && a.len() == b.len());
    assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-6));
    // A DJ collection needs the song; with it, the grid reads back.
    let xml = dir.path().join("grid.xml");
    let err = run_fails(zerons().arg("export").arg(&src).arg("-o").arg(&xml));
    assert!(err.contains("--audio"), "{err}");
    run_ok(
        zerons()
            .arg("export")
            .arg(&src)
            .arg("-o")
            .arg(&xml)
            .arg("--audio")
            .arg(demo()),
    );
    // Rekordbox keeps a straight tempo grid, which runs on to the end of the song: the
    // source beats lie within the grid's tolerance of it (plus the format's rounding), and it
    // continues past them.
    let grid = read(&xml);
    assert!(grid.len() >= a.len(), "{grid:?}");
    let tolerance_s = zerons::formats::GridConfig::default().max_error_s;
    for t in &a {
        let off = grid.iter().map(|g| (g - t).abs()).fold(f64::MAX, f64::min);
        assert!(
            off < tolerance_s + 0.001,
            "beat {t} is {off} s off the Rekordbox grid"
        );
    }
    // A malformed file: the line at fault is named.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "0.5\nzero point seven\n1.0\n").unwrap();
    let err = run_fails(zerons().arg("import").arg(&bad));
    assert!(err.contains("bad.csv:2:"), "{err}");
}

/// `zerons train` from a manifest: the songs' features are computed (on two threads), a song
/// whose audio is missing or silent is reported by name and skipped, the run trains and
/// writes its checkpoints, and a second run without `--resume` refuses to overwrite it.
#[test]
fn train_runs_from_a_manifest_and_skips_a_missing_song() {
    let dir = tempfile::tempdir().unwrap();
    // FNV-1a of "source/song" splits the pieces: t/a (67) trains, t/d (12) validates at 50 %.
    for name in ["a", "d"] {
        std::fs::copy(demo(), dir.path().join(format!("{name}.mp3"))).unwrap();
    }
    let beats: String = (1..58)
        .map(|k| format!("{:.3}\n", k as f64 * 0.5))
        .collect();
    for name in ["a", "d", "gone", "quiet"] {
        std::fs::write(dir.path().join(format!("{name}.beats")), &beats).unwrap();
    }
    // Digital silence (the analysis tests' fixture): refused by name, never trained on.
    std::fs::copy(
        repo("tests/fixtures/audio/silent.wav"),
        dir.path().join("quiet.wav"),
    )
    .unwrap();
    let manifest = dir.path().join("manifest.csv");
    std::fs::write(
        &manifest,
        "name,source,song,audio,beats\n\
         a,t,a,a.mp3,a.beats\n\
         gone,t,gone,gone.mp3,gone.beats\n\
         quiet,t,quiet,quiet.wav,quiet.beats\n\
         d,t,d,d.mp3,d.beats\n",
    )
    .unwrap();
    let run = dir.path().join("runs").join("r");
    let train = |extra: &[&str]| {
        let mut cmd = zerons();
        cmd.arg("train")
            .arg("--manifest")
            .arg(&manifest)
            .arg("-o")
            .arg(&run)
            .args(["--steps", "2", "--crop-s", "4", "--valid-percent", "50"])
            .args(["--valid-every", "2", "--jobs", "2"])
            .args(extra);
        cmd
    };
    let out = run_ok(&mut train(&[]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("skipped gone") && err.contains("gone.mp3"),
        "{err}"
    );
    assert!(
        err.contains("skipped quiet") && err.contains("quiet.wav") && err.contains("silent"),
        "{err}"
    );
    assert!(
        err.contains("1 for training")
            && err.contains("1 for validation")
            && err.contains("2 skipped"),
        "{err}"
    );
    assert!(run.join("last").join("MODEL.json").is_file());
    assert!(run.join("best").join("MODEL.json").is_file());
    // Features were cached beside the run.
    let cached = std::fs::read_dir(dir.path().join("runs").join("features")).unwrap();
    assert_eq!(cached.count(), 2);
    let again = run_fails(&mut train(&[]));
    assert!(
        again.contains("resume") || again.contains("exists"),
        "{again}"
    );
}

#[test]
fn the_phase_check_can_be_turned_off_and_a_bad_ratio_is_refused() {
    // The demo's beats are on the beat: with or without the check, the same beats.
    let on = run_ok(zerons().arg("analyze").arg(demo()));
    let off = run_ok(zerons().args(["analyze", "--phase-check", "0"]).arg(demo()));
    assert_eq!(on.stdout, off.stdout);
    for bad in ["-1", "NaN"] {
        let flag = format!("--phase-check={bad}");
        let err = run_fails(zerons().args(["analyze", &flag]).arg(demo()));
        assert!(err.contains("--phase-check"), "{err}");
    }
}

/// DEVSET rule 31 through the CLI: corrections that are the bundled model's own beats hold
/// nothing to learn (the network is kept; a model is still written); one beat moved by 150 ms
/// is a correction, and the run trains.
#[test]
fn finetune_on_the_models_own_beats_has_nothing_to_learn() {
    let dir = tempfile::tempdir().unwrap();
    let own = dir.path().join("own.csv");
    run_ok(zerons().arg("analyze").arg(demo()).arg("-o").arg(&own));
    let finetune = |beats: &std::path::Path, out: &str| {
        let o = run_ok(
            zerons()
                .arg("finetune")
                .arg("--song")
                .arg(format!("{}={}", demo().display(), beats.display()))
                .args(["--annotated-until", "20", "--max-epochs", "3", "-o"])
                .arg(dir.path().join(out)),
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let kept = finetune(&own, "kept");
    assert!(kept.contains("nothing to learn"), "{kept}");
    assert!(kept.contains("best epoch 0 of 0"), "{kept}");
    assert!(dir.path().join("kept").join("MODEL.json").exists());
    // Move the tenth beat 150 ms later.
    let text = std::fs::read_to_string(&own).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let (t, rest) = lines[10].split_once(',').unwrap();
    let moved_t: f64 = t.parse::<f64>().unwrap() + 0.15;
    lines[10] = format!("{moved_t:.6},{rest}");
    let moved = dir.path().join("moved.csv");
    std::fs::write(&moved, lines.join("\n")).unwrap();
    let trained = finetune(&moved, "trained");
    assert!(!trained.contains("nothing to learn"), "{trained}");
    assert!(trained.contains("of 3,"), "{trained}");
}
