import math
from pathlib import Path

import pytest
import torch

from trainer import checkpoint as C
from trainer.config import ModelConfig, TrainConfig
from trainer.train import Callback, fit, new_model

pytestmark = pytest.mark.slow  # every test here trains or re-measures models

CFG = dict(hidden=(64,), latent_dim=2, disc_hidden=(32,))


def run(data, tmp_path, name, model="vae", epochs=2, resume=False, callbacks=(), **kw):
    mixture = dict(prior_components=3) if model == "vae-mixture-prior" else {}  # the VAE with a fitted prior
    cfg = ModelConfig(model=model.split("-")[0], prior="mixture10" if model == "aae" else "gaussian", **CFG, **mixture)
    out = tmp_path / name
    m = C.load(out).model if resume else new_model(cfg, seed=0)
    return fit(m, data, TrainConfig(epochs=epochs, batch_size=64, log_every=4, **kw), callbacks, run_dir=out,
               resume=resume), out


class Recorder(Callback):
    def __init__(self, stop_at_step=None):
        self.steps, self.epochs, self.stop_at_step = [], [], stop_at_step

    def on_step(self, row):
        self.steps.append(row)

    def on_epoch(self, row, model):
        self.epochs.append(row)

    def should_stop(self):
        return self.stop_at_step is not None and len(self.steps) * 4 >= self.stop_at_step


@pytest.mark.parametrize("model", ["ae", "vae", "aae", "cvae", "caae", "vae-mixture-prior"])
def test_same_seed_same_numbers_and_resume_equivalence(small_data, tmp_path, model):
    full, _ = run(small_data, tmp_path, "a", model, epochs=3)
    again, _ = run(small_data, tmp_path, "b", model, epochs=3)
    assert full.metrics == {**again.metrics, "seconds": full.metrics["seconds"],
                            "images_per_s": full.metrics["images_per_s"]}
    run(small_data, tmp_path, "c", model, epochs=2)
    resumed, out = run(small_data, tmp_path, "c", model, epochs=3, resume=True)
    for key, value in full.metrics.items():
        if key.startswith(("train_", "test_")):
            assert resumed.metrics[key] == pytest.approx(value, rel=1e-6), key
    history = C.read_history(out)
    epochs = [r["epoch"] for r in history if r["kind"] == "epoch"]
    assert epochs == [1, 2, 3]
    assert all(math.isfinite(r["loss"]) for r in history if r["kind"] == "step")


def consistent_epoch(run_dir) -> int:
    """The one epoch weights, config, metrics, history and resume point of a run folder agree on (or fail)."""
    epoch = C.resume_epoch(run_dir)
    assert C.read_header(run_dir / C.WEIGHTS)["__metadata__"]["epoch"] == str(epoch)
    assert C.read_config(run_dir)["epoch"] == epoch and C.read_json(run_dir / C.METRICS)["epoch"] == epoch
    assert max(r["epoch"] for r in C.read_history(run_dir)) == epoch
    assert not list(run_dir.glob(".*.tmp")), "temp files left"
    return epoch


@pytest.mark.parametrize("killed_at", range(5))
def test_a_save_interrupted_between_its_renames_is_rolled_back_and_resumes_exactly(small_data, tmp_path,
                                                                                   monkeypatch, killed_at):
    """A save renames five temp files into place (weights, config, metrics, history, the resume point last); a
    kill between two renames leaves files an epoch ahead of the resume point. The next open for training rolls
    them back to it, and the run resumes to the numbers of an uninterrupted run."""
    import os

    full, _ = run(small_data, tmp_path, "a", "aae", epochs=3)
    run(small_data, tmp_path, "b", "aae", epochs=1)
    replace, renamed = os.replace, []

    def killed(src, dst):
        if Path(dst).parent == tmp_path / "b":
            if len(renamed) == killed_at:
                raise KeyboardInterrupt  # the process dies before this file is renamed into place
            renamed.append(Path(dst).name)
        replace(src, dst)

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        run(small_data, tmp_path, "b", "aae", epochs=2, resume=True)
    monkeypatch.undo()
    assert renamed == [C.WEIGHTS, C.CONFIG, C.METRICS, C.HISTORY][:killed_at]
    assert C.load(tmp_path / "b").epoch in (1, 2) and C.resume_epoch(tmp_path / "b") == 1
    note = C.open_for_training(tmp_path / "b")
    assert ("rolled model.safetensors, config.json, metrics.json and history.jsonl back to epoch 1" in note) == \
        (killed_at > 0)
    assert consistent_epoch(tmp_path / "b") == 1 and C.open_for_training(tmp_path / "b") == ""
    resumed, out = run(small_data, tmp_path, "b", "aae", epochs=3, resume=True)
    assert resumed.metrics["test_loss"] == pytest.approx(full.metrics["test_loss"], rel=1e-6)
    assert [r["epoch"] for r in C.read_history(out) if r["kind"] == "epoch"] == [1, 2, 3]
    assert consistent_epoch(out) == 3


