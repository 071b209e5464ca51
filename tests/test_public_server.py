"""What anonymous visitors can make a public server keep, and what they are told: bounds on indices, uploads,
models in memory, runs, jobs and Gradio's upload route, each refused with a message naming the thing and its limit,
and never the server's paths."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ["pretrained/ae-2d", "pretrained/vae-2d", "pretrained/aae-mixture10-2d"]


def settings_in(env: dict, code: str) -> str:
    """What ``code`` prints after importing explorer.settings with ``env`` added to the environment."""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


# -- 3. a read-only start --------------------------------------------------------------------------------------
def test_a_read_only_runs_folder_is_explained_without_the_servers_paths(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("")  # a folder cannot be made inside a file, even by root
    wanted = blocked / "runs"
    code = ("import json, explorer.settings as s; from explorer.ui import train; "
            "print(json.dumps([s.RUNS_NOTE, train.notes(), str(s.RUNS)]))")
    note, notes, runs = json.loads(settings_in({"LATENT_EXPLORER_RUNS": str(wanted)}, code))
    assert "not writable here, so runs are saved in a temporary folder" in note
    for said in (note, *notes):
        assert str(wanted) not in said and str(tmp_path) not in said and runs not in said and "/" not in said, said


# -- 9. indices per request --------------------------------------------------------------------------------------
def test_a_request_names_at_most_a_few_dozen_test_digits():
    from explorer import actions
    from trainer.data import bundled_test_split

    test = bundled_test_split()
    many = ", ".join(str(k) for k in range(3000))
    with pytest.raises(ValueError, match=r"at most 40 test digits at once, got 3,000 indices"):
        actions.pick_test_digits(test, "by index", indices=many)
    images, _, idx = actions.pick_test_digits(test, "by index", indices=", ".join(map(str, range(40))))
    assert len(images) == len(idx) == 40


def test_style_grid_and_reconstruct_refuse_more_indices_with_a_message(app_server):
    from gradio_client import Client

    client = Client(app_server.url, verbose=False)
    many = ",".join(str(k) for k in range(41))
    for call in (lambda: client.predict(["pretrained/cvae-2d"], many, api_name="/style_grid"),
                 lambda: client.predict(DEFAULT, "by index", many, None, 0, "umap", api_name="/reconstruct")):
        with pytest.raises(Exception, match="at most 40 test digits at once, got 41 indices"):
            call()


# -- 6. uploads: parameters per upload, weights in memory server-wide, exports, UMAP fits one at a time ------
def wide_upload(tiny_zoo, folder: Path, hidden: list[int]) -> list[Path]:
    """The tiny vae-2d's files with its config's widths changed (the weights no longer fit: only the size check
    may refuse it first)."""
    import shutil

    shutil.copytree(tiny_zoo / "vae-2d", folder)
    config = json.loads((folder / "config.json").read_text())
    config["model"]["hidden"] = hidden
    (folder / "config.json").write_text(json.dumps(config))
    return [folder / "config.json", folder / "model.safetensors"]


def test_an_uploaded_model_has_at_most_the_parameters_the_server_allows(tiny_zoo, tmp_path, monkeypatch):
    from explorer import registry, settings
    from explorer.registry import ModelLoadError
    from explorer.uploads import load_upload
    from trainer.data import bundled_test_split

    monkeypatch.setattr(settings, "UPLOAD_PARAMETERS", 10_000_000)
    session = tmp_path / "session"
    session.mkdir()
    files = wide_upload(tiny_zoo, tmp_path / "wide", [4096, 2048])  # about 25M parameters: a 40 MB zip of zeros
    held = registry.MODELS.held_bytes()  # what earlier tests in this process loaded
    with pytest.raises(ModelLoadError, match=r"config.json: this model has [\d,]+ parameters; a model uploaded "
                                             r"here may have at most 10,000,000"):
        load_upload(files, session, bundled_test_split(), 1)
    assert list(session.iterdir()) == [] and registry.MODELS.held_bytes() - held < 100 * 2**20


def test_models_in_memory_are_bounded_server_wide_and_read_again_when_used(tiny_zoo, tmp_path, monkeypatch):
    """Uploads of three sessions over a bound of about two models' weights: the least recently used give their
    weights back, and decode as before once used again; a model whose folder is gone says so."""
    import shutil

    import numpy as np

    from explorer import registry
    from explorer.registry import ModelLoadError, ModelPool, model_bytes
    from explorer.uploads import load_upload
    from trainer.data import bundled_test_split

    test = bundled_test_split()
    z = np.array([[0.5, -1.0]], np.float32)
    alone = registry.make_entry("x", "x", tiny_zoo / "vae-2d", test)
    one, expected = model_bytes(alone.run.model), alone.decode(z)
    pool = ModelPool(int(2.5 * one))
    monkeypatch.setattr(registry, "MODELS", pool)
    entries = []
    for k in range(3):
        session = tmp_path / f"session-{k}"
        session.mkdir()
        files = [tiny_zoo / "vae-2d" / n for n in ("config.json", "model.safetensors")]
        entries.append(load_upload(files, session, test, 1)[0])
    assert pool.held_bytes() <= 2.5 * one
    assert [e.run.model is None for e in entries] == [True, False, False]  # the least recently used
    assert np.array_equal(entries[0].decode(z), expected)  # read again from its folder
    assert entries[1].run.model is None and pool.held_bytes() <= 2.5 * one
    shutil.rmtree(entries[1].run.path)  # its session ended meanwhile
    with pytest.raises(ModelLoadError, match="upload: vae-2d is no longer on this server"):
        entries[1].decode(z)
    pool.drop(entries[2])
    assert entries[2].run.model is None and entries[2] not in pool.entries()


def test_exports_of_models_nobody_shows_are_removed(tmp_path):
    import os
    import time

    from explorer import onnx_export

    old = time.time() - 3600
    for name in ("kept.onnx", "gone.onnx", "gone.onnx.data", "fresh.onnx"):
        (tmp_path / name).write_bytes(b"x")
        if name != "fresh.onnx":
            os.utime(tmp_path / name, (old, old))
    assert sorted(onnx_export.sweep(tmp_path, {"kept"}, older_than=900)) == ["gone.onnx", "gone.onnx.data"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh.onnx", "kept.onnx"]


def test_an_ended_sessions_upload_leaves_memory_and_its_export_goes(tiny_zoo, tmp_path, monkeypatch):
    import os
    import time

    from explorer import janitor, registry
    from explorer.jobs import JobManager
    from explorer.registry import ModelPool, Registry
    from explorer.uploads import load_upload
    from explorer.ui.session import Session
    from trainer.data import bundled_test_split

    monkeypatch.setattr(registry, "MODELS", ModelPool(2**30))
    monkeypatch.setattr("explorer.janitor.MODELS", registry.MODELS)
    monkeypatch.setattr("explorer.ui.session.MODELS", registry.MODELS)
    monkeypatch.setattr(registry, "start_background", lambda entry: None)  # no real export here
    exports = tmp_path / "exports"
    exports.mkdir()
    session = Session()
    session.upload_dir = str(tmp_path / "session")
    os.makedirs(session.upload_dir)
    files = [tiny_zoo / "vae-2d" / n for n in ("config.json", "model.safetensors")]
    entry, _ = load_upload(files, Path(session.upload_dir), bundled_test_split(), 1)
    session.uploads[entry.key] = entry
    entry.onnx_source = "abc"
    (exports / "abc.onnx").write_bytes(b"x")
    os.utime(exports / "abc.onnx", (time.time() - 3600,) * 2)
    tidy = dict(jobs=JobManager(tmp_path / "runs"), registry=Registry(pretrained=tiny_zoo, runs=tmp_path / "runs"),
                open_owners=set(), exports=exports)
    assert janitor.tidy(**tidy)["exports"] == []  # still shown
    session.forget_files()  # the tab closed
    assert entry.run.model is None and entry not in registry.MODELS.entries()
    assert janitor.tidy(**tidy)["exports"] == ["abc.onnx"]


def test_umap_fits_run_one_at_a_time_in_one_background_thread(monkeypatch):
    import threading
    import time
    from types import SimpleNamespace

    from explorer import registry

    running, most, done = [0], [0], []
    lock = threading.Lock()

    def fit(entry):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.3)
        with lock:
            running[0] -= 1
        done.append(threading.current_thread().name)

    monkeypatch.setattr(registry, "compute_umap", fit)
    entries = [SimpleNamespace(lock=threading.Lock(), config=SimpleNamespace(latent_dim=16), umap_status="")
               for _ in range(4)]
    for entry in entries:
        registry.start_umap(entry)
    assert all(e.umap_status == "computing" for e in entries)
    deadline = time.time() + 30
    while len(done) < 4 and time.time() < deadline:
        time.sleep(0.05)
    assert most[0] == 1 and len(done) == 4 and done[0].startswith("umap-")
    assert threading.current_thread().name not in done  # never on the caller's (a request's) thread


def niceness(task: int = 0) -> int:
    return os.getpriority(os.PRIO_PROCESS, task)


@pytest.mark.skipif(not hasattr(os, "setpriority") or os.getpriority(os.PRIO_PROCESS, 0) >= 19,
                    reason="needs setpriority and room below the lowest priority")
def test_background_work_runs_at_a_lower_priority_than_requests(monkeypatch):
    import threading
    import time

    from explorer import onnx_export, priority, registry

    seen, done = [], threading.Event()
    work = registry.OneAtATime("umap-test")
    work.submit(lambda: (seen.append(niceness(threading.get_native_id())), done.set()))
    assert done.wait(30)
    assert seen == [min(19, niceness() + priority.BACKGROUND_NICE)]
    assert niceness() == niceness(os.getpid())  # the caller's thread (a request's) keeps its priority

    children, lower = [], priority.lower
    monkeypatch.setattr(priority, "lower", lambda pid: (children.append((pid, lower(pid), niceness(pid)))))
    assert onnx_export.export_in_subprocess([]) == []
    assert [(ok, nice) for _, ok, nice in children] == [(True, min(19, niceness() + priority.BACKGROUND_NICE))]


def test_uploads_are_handled_two_at_a_time():
    from explorer.ui import add_model
    from explorer.ui.app import build

    demo = build()
    upload = next(fn for fn in demo.fns.values() if fn.api_name == "upload")
    assert upload.concurrency_limit == add_model.UPLOADS_AT_ONCE == 2


# -- 7. runs: bytes per run and in all, and a public server's retention ----------------------------------------
def small_job(**change):
    from trainer.config import ModelConfig, TrainConfig
    from trainer.data import load_dataset

    return {"model_config": ModelConfig(hidden=(16,)), "data": load_dataset(None, limit=64),
            "train_config": TrainConfig(epochs=1, batch_size=64, limit=64), **change}


def test_a_run_may_take_a_bounded_number_of_bytes_and_all_runs_too(tmp_path):
    from explorer.jobs import JobError, JobManager
    from trainer.config import ModelConfig

    jobs = JobManager(tmp_path, run_bytes=64 * 2**20, runs_bytes=200 * 2**20)
    with pytest.raises(JobError, match=r"this run would take about 4\d\d MB on disk .*a run may take at most 64 MB "
                                       r"here: use smaller dense widths"):
        jobs.start("a", **small_job(model_config=ModelConfig(hidden=(2048,) * 4)))
    (tmp_path / "someone").mkdir()
    (tmp_path / "someone" / "model.safetensors").write_bytes(bytes(199 * 2**20))
    with pytest.raises(JobError, match=r"the server's runs take 199 MB of the 200 MB they may; this run needs about "
                                       r"\d+ MB more"):
        jobs.start("a", **small_job(model_config=ModelConfig(hidden=(512, 256))))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["someone"]  # nothing was started


def test_a_public_server_removes_the_runs_its_visitors_made_after_their_time(tmp_path):
    import time

    from explorer.jobs import ANONYMOUS, JobManager

    teachers = tmp_path / "teachers-run"
    teachers.mkdir()
    (teachers / "config.json").write_text("{}")
    jobs = JobManager(tmp_path, run_ttl=3600)
    job = jobs.start("a", **small_job(), name="visitor")
    job.thread.join(120)
    assert job.status == "finished" and (job.run_dir / ANONYMOUS).is_file()
    assert jobs.expire() == []  # saved just now
    assert jobs.expire(now=time.time() + 3601) == ["visitor"]
    assert not job.run_dir.exists() and teachers.is_dir()  # a run a teacher put there stays
    assert JobManager(tmp_path).expire(now=time.time() + 10**6) == []  # without a retention, nothing goes


def test_the_train_tab_says_what_a_public_server_keeps(tmp_path):
    code = "import json; from explorer.ui import train; print(json.dumps(train.notes()))"
    notes = " ".join(json.loads(settings_in({"SYSTEM": "spaces", "LATENT_EXPLORER_RUNS": str(tmp_path)}, code)))
    assert "Runs trained here are deleted 24 h after their last save" in notes
    assert "A job trains for at most 30 min here" in notes and "says when a slot frees" in notes
    private = " ".join(json.loads(settings_in({"LATENT_EXPLORER_RUNS": str(tmp_path)}, code)))
    assert "deleted" not in private and "at most" not in private


# -- 8. finished jobs leave memory; a race keeps a bounded number of snapshots ---------------------------------
def test_finished_jobs_are_forgotten_once_nobody_watches_them(tmp_path):
    import time

    from explorer.jobs import JobManager

    jobs = JobManager(tmp_path, total=3)
    watched, gone, api = (jobs.start(owner, **small_job(), name=owner) for owner in ("open", "closed", "client"))
    for job in (watched, gone, api):
        job.thread.join(120)
    assert jobs.forget_finished({"open"}) == []  # all asked about just now
    api.last_seen = gone.last_seen = watched.last_seen = time.time() - 3600
    jobs.get(api.id, "client")  # an API client still polls its job
    assert jobs.forget_finished({"open"}) == [gone.id]
    assert [j.id for j in jobs.jobs_of("open")] == [watched.id] and jobs.jobs_of("closed") == []


def test_a_race_lane_keeps_a_bounded_number_of_snapshots_thinned_evenly(small_data):
    from explorer.jobs import Job
    from explorer.races import MAX_SNAPSHOTS, Baton, Lane, LaneStream
    from trainer.config import ModelConfig, TrainConfig
    from trainer.train import new_model

    config = ModelConfig(hidden=(16,))
    lane = Lane(0, "lane", Path("lane"), config, model=new_model(config))
    job = Job("j", "me", "race", Path("lane"), config, TrainConfig(), lanes=[lane])
    stream = LaneStream(job, lane, small_data.test.head(32), 600, Baton(1))
    stream._snapshot(0, 0.0)
    for step in range(1, 20_001):  # a long race of batch 1: once 800 snapshots
        stream.on_step({"step": step, "epoch": step / 8000, "kind": "step"})
    steps = [s[0] for s in lane.snapshots]
    assert len(steps) <= MAX_SNAPSHOTS + 1 and steps[0] == 0 and steps[-1] >= 20_000 - stream.every
    gaps = set(b - a for a, b in zip(steps, steps[1:]))
    assert len(gaps) <= 3, gaps  # evenly spread (the newest gap may be shorter)


# -- 11. a public server bounds a job's wall time, and says when a slot frees ----------------------------------
def test_a_job_stops_at_the_servers_wall_time_and_keeps_its_last_epoch(tmp_path):
    from explorer.jobs import JobManager
    from trainer.config import TrainConfig

    jobs = JobManager(tmp_path, max_seconds=3)
    job = jobs.start("a", **small_job(train_config=TrainConfig(epochs=50, batch_size=1, limit=64)), name="long")
    job.thread.join(120)
    assert job.status == "stopped" and job.message.startswith(
        "stopped: a job may train for 3 s on this server, and this one used it"), job.message
    assert (job.run_dir / "model.safetensors").is_file() or "nothing was saved" in job.message


def test_a_full_server_says_when_a_slot_frees(tmp_path):
    from explorer.jobs import JobError, JobManager
    from trainer.config import TrainConfig

    jobs = JobManager(tmp_path, total=1, max_seconds=600)
    job = jobs.start("a", **small_job(train_config=TrainConfig(epochs=50, batch_size=1, limit=64)), name="long")
    try:
        with pytest.raises(JobError, match=r"the server is already training 1 models for other users: a slot frees "
                                           r"in about \d+ min"):
            jobs.start("b", **small_job(), name="next")
    finally:
        job.stop_event.set()
        job.thread.join(120)


# -- 10. Gradio's upload route: bytes per client and in all ------------------------------------------------------
def test_the_upload_route_takes_a_bounded_number_of_bytes_per_client_and_in_all():
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from explorer.http_limits import BodyLimit, UploadQuota

    async def upload(request):
        return JSONResponse({"got": len(await request.body())})

    app = Starlette(routes=[Route("/gradio_api/upload", upload, methods=["POST"]),
                            Route("/gradio_api/queue/join", upload, methods=["POST"])])
    quota = UploadQuota(per_client=1000, total=2500, window=60)
    client = TestClient(BodyLimit(app, quota=quota, behind_proxy=True))

    def send(who: str, size: int, path: str = "/gradio_api/upload"):
        return client.post(path, content=b"x" * size, headers={"X-Forwarded-For": f"{who}, 10.0.0.1"})

    assert send("a", 600).json() == {"got": 600}
    refused = send("a", 600)
    assert refused.status_code == 429
    assert refused.json()["detail"] == ("uploads from your address: at most 0 MB within 1 min on this server; try "
                                        "again later")
    assert send("b", 900).status_code == 200 and send("c", 900).status_code == 200
    everyone = send("d", 200)
    assert everyone.status_code == 429 and "from everyone" in everyone.json()["detail"]
    assert send("d", 100, "/gradio_api/queue/join").status_code == 200  # only uploads count
    chunked = client.post("/gradio_api/upload", content=iter([b"x" * 500] * 3), headers={"X-Forwarded-For": "e"})
    assert chunked.status_code == 429  # counted as the bytes arrive when no length is declared


@pytest.fixture(scope="module")
def public_server(tmp_path_factory, tiny_zoo):
    """The app as a public Space: small upload quotas, X-Forwarded-For trusted as Hugging Face's proxy sets it."""
    from conftest import start_app, stop_app

    with pytest.MonkeyPatch.context() as patch:
        for name, value in {"SYSTEM": "spaces", "LATENT_EXPLORER_UPLOAD_CLIENT_MB": "3",
                            "LATENT_EXPLORER_UPLOAD_TOTAL_MB": "7", "LATENT_EXPLORER_UPLOAD_PARAMETERS": "1000000",
                            "LATENT_EXPLORER_RUN_MB": "64"}.items():
            patch.setenv(name, value)
        server = start_app(tmp_path_factory.mktemp("public"), tiny_zoo, tmp_path_factory.mktemp("public-runs"))
    yield server
    stop_app(server)


