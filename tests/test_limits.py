"""Memory, disk and slots a stranger cannot take: nothing is built before a config's size is checked, request bodies
are capped, echoed values are cut, sessions have upload caps, idle jobs give their slot back, damaged run folders
are skipped, and private handlers check what they are sent."""
from __future__ import annotations

import http.client
import json
import shutil
import time
import urllib.request
import uuid
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from test_run_folders import tiny_run
from trainer import checkpoint as C


def rss_mb(pid: int) -> float:
    line = next(line for line in open(f"/proc/{pid}/status") if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def raw_call(url: str, label: str, data: list, event: str = "click") -> dict:
    """Call the handler behind the component labelled ``label`` as the page does: POST /gradio_api/queue/join
    with its fn_index, then read the event stream. Handlers without an API name are reachable this way too."""
    config = json.load(urllib.request.urlopen(url + "config", timeout=30))
    ids = [c["id"] for c in config["components"] if c.get("props", {}).get("value") == label]
    dep = next(d for d in config["dependencies"] if any(t[0] in ids and t[1] == event for t in d["targets"]))
    session = uuid.uuid4().hex
    body = {"data": data, "fn_index": dep["id"], "session_hash": session, "event_data": None, "trigger_id": ids[0]}
    urllib.request.urlopen(urllib.request.Request(url + "gradio_api/queue/join", json.dumps(body).encode(),
                                                  {"Content-Type": "application/json"}), timeout=30)
    with urllib.request.urlopen(url + f"gradio_api/queue/data?session_hash={session}", timeout=60) as stream:
        for line in stream:
            if line.startswith(b"data: "):
                message = json.loads(line[6:])
                if message.get("msg") == "process_completed":
                    return message
    raise AssertionError("the event stream ended without a result")


# -- Config size: checked before anything is built ----------------------------------------------------------
@pytest.mark.parametrize("change,error", [
    (dict(hidden=[20000, 20000]), "hidden must be 1 to 8 whole numbers"),
    (dict(hidden=[8192] * 8), "parameters, more than the 50,000,000 allowed"),
    (dict(hidden=[128]), "tensors do not match the model|has shape"),  # in bounds, but not these weights
])
def test_no_model_is_built_before_the_config_is_checked_against_the_weights_header(tmp_path, tiny_zoo, monkeypatch,
                                                                                   change, error):
    folder = tmp_path / "run"
    shutil.copytree(tiny_zoo / "vae-2d", folder)
    config = json.loads((folder / "config.json").read_text())
    config["model"].update(change)
    (folder / "config.json").write_text(json.dumps(config))

    def never(*args):
        raise AssertionError("a model was built before the checks")

    monkeypatch.setattr(C, "build_model", never)
    with pytest.raises(C.CheckpointError, match=error):
        C.load(folder)


# -- Idle jobs: a job nobody watches gives its slot back ----------------------------------------------------
def test_a_job_nobody_asks_about_stops_and_frees_its_slot(tmp_path):
    from explorer.jobs import JobManager
    from trainer.config import ModelConfig, TrainConfig
    from trainer.data import load_dataset

    jobs = JobManager(tmp_path, total=2, idle_timeout=1.5)
    data = load_dataset(None)  # 8,000 images: 50 epochs take far longer than the test
    config = dict(model_config=ModelConfig(hidden=(16,)), train_config=TrainConfig(epochs=50, batch_size=64),
                  data=data)
    watched, gone = jobs.start("a", **config, name="watched"), jobs.start("b", **config, name="gone")
    deadline = time.time() + 20
    while not gone.done and time.time() < deadline:
        jobs.get(watched.id, "a")  # the page of "a" polls; the client of "b" went away
        time.sleep(0.2)
    assert gone.status == "stopped" and "nobody asked about this job" in gone.message
    assert not watched.done and [j.id for j in jobs.running()] == [watched.id]  # a slot is free again
    jobs.start("c", **config, name="next")  # and another user gets it
    jobs.stop(watched.id, "a")
    for job in jobs.jobs_of("a") + jobs.jobs_of("b") + jobs.jobs_of("c"):
        job.stop_event.set()
        job.thread.join(60)


# -- Request bodies: capped, and echoed values cut -----------------------------------------------------------
def test_a_huge_request_body_gets_413_before_it_is_read_and_the_server_keeps_serving(app_server):
    from gradio_client import Client

    host, port = app_server.url.split("//")[1].rstrip("/").split(":")
    before = rss_mb(app_server.proc.pid)
    c = http.client.HTTPConnection(host, int(port), timeout=30)
    c.putrequest("POST", "/gradio_api/queue/join")
    c.putheader("Content-Type", "application/json")
    c.putheader("Content-Length", str(400 * 2**20))  # 400 MB announced; not one byte of it sent
    c.endheaders()
    response = c.getresponse()
    assert response.status == 413 and b"request body too large" in response.read()
    c = http.client.HTTPConnection(host, int(port), timeout=30)  # a chunked body has no length to refuse early
    c.putrequest("POST", "/gradio_api/queue/join")
    c.putheader("Content-Type", "application/json")
    c.putheader("Transfer-Encoding", "chunked")
    c.endheaders()
    try:
        for _ in range(64):  # 4 MB in 64 KB chunks
            c.send(b"10000\r\n" + b"x" * 65536 + b"\r\n")
        c.send(b"0\r\n\r\n")
    except OSError:
        pass  # the server answered and closed
    assert c.getresponse().status == 413
    assert rss_mb(app_server.proc.pid) - before < 50
    client = Client(app_server.url, verbose=False)
    assert client.predict(["pretrained/ae-2d"], 0, 0.0, 0.0, "umap", "auto", api_name="/decode")


def test_an_echoed_value_is_cut_in_the_message_and_the_log(app_server):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    log_before = app_server.log.stat().st_size
    with pytest.raises(AppError) as error:
        Client(app_server.url, verbose=False).predict(["k" * 60_000], 0, 0.0, 0.0, "umap", "auto",
                                                      api_name="/decode")
    assert "unknown model 'kkkk" in str(error.value) and "(60,000 characters)" in str(error.value)
    assert len(str(error.value)) < 1000
    time.sleep(0.5)
    assert app_server.log.stat().st_size - log_before < 10_000  # a short traceback, not the 60 KB key


# -- Upload limits: a session's uploads are capped, in number and bytes --------------------------------------
def test_a_session_may_keep_a_few_uploads_and_a_few_hundred_megabytes(tiny_zoo, tmp_path, monkeypatch):
    import gradio as gr

    from explorer import uploads
    from explorer.ui import add_model
    from explorer.ui.session import Session

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    monkeypatch.setattr(add_model, "MAX_UPLOADS", 3)
    files = [str(tiny_zoo / "vae-2d" / name) for name in ("config.json", "model.safetensors")]
    size = sum(Path(f).stat().st_size for f in files)
    session, request = Session(), SimpleNamespace(session_hash="caps")
    for _ in range(3):
        assert "Loaded" in add_model.upload(files, [], session, request)["status"]
    with pytest.raises(gr.Error, match="this session holds 3 uploaded models, the most it may keep"):
        add_model.upload(files, [], session, request)
    session = Session()
    monkeypatch.setattr(uploads, "SESSION_BYTES", int(2.5 * size))
    for _ in range(2):
        add_model.upload(files, [], session, request)
    with pytest.raises(gr.Error, match="this upload may still use on the server"):
        add_model.upload(files, [], session, request)
    assert len(list(Path(session.upload_dir).iterdir())) == 2  # the refused one left nothing


# -- Run folder uploads: a run folder's own files upload as they are -----------------------------------------
def test_a_run_folder_uploads_with_its_own_files_and_its_name(app_server, tmp_path):
    from gradio_client import Client, handle_file

    run = tiny_run(tmp_path / "vae-b4", "vae")
    (run / "notes.json").write_text("{}")
    client = Client(app_server.url, verbose=False)
    with zipfile.ZipFile(tmp_path / "vae-b4.zip", "w") as zf:
        for path in sorted(run.iterdir()):
            zf.write(path, f"vae-b4/{path.name}")
    _, message = client.predict([handle_file(str(tmp_path / "vae-b4.zip"))], [], api_name="/upload")
    assert message.startswith("Loaded **upload: vae-b4**.")
    assert "Ignored vae-b4/notes.json, vae-b4/optimizer.safetensors" in message
    loose = [run / name for name in ("config.json", "model.safetensors", "history.jsonl", "metrics.json",
                                     "optimizer.safetensors", "notes.json")]
    choices, message = client.predict([handle_file(str(p)) for p in loose], [], api_name="/upload")
    assert "Loaded **upload: vae-2d**." in message and "Ignored optimizer.safetensors, notes.json" in message


# -- Damaged run folders: one does not break the model list for everyone -------------------------------------
def test_damaged_run_folders_are_skipped_and_reported(app_server, tmp_path, monkeypatch):
    from gradio_client import Client

    from explorer.registry import Registry
    from explorer.report import report_card
    from explorer.ui import header, models

    runs = app_server.registry.runs
    good = tiny_run(runs / "fine-run", "ae")
    damaged = {"deep-config": "[" * 100_000 + "]" * 100_000, "huge-number": '{"format_version": ' + "9" * 5000 + "}",
               "not-json": "{oops", "a-list": "[1, 2]"}
    for name, text in damaged.items():
        shutil.copytree(good, runs / name)
        (runs / name / "config.json").write_text(text)
    try:
        registry = Registry(pretrained=app_server.registry.pretrained, runs=runs)
        found = registry.available()
        assert "runs/fine-run" in found and not set(found) & {f"runs/{n}" for n in damaged}
        assert set(registry.skipped) == {f"runs/{n}" for n in damaged}
        assert "nested too deeply" in registry.skipped["runs/deep-config"]
        assert str(runs) not in " ".join(registry.skipped.values())
        report_card(found)
        monkeypatch.setattr(models, "REGISTRY", registry)
        assert "*Not listed (their files cannot be read):*\n- runs/a-list: " in header.report_markdown()
        client = Client(app_server.url, verbose=False)
        out = client.predict(["pretrained/ae-2d", "runs/fine-run"], "umap", "none", True, api_name="/load_models")
        assert "fine-run" in out[2]  # the status line
    finally:
        for name in damaged:
            shutil.rmtree(runs / name)


# -- Private handlers: they check what they are sent; answers hold no server paths ---------------------------
def test_show_run_reached_through_the_raw_queue_takes_only_a_saved_runs_name(app_server):
    tiny_run(app_server.registry.runs / "shown-run", "vae")
    answers = {}
    for name in ("/etc", "/no/such/folder", "../pretrained/vae-2d", str(app_server.registry.runs / "shown-run")):
        answer = raw_call(app_server.url, "Show curves", [name])
        assert not answer["success"]
        answers[name] = answer["output"]["error"]
    assert set(answers.values()) == {"choose a saved run from the list (no run {} under runs/)"
                                     .format(repr(name)) for name in answers} and len(answers) == 4
    assert all("exist" not in text and "not found" not in text for text in answers.values())  # no file oracle
    assert raw_call(app_server.url, "Show curves", ["shown-run"])["success"]


def test_train_status_holds_no_server_paths(app_server):
    from gradio_client import Client

    from test_hardening import train_args

    client = Client(app_server.url, verbose=False)
    job_id = client.predict(*train_args(name="no-paths", epochs=1, limit=128), api_name="/train_start")[0]
    deadline = time.time() + 120
    while (status := client.predict(job_id, 0, api_name="/train_status"))["status"] not in ("finished", "failed"):
        assert time.time() < deadline
        time.sleep(0.5)
    text = json.dumps(status)
    assert status["run"] == "runs/no-paths"
    for path in (app_server.registry.runs, app_server.tmp, Path(__file__).resolve().parents[1]):
        assert str(path) not in text


def test_an_owner_id_from_the_browser_is_taken_only_in_the_form_the_app_makes():
    from explorer.ui.header import remember_owner
    from explorer.ui.session import Session

    request = SimpleNamespace(session_hash=None)
    for forged in ("x" * 1_000_000, {"owner": 1}, "../../etc", 12):
        session = Session()
        mine = session.owner
        assert remember_owner(forged, session, request)["owner"] == mine
    session = Session()
    assert remember_owner("ab" * 16, session, request)["owner"] == "ab" * 16  # a reload's own id