def test_an_older_run_with_a_separate_trainer_state_still_resumes(small_data, tmp_path):
    """Runs saved before the resume point was one file kept weights in model.safetensors and the optimizer's
    JSON in trainer_state.json; they resume as before, and their next save moves them to the new layout."""
    import json

    full, _ = run(small_data, tmp_path, "a", "vae", epochs=2)
    _, out = run(small_data, tmp_path, "b", "vae", epochs=1)
    tensors, meta = C.read_safetensors(out / C.OPTIMIZER)
    (out / C.LEGACY_STATE).write_text(json.dumps(json.loads(meta.pop("state"))))
    C.atomic_write(out / C.OPTIMIZER, C.st_save({k: v for k, v in tensors.items()
                                                 if not k.startswith(C.RESUME_WEIGHTS)}, metadata=meta))
    resumed, _ = run(small_data, tmp_path, "b", "vae", epochs=2, resume=True)
    assert resumed.metrics["test_loss"] == pytest.approx(full.metrics["test_loss"], rel=1e-6)
    assert not (out / C.LEGACY_STATE).exists() and "state" in C.read_safetensors(out / C.OPTIMIZER)[1]


def test_a_fitted_prior_needs_enough_training_images(small_data, tmp_path):
    from trainer.config import ConfigError

    model = new_model(ModelConfig(model="vae", prior_components=10, **CFG))
    with pytest.raises(ConfigError, match="10 fitted Gaussians needs at least 20 training images, got 6"):
        fit(model, small_data, TrainConfig(epochs=1, limit=6), run_dir=tmp_path / "few")
    assert not (tmp_path / "few").exists()  # refused before anything was written


def test_callbacks_receive_steps_and_epochs_and_can_stop(small_data, tmp_path):
    rec = Recorder()
    result, _ = run(small_data, tmp_path, "a", epochs=2, callbacks=[rec])
    assert result.status == "finished" and [r["epoch"] for r in rec.epochs] == [1, 2]
    steps = [r["step"] for r in rec.steps]
    assert steps == sorted(steps) and steps[-1] == 2 * 8  # 512 images / 64 per batch = 8 steps per epoch
    assert {"loss", "recon", "kl"} <= set(rec.steps[0]) and {"test_neg_elbo", "train_kl"} <= set(rec.epochs[0])

    stopper = Recorder(stop_at_step=12)  # stop in the middle of epoch 2
    result, out = run(small_data, tmp_path, "b", epochs=3, callbacks=[stopper])
    assert result.status == "stopped" and result.epoch == 1
    assert C.load(out).epoch == 1


def test_nan_stops_with_message_and_keeps_last_good_checkpoint(small_data, tmp_path):
    class Poison(Callback):
        def __init__(self, model):
            self.model = model

        def on_epoch(self, row, model):
            with torch.no_grad():
                model.decoder.net[0].weight.fill_(float("inf"))

    result, out = run(small_data, tmp_path, "nan", epochs=3, callbacks=[Poison(None)])
    assert result.status == "diverged" and result.epoch == 1
    assert "diverged" in result.message and "epoch 1" in result.message
    loaded = C.load(out)  # the last good checkpoint still loads, with finite weights
    assert loaded.epoch == 1


