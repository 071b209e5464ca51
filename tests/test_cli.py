"""The `python -m trainer` command line: train, resume and eval, and one clear line for each user error.

Most cases run in this process through `trainer.__main__.main` (the `cli` fixture); a round trip and Ctrl+C run as
real processes (`cli_process`), since the process itself is what they test."""
import json
import os
import subprocess
import sys

import pytest
import torch

from trainer import checkpoint as C
from trainer_cli import ROOT, cli, cli_process  # noqa: F401 (cli is a fixture)


def test_help_documents_every_flag(cli):
    out = cli("train", "--help").stdout
    for flag in ["--model", "--arch", "--hidden", "--latent-dim", "--epochs", "--batch-size", "--lr", "--kl-weight",
                 "--prior", "--seed", "--data", "--limit", "--out", "--resume", "--label-guided", "--download",
                 "--weight-decay", "--disc-hidden", "--posterior", "--adv-lr", "--lr-schedule", "--prior-components",
                 "--decoder-epochs"]:
        assert flag in out


# p(z) = N(0, I) in real processes (the round trip as a user types it); a 3-Gaussian mixture fitted every epoch,
# in this process
@pytest.mark.slow
@pytest.mark.parametrize("components,in_process", [(0, False), (3, True)])
def test_train_resume_eval_on_full_mnist_subset(mnist_dir, tmp_path, components, in_process, request):
    run = request.getfixturevalue("cli") if in_process else cli_process
    out = tmp_path / "vae"
    r = run("train", "--model", "vae", "--hidden", "64", "--latent-dim", "2", "--epochs", "1", "--limit", "1000",
            "--data", mnist_dir, "--out", out, "--batch-size", "100", "--prior-components", components)
    assert r.returncode == 0, r.stderr
    assert "epoch   1" in r.stdout + r.stderr and "finished 1 epochs" in r.stdout
    config = json.loads((out / "config.json").read_text())
    assert config["dataset"]["train_size"] == 60000 and config["dataset"]["limit"] == 1000
    r = run("train", "--out", out, "--resume", "--epochs", "2", "--quiet")
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "config.json").read_text())["epoch"] == 2
    r = run("eval", out, "--json")
    assert r.returncode == 0, r.stderr
    results = json.loads(r.stdout)
    assert results["test_images"] == 10000 and 0 <= results["knn_accuracy"] <= 1
    assert results["iwae_bound"] <= results["neg_elbo"] + 1.0  # the IWAE bound is tighter than the ELBO
    assert json.loads((out / "config.json").read_text())["model"]["prior_components"] == components


@pytest.mark.slow
def test_bundled_fallback_is_loud(cli, tmp_path):
    r = cli("train", "--model", "ae", "--hidden", "32", "--epochs", "1", "--limit", "256", "--out", tmp_path / "ae",
            "--quiet")
    assert r.returncode == 0, r.stderr
    assert "NO FULL TRAINING SET FOUND" in r.stderr


@pytest.mark.slow
def test_resume_can_polish_the_decoder_of_a_finished_run(cli, tmp_path):
    """--resume --epochs M+N --decoder-epochs N: N more epochs for the decoder alone; the codes stay as they were."""
    from trainer import checkpoint

    out = tmp_path / "aae"
    r = cli("train", "--model", "aae", "--hidden", "32", "--disc-hidden", "16", "--epochs", "1", "--limit", "256",
            "--out", out, "--quiet")
    assert r.returncode == 0, r.stderr
    before = checkpoint.load(out).model
    r = cli("train", "--out", out, "--resume", "--epochs", "2", "--decoder-epochs", "1", "--quiet")
    assert r.returncode == 0, r.stderr
    after = checkpoint.load(out)
    assert after.epoch == 2 and after.train_config.decoder_epochs == 1
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(after.model.embed(x), before.embed(x))
    assert not torch.equal(after.model.decode(before.embed(x)), before.decode(before.embed(x)))


