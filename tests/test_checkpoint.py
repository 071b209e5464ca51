import json
import os
import pickle
import struct
import time

import pytest
import torch
from safetensors.torch import save_file

from trainer import checkpoint as C
from trainer.config import ModelConfig, TrainConfig
from trainer.train import new_model

CFG = ModelConfig(model="vae", hidden=(32,), latent_dim=2)


@pytest.fixture
def run_dir(tmp_path):
    model = new_model(CFG, seed=3)
    C.save(tmp_path / "run", model, train_config=TrainConfig(), dataset={"name": "mnist", "classes": list("0123456789")},
           epoch=1, metrics={"test_loss": 1.0}, history=[{"kind": "epoch", "epoch": 1}])
    return tmp_path / "run"


def test_round_trip_rebuilds_from_config_alone(run_dir):
    run = C.load(run_dir)
    original = new_model(CFG, seed=3)
    for key, value in original.state_dict().items():
        assert torch.equal(run.model.state_dict()[key], value)
    assert run.model_config == CFG and run.epoch == 1 and run.classes == list("0123456789")
    assert run.metrics == {"test_loss": 1.0} and C.read_history(run_dir) == [{"kind": "epoch", "epoch": 1}]
    assert not run.model.training
    assert sorted(p.name for p in run_dir.iterdir()) == ["config.json", "history.jsonl", "metrics.json",
                                                         "model.safetensors"]


class Boom:
    """Unpickling this would create a file: proof that no code from a checkpoint runs."""

    def __reduce__(self):
        return (open, (os.environ["BOOM_PATH"], "w"))


def test_pickle_renamed_to_safetensors_is_refused_and_not_run(run_dir, tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    monkeypatch.setenv("BOOM_PATH", str(marker))
    (run_dir / "model.safetensors").write_bytes(pickle.dumps(Boom()))
    with pytest.raises(C.CheckpointError, match="pickle"):
        C.load(run_dir)
    assert not marker.exists()


def test_torch_save_zip_is_refused(run_dir):
    torch.save({"w": torch.zeros(2)}, run_dir / "model.safetensors")
    with pytest.raises(C.CheckpointError, match="PyTorch pickle"):
        C.load(run_dir)


def test_wrong_header(run_dir):
    (run_dir / "model.safetensors").write_bytes(struct.pack("<Q", 4) + b"nope" + b"\0" * 16)
    with pytest.raises(C.CheckpointError, match="header is not JSON"):
        C.load(run_dir)
    (run_dir / "model.safetensors").write_bytes(b"GIF89a" + b"\0" * 100)
    with pytest.raises(C.CheckpointError, match="not a safetensors file"):
        C.load(run_dir)


def test_truncated(run_dir):
    path = run_dir / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-50])
    with pytest.raises(C.CheckpointError, match="truncated"):
        C.load(run_dir)


def test_missing_and_extra_tensors(run_dir):
    tensors, _ = C.read_safetensors(run_dir / "model.safetensors")
    first = sorted(tensors)[0]
    save_file({k: v for k, v in tensors.items() if k != first}, run_dir / "model.safetensors")
    with pytest.raises(C.CheckpointError, match=f"missing: \\['{first}'\\]"):
        C.load(run_dir)
    save_file({**tensors, "backdoor.weight": torch.zeros(1)}, run_dir / "model.safetensors")
    with pytest.raises(C.CheckpointError, match="unexpected: \\['backdoor.weight'\\]"):
        C.load(run_dir)


def test_an_aae_loads_without_its_discriminator_but_not_with_part_of_it(tmp_path):
    """The discriminator is only needed to train (the zoo leaves it out); a partial one is a damaged file."""
    cfg = ModelConfig(model="aae", hidden=(32,), latent_dim=2, disc_hidden=(16,))
    model = new_model(cfg, seed=3)
    C.save(tmp_path, model, train_config=TrainConfig(), dataset={}, epoch=1)
    tensors, _ = C.read_safetensors(tmp_path / "model.safetensors")
    save_file({k: v for k, v in tensors.items() if not k.startswith("discriminator.")}, tmp_path / "model.safetensors")
    loaded = C.load(tmp_path).model
    for part in ("encoder", "decoder"):
        for key, value in getattr(model, part).state_dict().items():
            assert torch.equal(getattr(loaded, part).state_dict()[key], value)
    z = torch.zeros(3, 2)
    assert torch.equal(loaded.decode(z), model.eval().decode(z))
    save_file({k: v for k, v in tensors.items() if k != "discriminator.0.weight"}, tmp_path / "model.safetensors")
    with pytest.raises(C.CheckpointError, match="missing: \\['discriminator.0.weight'\\]"):
        C.load(tmp_path)