def test_cosine_schedule_resumes_exactly(small_data, tmp_path):
    full, _ = run(small_data, tmp_path, "a", epochs=3, lr_schedule="cosine")
    stopped, _ = run(small_data, tmp_path, "b", epochs=3, lr_schedule="cosine", callbacks=[Recorder(stop_at_step=17)])
    assert stopped.status == "stopped" and stopped.epoch == 2
    resumed, _ = run(small_data, tmp_path, "b", epochs=3, lr_schedule="cosine", resume=True)
    assert resumed.metrics["test_neg_elbo"] == pytest.approx(full.metrics["test_neg_elbo"], rel=1e-6)
    constant, _ = run(small_data, tmp_path, "c", epochs=3)
    assert constant.metrics["test_neg_elbo"] != pytest.approx(full.metrics["test_neg_elbo"], rel=1e-6)


def test_weight_decay_shrinks_weights_and_is_saved(small_data, tmp_path):
    """Decoupled weight decay: same data and seed, the decayed run ends with smaller weights; the config keeps it."""
    plain, plain_dir = run(small_data, tmp_path, "plain", epochs=3, lr=1e-2)
    decayed, decayed_dir = run(small_data, tmp_path, "decayed", epochs=3, lr=1e-2, weight_decay=1.0)
    norm = lambda folder: sum(float(p.detach().pow(2).sum()) for p in C.load(folder).model.parameters())  # noqa: E731
    assert norm(decayed_dir) < 0.9 * norm(plain_dir)
    assert C.load(decayed_dir).train_config.weight_decay == 1.0 and C.load(plain_dir).train_config.weight_decay == 0


class Weights(Callback):
    """The encoder's, decoder's and (AAE) discriminator's weights after every epoch."""

    def __init__(self):
        self.after = []

    def on_epoch(self, row, model):
        parts = ("encoder", "decoder", "discriminator")
        self.after.append({part: [p.detach().clone() for p in getattr(model, part).parameters()]
                           for part in parts if hasattr(model, part)})


def same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("model", ["ae", "vae", "aae", "caae"])
def test_decoder_epochs_train_the_decoder_alone_and_resume_exactly(small_data, tmp_path, model):
    weights = Weights()
    full, _ = run(small_data, tmp_path, "a", model, epochs=3, decoder_epochs=1, lr_schedule="cosine",
                  weight_decay=0.1, callbacks=[weights])  # 8 steps per epoch
    joint, decoder_only = weights.after[1], weights.after[2]
    assert same(joint["encoder"], decoder_only["encoder"])  # the codes did not move in epoch 3
    assert not same(joint["decoder"], decoder_only["decoder"])
    if "discriminator" in joint:
        assert same(joint["discriminator"], decoder_only["discriminator"])
    assert not same(weights.after[0]["encoder"], joint["encoder"])  # before that, both trained
    kw = dict(epochs=3, decoder_epochs=1, lr_schedule="cosine", weight_decay=0.1)
    stopped, _ = run(small_data, tmp_path, "b", model, callbacks=[Recorder(stop_at_step=20)], **kw)
    assert stopped.status == "stopped" and stopped.epoch == 2  # stopped in the decoder's epoch
    resumed, out = run(small_data, tmp_path, "b", model, resume=True, **kw)
    assert resumed.metrics["test_loss"] == pytest.approx(full.metrics["test_loss"], rel=1e-6)
    assert C.load(out).train_config.decoder_epochs == 1


def test_decoder_epochs_leave_at_least_one_joint_epoch():
    from trainer.config import ConfigError

    with pytest.raises(ConfigError, match="decoder_epochs must be between 0 and epochs - 1"):
        TrainConfig(epochs=3, decoder_epochs=3).validate()