@pytest.mark.parametrize("args,message", [
    (["train", "--data", "/no/such/folder"], "error: /no/such/folder: no such folder"),
    (["train", "--latent-dim", "0"], "error: latent_dim must be between 1 and 512"),
    (["train", "--model", "aae", "--label-guided"], "error: label_guided needs"),
    (["eval", "/no/such/run"], "error: /no/such/run: no such checkpoint folder"),
    (["train", "--weight-decay", "-0.1"], "error: weight_decay must be in [0, 1]"),
    (["train", "--epochs", "0"], "error: epochs must be between 1 and 1000, got 0"),  # not the default 10
    (["train", "--limit", "0"], "error: limit must be a positive number of images, got 0"),
    (["train", "--threads", "0"], "error: threads must be >= 1, got 0"),
    (["train", "--seed", "-1"], "error: seed must be between 0 and 4294967295, got -1"),
    (["train", "--kl-weight", "nan"], "error: kl_weight must be a number between 0 and 1000, got nan"),  # not diverged
    (["train", "--out", "runs/a:b"], "error: run name 'a:b': use up to 64 letters"),
    # a flag the chosen model would ignore
    (["train", "--model", "aae", "--kl-weight", "4"], "error: --kl-weight applies to the vae and cvae models only"),
    (["train", "--model", "vae", "--prior", "mixture10"], "error: --prior applies to the aae and caae models only"),
    (["train", "--model", "ae", "--adv-lr", "1e-4"], "error: --adv-lr applies to the aae and caae models only"),
    (["train", "--arch", "mlp", "--channels", "8,16"], "error: --channels applies to --arch conv only"),
    (["train", "--device", "gpu"], "error: unknown device 'gpu'"),
    pytest.param(["train", "--device", "cuda"], "error: device 'cuda' is not available",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")),
])
def test_user_errors_exit_nonzero_with_one_line(cli, args, message):
    r = cli(*args)
    assert r.returncode == 2
    assert r.stderr.strip() == message or r.stderr.strip().startswith(message)
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_existing_run_is_not_overwritten(cli, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text("{}")
    r = cli("train", "--out", tmp_path / "run")
    assert r.returncode == 2 and "already holds a run" in r.stderr
    r = cli("train", "--out", tmp_path / "run", "--latent-dim", "0")  # the bad flag is named first
    assert r.returncode == 2 and "latent_dim must be between 1 and 512" in r.stderr


@pytest.mark.slow
def test_resume_refuses_settings_it_would_ignore_and_takes_a_new_device(cli, tmp_path):
    out = tmp_path / "ae"
    first = ["--model", "ae", "--hidden", "32", "--limit", "256", "--out", out, "--quiet"]
    assert cli("train", *first, "--epochs", "1").returncode == 0
    r = cli("train", "--out", out, "--resume", "--epochs", "2", "--hidden", "64", "--lr", "0.01")
    assert r.returncode == 2 and r.stderr.startswith(f"error: --resume continues {out} with its saved settings "
                                                     "(--hidden 32, --lr 0.001); only --epochs")
    assert json.loads((out / "config.json").read_text())["epoch"] == 1  # nothing trained
    r = cli("train", "--out", out, "--resume", "--model", "vae")  # typed, though the default
    assert r.returncode == 2 and "(--model ae)" in r.stderr
    r = cli("train", "--out", out, "--resume")  # its 1 epoch is done: nothing to continue
    assert r.returncode == 2 and "is at epoch 1 already: pass --epochs above 1" in r.stderr
    # the same flags as saved (as pretrained.build passes them) and a device to move the run to are fine
    r = cli("train", *first, "--resume", "--epochs", "2", "--device", "cpu")
    assert r.returncode == 0, r.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["epoch"] == 2 and config["train"]["device"] == "cpu" and config["model"]["hidden"] == [32]


@pytest.mark.slow
def test_eval_scores_prior_samples_and_saves_what_the_app_lists(cli, tmp_path):
    from explorer.report import report_card

    out = tmp_path / "small-aae"
    r = cli("train", "--model", "aae", "--hidden", "32", "--disc-hidden", "16", "--epochs", "2", "--limit", "256",
            "--out", out, "--quiet")  # the bundled MNIST split
    assert r.returncode == 0, r.stderr
    assert report_card({"runs/small-aae": out}) == ""  # nothing measured yet
    r = cli("eval", out, "--json", "--save")
    assert r.returncode == 0, r.stderr
    results = json.loads(r.stdout)
    assert 0 <= results["confident_share"] <= 1 and 1 <= results["inception_score"] <= 10
    epochs = [row for row in map(json.loads, (out / "history.jsonl").read_text().splitlines()) if row["kind"] == "epoch"]
    assert len(epochs) == 2 and results["train_seconds"] == round(sum(row["seconds"] for row in epochs), 1)
    assert json.loads((out / "metrics.json").read_text())["eval"] == results
    row = (f"| small-aae | AAE | 2 | — | {results['recon_bce']:.1f} | {100 * results['knn_accuracy']:.0f}% "
           f"| {100 * results['confident_share']:.0f}% | {100 * results['prior_holes']:.0f}% | — | gaussian prior "
           f"| 2 | 0 | 2,000 |")  # the columns a class reads first, then the rest
    assert report_card({"runs/small-aae": out}).splitlines()[2] == row
    r = cli("eval", out, "--json", "--classifier", "")
    assert r.returncode == 0 and "confident_share" not in json.loads(r.stdout)
    r = cli("eval", out, "--classifier", tmp_path / "no-classifier")
    assert r.returncode != 0 and "no-classifier" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_ctrl_c_says_which_epoch_was_kept_and_how_to_continue(cli, tmp_path):
    import signal
    import time

    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "trainer", "train", "--model", "vae", "--hidden", "64", "--epochs",
                             "500", "--limit", "2000", "--out", str(out), "--quiet"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            # a shell's background job ignores SIGINT, and a child inherits that: let Ctrl+C in
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.time() + 120
        while not (out / "optimizer.safetensors").exists() and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    kept = C.resume_epoch(out)
    assert kept and f"{out} keeps epoch {kept}. Continue with: python -m trainer train --out {out} --resume" in err
    r = cli("train", "--out", out, "--resume", "--epochs", kept + 1, "--quiet")  # the printed command works
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "config.json").read_text())["epoch"] == kept + 1