def test_shape_mismatch(run_dir):
    tensors, _ = C.read_safetensors(run_dir / "model.safetensors")
    key = "decoder.net.0.weight"
    tensors[key] = torch.zeros(7, 7)
    save_file(tensors, run_dir / "model.safetensors")
    with pytest.raises(C.CheckpointError, match=f"{key} has shape \\(7, 7\\)"):
        C.load(run_dir)


def test_nan_weights(run_dir):
    tensors, _ = C.read_safetensors(run_dir / "model.safetensors")
    tensors["decoder.net.0.bias"][0] = float("nan")
    save_file(tensors, run_dir / "model.safetensors")
    with pytest.raises(C.CheckpointError, match="NaN"):
        C.load(run_dir)


def edit_config(run_dir, change):
    cfg = json.loads((run_dir / "config.json").read_text())
    change(cfg)
    (run_dir / "config.json").write_text(json.dumps(cfg))


@pytest.mark.parametrize("change,match", [
    (lambda c: c["model"].update(model="diffusion"), "unknown model 'diffusion'"),
    (lambda c: c.update(format_version=99), "format version 99 is newer"),
    (lambda c: c.update(format="something-else"), "not a Latent Explorer checkpoint"),
    (lambda c: c["model"].update(exec="rm -rf /"), "unknown keys \\['exec'\\]"),
    (lambda c: c.update(extra=1), "unknown keys \\['extra'\\]"),
    (lambda c: c["model"].update(latent_dim="two"), "latent_dim has the wrong type"),
])
def test_bad_config(run_dir, change, match):
    edit_config(run_dir, change)
    with pytest.raises(C.CheckpointError, match=match):
        C.load(run_dir)


def test_config_not_json_and_missing_folder(run_dir, tmp_path):
    (run_dir / "config.json").write_text("{oops")
    with pytest.raises(C.CheckpointError, match="not valid JSON"):
        C.load(run_dir)
    with pytest.raises(C.CheckpointError, match="no such checkpoint folder"):
        C.load(tmp_path / "missing")


def test_atomic_write_keeps_old_file_when_interrupted(run_dir, monkeypatch):
    before = (run_dir / "model.safetensors").read_bytes()

    def fail(*args):
        raise KeyboardInterrupt  # a kill between writing the temp file and renaming it

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(KeyboardInterrupt):
        C.save(run_dir, new_model(CFG, seed=9), train_config=TrainConfig(), dataset={}, epoch=2)
    monkeypatch.undo()
    assert (run_dir / "model.safetensors").read_bytes() == before
    assert C.load(run_dir).epoch == 1
    assert not [p for p in run_dir.iterdir() if p.name.endswith(".tmp")]


def test_save_removes_temp_files_a_killed_writer_left(run_dir):
    """SIGKILL inside atomic_write leaves its temp file (no handler runs); the next save clears ours, not others'."""
    stale = run_dir / ".optimizer.safetensors.k1ll3d.tmp"
    stale.write_bytes(b"half a file")
    foreign = run_dir / ".notes.txt.keep.tmp"
    foreign.write_text("not ours")
    C.save(run_dir, new_model(CFG, seed=4), train_config=TrainConfig(), dataset={}, epoch=2)
    assert not stale.exists() and foreign.exists() and C.load(run_dir).epoch == 2


@pytest.mark.parametrize("first_bytes", [b"\x80", b"PK"])
def test_real_safetensors_whose_length_looks_like_a_pickle_or_zip_load(tmp_path, first_bytes):
    """The header length is little-endian: a real file may start with 0x80 or 'PK' and must still load."""
    from safetensors.torch import save

    target = int.from_bytes(first_bytes + b"\0" * (8 - len(first_bytes)), "little")
    for pad in range(0, 20000):
        raw = save({"w": torch.ones(3)}, metadata={"pad": "x" * pad})
        if raw[:len(first_bytes)] == first_bytes and int.from_bytes(raw[:8], "little") == target:
            break
    else:
        pytest.fail("could not build such a file")
    (tmp_path / "m.safetensors").write_bytes(raw)
    tensors, meta = C.read_safetensors(tmp_path / "m.safetensors")
    assert torch.equal(tensors["w"], torch.ones(3)) and len(meta["pad"]) == pad


def test_loading_removes_a_killed_writers_stale_temp_files_but_not_a_live_ones(run_dir):
    """The explorer only reads a run folder (a job may be writing it): it removes temp files older than a live save
    could keep one."""
    stale, live = run_dir / ".model.safetensors.dead.tmp", run_dir / ".history.jsonl.busy.tmp"
    stale.write_bytes(b"half")
    live.write_bytes(b"being written")
    old = time.time() - C.STALE_TEMP_SECONDS - 1
    os.utime(stale, (old, old))
    C.load(run_dir)
    assert not stale.exists() and live.exists()
    assert C.open_for_training(run_dir) == "removed the temp files of an interrupted save" and not live.exists()