def test_a_wide_latent_gets_a_knn_on_the_apps_pca_plane_and_the_report_card_shows_it(small_data, tmp_path):
    """eval's kNN of a > 2-D run: in its latent space and on the PCA plane the app draws (the report card's
    "kNN 2-D", marked PCA, until pretrained.build adds the UMAP plane's)."""
    from explorer.projection import PCA2D
    from explorer.report import REPORT_COLUMNS, report_card
    from trainer.classifier import SHIPPED, load_classifier
    from trainer.evaluate import knn_accuracy, measure_run, save_results

    cfg = ModelConfig(model="ae", hidden=(64,), latent_dim=6)
    fit(new_model(cfg, seed=0), small_data, TrainConfig(epochs=1, batch_size=64), run_dir=tmp_path / "ae6")
    loaded = C.load(tmp_path / "ae6")
    stages = []
    results = measure_run(loaded, small_data.train, small_data.test, load_classifier(SHIPPED),
                          progress=lambda fraction, what: stages.append((fraction, what)))
    assert [f for f, _ in stages] == [0.0, 0.6] and "256 test digits" in stages[0][1]  # what the Measure bar shows
    assert 0 <= results["confident_share"] <= 1
    train_codes = loaded.model.embed_split(small_data.train).numpy()
    pca = PCA2D().fit(train_codes)
    expected = knn_accuracy(pca.transform(train_codes), small_data.train.labels,
                            pca.transform(loaded.model.embed_split(small_data.test).numpy()), small_data.test.labels)
    assert results["knn_accuracy_pca"] == pytest.approx(expected, abs=1 / len(small_data.test))
    save_results(loaded, results)
    def knn_cell() -> str:
        row = report_card({"runs/ae6": tmp_path / "ae6"}).splitlines()[2].strip("| ").split(" | ")
        return dict(zip(REPORT_COLUMNS, row))["kNN 2-D"]
    assert knn_cell() == f"{100 * results['knn_accuracy_pca']:.0f}% (PCA)"
    save_results(loaded, {**results, "knn_accuracy_umap": 0.5})  # what pretrained.build adds
    assert knn_cell() == "50%"


def test_outside_share_is_calibrated_to_the_level_and_sees_misses_both_ways():
    """Queries drawn like the reference are outside at the 1 - level rate; a wider cloud is mostly outside, a
    narrower one inside; in 16-D, samples off the 4-D sheet the reference lies on are outside (the "holes")."""
    from trainer.evaluate import outside_share

    g = torch.Generator().manual_seed(0)
    normal = lambda n, d=2, scale=1.0: scale * torch.randn(n, d, generator=g)  # noqa: E731
    reference, calibration = normal(5000), normal(2000)
    assert outside_share(reference, calibration, normal(4000)) == pytest.approx(0.05, abs=0.015)
    assert outside_share(reference, calibration, normal(2000), level=0.8) == pytest.approx(0.2, abs=0.03)
    assert outside_share(reference, calibration, normal(2000, scale=3.0)) > 0.5
    assert outside_share(reference, calibration, normal(2000, scale=0.3)) < 0.01
    sheet = lambda n: torch.cat([normal(n, 4), torch.zeros(n, 12)], 1)  # noqa: E731
    assert outside_share(sheet(5000), sheet(2000), sheet(2000)) == pytest.approx(0.05, abs=0.02)
    assert outside_share(sheet(5000), sheet(2000), normal(2000, 16)) > 0.9


def test_prior_coverage_of_a_trained_model_sees_a_prior_moved_off_its_codes(small_data, tmp_path):
    """An AE samples from a Gaussian fitted to its codes: little is off either way (the same numbers for the same
    seed). Moving that Gaussian away from the codes puts nearly every sample in a hole and every code off it."""
    from trainer.evaluate import prior_coverage

    cfg = ModelConfig(model="ae", hidden=(64,), latent_dim=2)
    fit(new_model(cfg, seed=0), small_data, TrainConfig(epochs=1, batch_size=64), run_dir=tmp_path / "ae")
    model = C.load(tmp_path / "ae").model
    fitted = prior_coverage(model, small_data.train, small_data.test, n=256, reference=1024)
    assert fitted == prior_coverage(model, small_data.train, small_data.test, n=256, reference=1024)
    assert fitted["prior_holes"] < 0.2 and fitted["codes_off_prior"] < 0.2
    model.code_mean += 20 * model.code_scale_tril.diagonal()
    moved = prior_coverage(model, small_data.train, small_data.test, n=256, reference=1024)
    assert moved["prior_holes"] > 0.95 and moved["codes_off_prior"] > 0.95
