//! Speed of the `model` stage on the flex CPU backend.
//!
//! - `lite_infer_3min`: lite model, both branches, a 3-minute song (11,251 frames) through
//!   `model::infer` (chunked). Target ≤ 0.5 s.
//! - `paper_infer_30s`: the authors' full-width branch pair on a 30 s clip (1,876 frames);
//!   × 6 for 3 minutes.
//! - `lite_train_step`: one Adam step (forward + backward) of the lite model, two branches ×
//!   16 crops × 313 frames with the sync-pred NT-Xent loss (T = 0.25), as pretraining does.
//!
//! Run: `cargo bench --bench model -- --warm-up-time 1 --measurement-time 3`

use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Distribution, Tensor, TensorData};
use criterion::{Criterion, criterion_group, criterion_main};
use zerons::features::Spectrogram;
use zerons::model::{Device, InferConfig, LoadedModel, ModelConfig, Provenance, ZeroNs, infer};

fn spectrogram(n_frames: usize) -> Spectrogram {
    Spectrogram {
        data: (0..96 * n_frames)
            .map(|i| ((i * 7919) % 1000) as f32 / 100.0 - 8.0)
            .collect(),
        n_bins: 96,
        n_frames,
        fps: 62.5,
    }
}

fn loaded(config: ModelConfig) -> LoadedModel {
    let device = Device::flex();
    let network = ZeroNs::new(&config, &device).unwrap();
    LoadedModel::new(network, config, Provenance::default(), None, device)
}

/// One-directional NT-Xent on time-centred curves (spec §3), `[B, T]` each.
fn nt_xent(a: Tensor<2>, p: Tensor<2>) -> Tensor<1> {
    let [b, _] = a.dims();
    let unit = |x: Tensor<2>| {
        let x = x.clone() - x.mean_dim(1);
        let n = (x.clone() * x.clone()).sum_dim(1).sqrt() + 1e-8;
        x / n
    };
    let logits = unit(a).matmul(unit(p).transpose()) / 0.25;
    let eye: Vec<f32> = (0..b * b)
        .map(|i| if i / b == i % b { 1.0 } else { 0.0 })
        .collect();
    let eye = Tensor::<2>::from_data(TensorData::new(eye, [b, b]), &logits.device());
    (log_softmax(logits, 1) * eye).sum().neg() / b as f64
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("model");
    g.sample_size(10);

    let lite = loaded(ModelConfig::lite());
    let song = spectrogram(11_251);
    g.bench_function("lite_infer_3min", |b| {
        b.iter(|| infer(&lite, &song, &song, &InferConfig::default()).unwrap())
    });

    let paper = loaded(ModelConfig::paper());
    let clip = spectrogram(1_876);
    g.bench_function("paper_infer_30s", |b| {
        b.iter(|| infer(&paper, &clip, &clip, &InferConfig::default()).unwrap())
    });
    drop(paper);

    let ad = Device::flex().autodiff();
    let mut net = Some(ZeroNs::new(&ModelConfig::lite(), &ad).unwrap());
    let mut optim = AdamConfig::new().init();
    g.bench_function("lite_train_step", |b| {
        b.iter(|| {
            let model = net.take().unwrap();
            let xa = Tensor::<4>::random([16, 1, 96, 313], Distribution::Normal(-8.0, 2.0), &ad);
            let xp = Tensor::<4>::random([16, 1, 96, 313], Distribution::Normal(-8.0, 2.0), &ad);
            let out = model.forward(xa, xp);
            let loss = nt_xent(out.anchor, out.postve);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            net = Some(optim.step(1e-4, model, grads));
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