@pytest.mark.parametrize("fix,message", [
    ("labels255", "train-labels-idx1-ubyte: a label of 255, but there are 10 classes"),
    ("empty", "the data holds 0 training and 20 test images; training needs at least one of each"),
    ("negative", "images of 4294967268x4294967268 pixels; expected sides of 1 to 512"),
])
def test_bad_training_data_is_one_line_not_a_traceback(cli, tmp_path, fix, message):
    from test_hardening import write_idx_set

    write_idx_set(tmp_path / "data", fix)
    r = cli("train", "--model", "cvae", "--hidden", "16", "--epochs", "1", "--data", tmp_path / "data",
            "--out", tmp_path / "run", "--quiet")
    assert r.returncode == 2 and message in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_new_run_takes_the_datas_image_size(cli, tmp_path):
    """32x32 IDX files once gave an internal error: the model was built for 28x28."""
    from test_hardening import write_idx_set

    write_idx_set(tmp_path / "data", "32x32")
    r = cli("train", "--hidden", "16", "--epochs", "1", "--data", tmp_path / "data", "--out", tmp_path / "run",
            "--quiet")
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "run" / "config.json").read_text())["model"]["image_size"] == [32, 32]
    r = cli("train", "--arch", "conv", "--epochs", "1", "--data", tmp_path / "data", "--out", tmp_path / "conv")
    assert r.returncode == 2 and "the conv arch expects 28x28 images, got (32, 32)" in r.stderr