def test_a_public_servers_upload_route_refuses_past_its_quotas(public_server):
    import urllib.error
    import urllib.request
    import uuid

    def upload(who: str, megabytes: int) -> tuple[int, str]:
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"x.zip\"\r\n"
                f"Content-Type: application/zip\r\n\r\n").encode() + bytes(megabytes * 2**20) + \
            f"\r\n--{boundary}--\r\n".encode()
        request = urllib.request.Request(public_server.url + "gradio_api/upload", body, {
            "Content-Type": f"multipart/form-data; boundary={boundary}", "X-Forwarded-For": who})
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    assert upload("198.51.100.1", 2)[0] == 200
    status, said = upload("198.51.100.1", 2)
    assert status == 429 and "uploads from your address: at most 3 MB within 25 min" in said
    assert upload("198.51.100.2", 2)[0] == 200 and upload("198.51.100.3", 2)[0] == 200
    status, said = upload("198.51.100.4", 2)
    assert status == 429 and "at most 7 MB of uploads within 25 min from everyone" in said
    kept = sum(p.stat().st_size for p in public_server.cache.rglob("*") if p.is_file())
    assert kept <= 7 * 2**20, f"Gradio's cache holds {kept:,} bytes"


def test_a_public_server_refuses_big_uploads_and_big_runs_with_their_limits(public_server, tiny_zoo, tmp_path):
    from gradio_client import Client, handle_file

    from conftest import TRAIN_ORDER

    client = Client(public_server.url, verbose=False, headers={"X-Forwarded-For": "198.51.100.9"})
    files = wide_upload(tiny_zoo, tmp_path / "wide", [2048, 512])
    with pytest.raises(Exception, match=r"a model uploaded here may have at most 1,000,000"):
        client.predict([handle_file(str(f)) for f in files], DEFAULT, api_name="/upload")
    values = dict(model="vae", arch="mlp", latent_dim=2, kl_weight=1.0, prior="gaussian", label_guided=False,
                  epochs=1, batch_size=128, lr=1e-3, seed=0, data_choice="bundled", idx_files=None, name="big",
                  limit=0, posterior="diagonal", prior_components=0, lr_schedule="constant", weight_decay=0.0,
                  adv_lr=1e-3, decoder_epochs=0, channels="16,32", hidden="2048,2048,2048,2048")
    with pytest.raises(Exception, match=r"a run may take at most 64 MB here"):
        client.predict(*[values[name] for name in TRAIN_ORDER], api_name="/train_start")
