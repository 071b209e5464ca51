"""The trainer tab: start / watch / stop / resume background jobs and send finished runs to the explorer."""
from __future__ import annotations

import functools
import html
import math
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import gradio as gr

from trainer import checkpoint
from trainer.classifier import scorer_for
from trainer.config import APPLIES_TO, SEED_MAX, ConfigError, ModelConfig, TrainConfig, shown
from trainer.data import DataError, load_run_dataset
from trainer.evaluate import measure_run, save_results

from . import plots, settings
from .jobs import DONE, LIMITS, JobError, JobManager, load_training_data
from .registry import RUNS, SESSION_BYTES, discard_upload, session_room

JOBS = JobManager(RUNS, total=settings.TRAIN_JOBS)
IDX_UPLOAD_LIMIT = 120 * 2**20
OPEN_SESSIONS: dict[str, dict] = {}  # browser session hash -> its state, so closing the tab can clean it up
CHANNELS = {"16,32": (16, 32), "32,64": (32, 64)}  # conv widths offered (the zoo's 2-D conv models use 32-64)
MEASURING = threading.Lock()  # one measurement at a time on the server (about a minute of CPU each)


def _owner(session) -> str:
    return session["owner"]


def _idx_folder(files, session, request=None) -> Path | None:
    if not files:
        return None
    paths = [Path(getattr(f, "name", f)) for f in files]
    size, home = sum(p.stat().st_size for p in paths), session_dir(session, request)
    if size > IDX_UPLOAD_LIMIT:
        raise JobError(f"uploaded data is larger than {IDX_UPLOAD_LIMIT >> 20} MB")
    if size > session_room(home):
        raise JobError(f"uploaded data of {size / 2**20:.0f} MB: this session's files would pass the "
                       f"{SESSION_BYTES >> 20} MB one session may keep on the server; reload the page to start again")
    folder = Path(tempfile.mkdtemp(prefix="idx-", dir=home))
    for p in paths:
        shutil.copyfile(p, folder / Path(p.name).name)
    return folder


def track(session, request) -> None:
    """Map the browser session to its state, so that closing the tab (ui.end_session) can delete its files.
    Done again before every upload: Gradio can fire its unload event while the page lives on."""
    if request is not None and request.session_hash:
        session["hash"] = request.session_hash
        OPEN_SESSIONS[request.session_hash] = session


def session_dir(session, request=None) -> str:
    """The session's folder for uploaded files (the session is tracked first, so closing the tab finds it)."""
    track(session, request)
    if session.get("dir") is None:
        session["dir"] = tempfile.mkdtemp(prefix="latent-explorer-session-")
    return session["dir"]


def whole(value, name: str, default=None) -> int | None:
    """A whole number from a Number box (1.5 is refused, not rounded to 2); blank gives ``default``."""
    if value is None or value == "":
        return default
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not (number and math.isfinite(value) and float(value).is_integer()):
        raise ValueError(f"{name} must be a whole number, got {shown(value)}")
    return int(value)


def dense_widths(text, arch: str) -> tuple[int, ...]:
    """The Advanced accordion's "Dense widths": blank for the default (512,256 for mlp, 256 for conv)."""
    text = str(text or "").strip()
    if not text:
        return (512, 256) if arch == "mlp" else (256,)
    try:
        widths = tuple(int(v) for v in text.split(","))
    except ValueError:
        widths = ()
    if not widths or min(widths) < 1:
        raise ValueError(f"dense widths must be positive whole numbers separated by commas, like 512,256 "
                         f"(got {shown(text)})")
    if arch == "conv" and len(widths) > 1:
        raise ValueError(f"the conv architecture has one dense layer: give one width, like 256 (got {shown(text)})")
    return widths


def train_start(model, arch, latent_dim, kl_weight, prior, label_guided, epochs, batch_size, lr, seed, data_choice,
                idx_files, name, limit, posterior, prior_components, lr_schedule="constant", weight_decay=0.0,
                adv_lr=1e-3, decoder_epochs=0, channels="16,32", hidden="", session=None,
                request: gr.Request = None):
    """Start a background job; returns its id. ``posterior`` (diagonal/full) applies to the VAE and CVAE,
    ``prior_components`` (0 = N(0, I), K = a mixture of K Gaussians fitted to the codes) to the VAE, ``adv_lr`` to
    the AAE/CAAE; the rest (the Advanced accordion) as in ``python -m trainer train``."""
    folder = None
    try:
        if data_choice == "uploaded" and not settings.UPLOADS:
            raise JobError("uploads are turned off on this server: train on the bundled or the full data")
        if channels not in CHANNELS:
            raise ValueError(f"conv channels must be one of {', '.join(CHANNELS)} (got {shown(channels)})")
        options = {"kl_weight": float(kl_weight), "posterior": posterior, "prior": prior,
                   "prior_components": whole(prior_components, "prior components", 0),
                   "label_guided": bool(label_guided)}
        # what the model does not read (the tab hides it) keeps the default, so the saved config says what was used
        options = {key: value for key, value in options.items() if model in APPLIES_TO[key]}
        model_config = ModelConfig(model=model, arch=arch, latent_dim=whole(latent_dim, "latent dim"),
                                   hidden=dense_widths(hidden, arch), channels=CHANNELS[channels], **options)
        train_config = TrainConfig(epochs=whole(epochs, "epochs"), batch_size=whole(batch_size, "batch size"),
                                   lr=float(lr), seed=whole(seed, "seed", 0), lr_schedule=lr_schedule,
                                   weight_decay=float(weight_decay or 0),
                                   adv_lr=float(adv_lr) if model in APPLIES_TO["adv_lr"] else TrainConfig.adv_lr,
                                   decoder_epochs=whole(decoder_epochs, "decoder-only epochs", 0),
                                   limit=whole(limit, "image limit", 0) or None, log_every=5)  # dense live curves
        folder = _idx_folder(idx_files, session, request) if data_choice == "uploaded" else None
        data = load_training_data(data_choice, folder)
        job = JOBS.start(_owner(session), model_config, train_config, data, name=str(name or "").strip(),
                         data_files=folder)
    except (JobError, ConfigError, DataError, ValueError, TypeError, OSError) as e:
        raise gr.Error(discard_upload(folder, e) if folder is not None else str(e)) from None
    session["job"], session["cursor"] = job.id, 0
    note = f"\n\n⚠ {job.data_note}" if job.data_note else ""
    return job.id, f"Started **{job.name}** (job `{job.id}`).{note}", session, gr.Timer(active=True)


RACE_PRESETS = {"AE vs VAE vs AAE": "ae\nvae\naae", "β = 1 vs β = 4": "vae beta=1\nvae beta=4",
                "VAE vs label-guided AAE": "vae\naae prior=mixture10 label_guided=true"}
RACE_OPTIONS = {"beta": "kl_weight", "β": "kl_weight", "kl_weight": "kl_weight", "prior": "prior",
                "posterior": "posterior", "prior_components": "prior_components", "label_guided": "label_guided",
                "latent_dim": "latent_dim"}


def parse_race(text) -> list[dict]:
    """A race's models: a JSON list of option dicts, or one model a line ("vae beta=4", "aae prior=mixture10")."""
    import json

    text = str(text or "").strip()
    if text.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"the race's models are not valid JSON ({e})") from None
        if not isinstance(items, list) or not all(isinstance(i, dict) and "model" in i for i in items):
            raise ValueError('a JSON race is a list of objects with a "model", like [{"model": "vae"}]')
        return items
    items = []
    for line in filter(None, (line.strip() for line in text.splitlines())):
        model, *options = line.split()
        item = {"model": model}
        for option in options:
            key, _, value = option.partition("=")
            if key not in RACE_OPTIONS or not value:
                raise ValueError(f"{shown(option)} in {shown(line)}: expected key=value with a key of "
                                 f"{', '.join(sorted(set(RACE_OPTIONS)))}")
            item[RACE_OPTIONS[key]] = {"true": True, "false": False}.get(value.lower(), value)
        items.append(item)
    return items


def race_start(configs, arch, latent_dim, epochs, batch_size, lr, seed, data_choice="bundled", name="race",
               limit=0, session=None):
    """Start a training race: 2-4 models (``configs``: see parse_race) on the same data, epochs, batches and
    seed, as one job; /train_status and /train_stop serve it like any job."""
    try:
        if data_choice not in ("bundled", "full"):
            raise JobError("a race trains on the bundled or the full data")
        items = parse_race(configs)
        model_configs = []
        for item in items:
            options = {k: v for k, v in item.items() if k != "model"}
            for key in options:
                if key in APPLIES_TO and item["model"] not in APPLIES_TO[key]:
                    raise ValueError(f"{key} applies to the {' and '.join(APPLIES_TO[key])} models, not "
                                     f"{shown(item['model'])}")
            typed = {"kl_weight": float, "prior_components": int, "latent_dim": int}
            options = {k: typed[k](v) if k in typed else v for k, v in options.items()}
            model_configs.append(ModelConfig(model=item["model"], arch=arch, hidden=dense_widths("", arch),
                                             channels=CHANNELS["16,32"], **{"latent_dim": whole(latent_dim,
                                                                                                 "latent dim"),
                                                                            **options}))
        train_config = TrainConfig(epochs=whole(epochs, "epochs"), batch_size=whole(batch_size, "batch size"),
                                   lr=float(lr), seed=whole(seed, "seed"), limit=whole(limit, "limit") or None,
                                   log_every=5)
        data = load_training_data(data_choice)
        job = JOBS.start_race(_owner(session), model_configs, train_config, data, name=str(name or "race"))
    except (JobError, ConfigError, DataError, ValueError, TypeError) as e:
        raise gr.Error(str(e)) from None
    session["job"], session["cursor"] = job.id, 0
    names = ", ".join(f"**{lane.name}**" for lane in job.lanes)
    note = f"\n\n⚠ {job.data_note}" if job.data_note else ""
    return job.id, f"Race started (job `{job.id}`): {names}, taking turns step by step.{note}", session, \
        gr.Timer(active=True)


def shown_options(options, model, arch) -> list:
    """Visibility of each option (an APPLIES_TO key: shown for the models that read it), then of the conv channels
    (for the conv arch), and a run name placeholder for the model."""
    shown = [model in APPLIES_TO[key] for key in options] + [arch == "conv"]
    return [gr.update(visible=v) for v in shown] + [gr.update(placeholder=f"my-{model}")]


def train_status(job_id, since, session):
    """Progress of one of your jobs and its history rows after the first ``since`` rows."""
    try:
        job = JOBS.get(job_id, _owner(session))
    except JobError as e:
        raise gr.Error(str(e)) from None
    rows, cursor = job.rows_since(int(since or 0))
    return {**job.progress(), "rows": rows, "cursor": cursor}


def train_stop(job_id, session):
    try:
        job = JOBS.get(job_id or session.get("job"), _owner(session))
    except JobError as e:
        raise gr.Error(str(e)) from None
    if job.done:
        return f"**{job.name}** has already {job.status}: there is nothing to stop."
    JOBS.stop(job.id, _owner(session))
    return f"Stopping **{job.name}** after the current step; the last finished epoch is kept."


def resume(run_name, epochs, session):
    """Continue a saved run (the /train_resume endpoint: run name, the epoch to train to)."""
    try:
        job = JOBS.resume(_owner(session), run_name, whole(epochs, "resume to epoch", 0))
    except (JobError, ConfigError, DataError, ValueError, checkpoint.CheckpointError) as e:
        raise gr.Error(str(e).replace(str(JOBS.runs), "runs")) from None
    session["job"], session["cursor"] = job.id, 0
    return job.id, f"Resuming **{job.name}** from epoch {job.start_epoch} to {job.train_config.epochs}.", session, \
        gr.Timer(active=True)


def _saved_run(run_name) -> Path:
    """The folder of a run from the Saved runs list (a name only: nothing else on the server is reachable)."""
    if not isinstance(run_name, str) or run_name not in saved_runs():
        raise gr.Error(f"choose a saved run from the list (no run {shown(run_name)} under runs/)")
    return JOBS.folder(run_name)


DOWNLOAD_DIR = Path(tempfile.gettempdir()) / "latent-explorer-downloads"


def download_run(run_name) -> str:
    """A saved run as a .zip that *Add a model* takes back: its folder under the run's name, with the files an
    upload reads (config, weights, metrics, history, embedding; not the 12 MB resume point nor its data copy)."""
    import zipfile

    from .registry import ALLOWED_FILES

    run_dir = _saved_run(run_name)
    if any(job.run_dir == run_dir for job in JOBS.running()):
        raise gr.Error(f"{run_name} is still training: download it when its job has ended (or after Stop)")
    DOWNLOAD_DIR.mkdir(parents=True, exist_ok=True)
    for old in DOWNLOAD_DIR.glob("*.zip"):  # made for earlier requests; Gradio keeps its own copy to send
        if time.time() - old.stat().st_mtime > 900:
            old.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".run-", suffix=".zip", dir=DOWNLOAD_DIR)
    os.close(fd)
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(ALLOWED_FILES):
            if (run_dir / name).is_file():
                zf.write(run_dir / name, f"{run_dir.name}/{name}")
    out = Path(tempfile.mkdtemp(dir=DOWNLOAD_DIR)) / f"{run_dir.name}.zip"  # the file keeps the run's own name
    os.replace(tmp, out)
    return str(out)


def measure(run_name, progress=gr.Progress()):
    """Measure a saved run on its test split, as `python -m trainer eval --save` does; the results go into its
    metrics.json, so the "How good is each model?" table lists it."""
    run_dir = _saved_run(run_name)  # a name from the list only: the results are written into the folder
    if any(job.run_dir == run_dir for job in JOBS.running()):
        raise gr.Error(f"{run_name} is still training: measure it when its job has ended")
    if not MEASURING.acquire(blocking=False):
        raise gr.Error("another run is being measured on this server; try again in a minute")
    try:
        run = checkpoint.load(run_dir)
        data = load_run_dataset(run.dataset, run_dir=run_dir)  # the data it was trained on
        results = measure_run(run, data.train, data.test, scorer_for(run),
                              lambda fraction, what: progress(fraction, desc=f"Measuring {run_name}: {what}"))
        save_results(run, results)
    except (DataError, checkpoint.CheckpointError, OSError) as e:
        raise gr.Error(str(e).replace(str(JOBS.runs), "runs")) from None
    finally:
        MEASURING.release()
    parts = [f"−ELBO {results['neg_elbo']:.1f}" if "neg_elbo" in results else None,
             f"recon BCE {results['recon_bce']:.1f}", f"kNN {results['knn_accuracy']:.3f}",
             f"samples that look like a digit {results['confident_share']:.0%}" if "confident_share" in results
             else None, f"samples in holes {results['prior_holes']:.0%}"]
    return (f"Measured **{run_name}** (epoch {run.epoch}) on {results['test_images']:,} test digits: "
            + ", ".join(p for p in parts if p) + ". The table under *How good is each model?* lists it now.")


def progress_html(p: dict) -> str:
    pct = round(100 * p["fraction"])
    eta = f"ETA {int(p['eta_s']) // 60}:{int(p['eta_s']) % 60:02d}" if p["eta_s"] else ""
    color = {"failed": "#d62728", "diverged": "#d62728", "stopped": "#ff7f0e"}.get(p["status"], "#2ca02c")
    text = (f"{html.escape(p['name'])}: {p['status']} · epoch {p['epoch']}/{p['epochs']} · "
            f"{p['images_per_s']:,.0f} img/s {eta}")
    msg = f"<div style='margin-top:4px'>{html.escape(p['message'])}</div>" if p["message"] else ""
    return (f"<div style='border:1px solid #ccc;border-radius:6px;height:22px;position:relative;background:#f4f4f4'>"
            f"<div style='width:{pct}%;height:100%;background:{color};opacity:.55;border-radius:6px'></div>"
            f"<div style='position:absolute;top:2px;left:8px;font-size:13px'>{text}</div></div>{msg}")


def poll(session):
    """Timer tick: refresh this session's job view; stop the timer when the job is over (and list its run under
    Saved runs, picked, so Measure is one click away)."""
    job_id = session.get("job")
    if not job_id:
        return gr.update(), gr.update(), gr.update(), gr.update(), gr.update(), gr.Timer(active=False)
    try:
        job = JOBS.get(job_id, _owner(session))
    except JobError:
        return gr.update(), gr.update(), gr.update(), gr.update(), gr.update(), gr.Timer(active=False)
    p = job.progress()
    done = p["status"] in DONE  # from the same reading as p: a job ending after it gets one more tick to show it
    rows, _ = job.rows_since(0)
    if job.lanes:
        return (progress_html(p), plots.race_curves(rows, [lane.name for lane in job.lanes]),
                *race_view(job, None, done), gr.Timer(active=not done))
    curves = plots.training_curves(rows, job.model_config.model)
    with job.lock:
        snaps = list(job.snapshots)
    snap = plots.snapshot_scatter(*(snaps[-1][1:] if snaps else (None, None)),
                                  title=f"latent space after epoch {snaps[-1][0]}" if snaps else "waiting for epoch 1")
    first, last = (snaps[0][0], snaps[-1][0]) if snaps else (1, 1)  # a resumed job's snapshots start after epoch 1
    slider = gr.Slider(minimum=first, maximum=max(first + 1, last), value=last, step=1,
                       interactive=done and len(snaps) > 1)
    runs = saved_runs() if done else None
    saved = gr.update(choices=runs, value=job.name if job.name in runs else None) if done else gr.update()
    return progress_html(p), curves, snap, slider, saved, gr.Timer(active=not done)


def race_snaps(job) -> list[tuple[str, list]]:
    with job.lock:
        return [(lane.name, list(lane.snapshots)) for lane in job.lanes]


def race_view(job, index, done):
    """A race's snapshot figure (all models at snapshot ``index``, default the latest), its replay slider and
    the saved runs' list once it is over."""
    lanes = race_snaps(job)
    count = max((len(snaps) for _, snaps in lanes), default=0)
    figure = plots.race_snapshots(lanes, index) if count else plots.snapshot_scatter(None, None, "waiting for step 5")
    slider = gr.Slider(minimum=1, maximum=max(2, count), value=max(1, count), step=1, label="Replay snapshot",
                       interactive=done and count > 1)
    runs = saved_runs() if done else None
    saved = gr.update(choices=runs, value=job.lanes[0].name if job.lanes[0].name in runs else None) if done \
        else gr.update()
    return figure, slider, saved


def replay(epoch, session):
    job_id = session.get("job")
    try:
        job = JOBS.get(job_id, _owner(session))
        wanted = whole(epoch, "epoch", 1)
    except (JobError, ValueError):
        return gr.update()
    if job.lanes:  # a race: the slider runs over its snapshots, every model at once
        return plots.race_snapshots(race_snaps(job), wanted - 1)
    with job.lock:
        snaps = list(job.snapshots)
    if not snaps:
        return gr.update()
    e, xy, labels = min(snaps, key=lambda snap: abs(snap[0] - wanted))  # the slider runs over the snapshots' epochs
    return plots.snapshot_scatter(xy, labels, title=f"latent space after epoch {e}")


def play_step(position, session):
    """Play: the replay slider's next position, until the last snapshot."""
    try:
        job = JOBS.get(session.get("job"), _owner(session))
    except JobError:
        return gr.skip(), gr.Timer(active=False)
    count = max((len(snaps) for _, snaps in race_snaps(job)), default=0) if job.lanes else len(job.snapshots)
    last = count if job.lanes else (job.snapshots[-1][0] if job.snapshots else 1)
    nxt = int(position or 0) + 1
    return (min(nxt, last), gr.Timer(active=nxt < last))


def saved_runs() -> list[str]:
    """Names of the runs under runs/ (folders with a config.json), newest first."""
    if not JOBS.runs.is_dir():
        return []
    runs = []
    for p in JOBS.runs.iterdir():
        try:
            if (p / checkpoint.CONFIG).is_file():
                runs.append((-p.stat().st_mtime, p.name))
        except OSError:  # removed meanwhile, or unreadable
            continue
    return [name for _, name in sorted(runs)]


def show_run(run_name):
    run_dir = _saved_run(run_name)
    try:
        cfg = checkpoint.read_config(run_dir)
    except checkpoint.CheckpointError as e:
        raise gr.Error(str(e).replace(str(JOBS.runs), "runs")) from None
    rows = checkpoint.read_history(run_dir)
    model = cfg.get("model") if isinstance(cfg.get("model"), dict) else {}
    return plots.training_curves(rows, model.get("model") if model.get("model") in plots.EPOCH_TERMS else "vae")


def attach(session):
    """After a reload: re-attach to this browser's running or last job."""
    jobs = JOBS.jobs_of(_owner(session))
    if not jobs:
        return "", session, gr.Timer(active=False)
    job = jobs[-1]
    session["job"] = job.id
    return job.id, session, gr.Timer(active=True)


def build_tab(session):
    """Layout and wiring of the Train tab (inside the app's Blocks)."""
    gr.Markdown("Train your own model in the background and watch it learn: the curves update every second and "
                "the latent space is redrawn after every epoch. **Compare** adds it to the other tabs. "
                f"Limits here: up to {LIMITS['epochs']} epochs, latent dim {LIMITS['latent_dim']}, batch "
                f"{LIMITS['batch_size']}; one job per browser, {settings.TRAIN_JOBS} per server.",
                elem_classes=["caption"])
    notes = [note for note in (
        "**Training is turned off on this server** (the teacher set `LATENT_EXPLORER_TRAIN_JOBS=0`): explore the "
        "shipped models in the other tabs." if settings.TRAIN_JOBS == 0 else "",
        settings.RUNS_NOTE[:1].upper() + settings.RUNS_NOTE[1:] + "." if settings.RUNS_NOTE else
        "This is a Hugging Face Space: runs vanish when it restarts, so **Download run** keeps one (and *Add a "
        "model* takes it back)." if settings.ON_SPACE else "") if note]
    if notes:
        gr.Markdown(" ".join(f"⚠ {n}" for n in notes), elem_id="train-note")
    with gr.Row():
        with gr.Column(scale=2, min_width=420):
            with gr.Row():
                start = gr.Button("Start", variant="primary", interactive=settings.TRAIN_JOBS > 0)
                stop = gr.Button("Stop", variant="stop")
                compare = gr.Button("Compare in the explorer")
            with gr.Accordion("Training race: 2-4 models at once, on the same data and seed", open=False,
                              elem_id="race"):
                with gr.Row():
                    race_preset = gr.Dropdown(list(RACE_PRESETS), value="AE vs VAE vs AAE", label="Race",
                                              scale=2)
                    race_btn = gr.Button("Start race", variant="primary", scale=1,
                                         interactive=settings.TRAIN_JOBS > 0)
                race_spec = gr.Textbox(RACE_PRESETS["AE vs VAE vs AAE"], lines=3, max_lines=4,
                                       label="Models, one a line (beta=4, prior=mixture10, posterior=full, …)",
                                       info="they share the architecture, latent dim, epochs, batch, lr, seed and "
                                            "data set below; each saves its own run NAME-1-MODEL, …")
            with gr.Row():
                model = gr.Dropdown(["ae", "vae", "aae", "cvae", "caae"], value="vae", label="Model")
                arch = gr.Dropdown(["mlp", "conv"], value="mlp", label="Architecture")
            with gr.Row():
                latent_dim = gr.Number(value=2, minimum=1, maximum=LIMITS["latent_dim"],
                                       label="Latent dim")
                kl_weight = gr.Number(value=1.0, minimum=0, label="β (KL weight, VAE)")
            with gr.Row() as vae_row:
                posterior = gr.Dropdown(["diagonal", "full"], value="diagonal", label="q(z|x) covariance (VAE)",
                                        info="full: each digit's Gaussian can tilt (correlated dims)")
                prior_components = gr.Dropdown([("N(0, I)", 0), ("10 fitted Gaussians", 10)], value=0,
                                               label="p(z) prior (VAE)",
                                               info="fitted: a mixture refitted to the codes every epoch")
            with gr.Row(visible=False) as aae_row:  # shown_options: only the options the model reads
                prior = gr.Dropdown(["gaussian", "mixture10", "swissroll"], value="gaussian", label="AAE prior")
                label_guided = gr.Checkbox(value=False, label="Label-guided AAE", visible=False)
            with gr.Row():
                epochs = gr.Number(value=5, minimum=1, maximum=LIMITS["epochs"], label="Epochs")
                batch_size = gr.Number(value=128, minimum=1, maximum=LIMITS["batch_size"],
                                       label="Batch size")
            with gr.Row():
                lr = gr.Number(value=1e-3, minimum=1e-6, maximum=1.0, label="Learning rate")
                seed = gr.Number(value=0, minimum=0, maximum=SEED_MAX, label="Seed")
            data_choice = gr.Radio(["bundled", "full"] + ["uploaded"] * settings.UPLOADS, value="bundled",
                                   label="Data",
                                   info="bundled: 8k/2k of the shipped test split; full: an MNIST folder on disk; "
                                        "uploaded: your four IDX files")
            idx_files = gr.File(file_count="multiple", label="IDX files: train/test images and labels",
                                height=130, visible=False)  # shown when "uploaded" is picked
            with gr.Row():
                name = gr.Textbox(label="Run name (folder under runs/)", placeholder="my-vae")
                limit = gr.Number(value=0, minimum=0, label="Use first N images (0 = all)")
            with gr.Accordion("Advanced (as in python -m trainer train)", open=False):
                with gr.Row():
                    lr_schedule = gr.Dropdown(["constant", "cosine"], value="constant", label="lr schedule",
                                              info="cosine: every lr decays to 0 by the end")
                    weight_decay = gr.Number(value=0.0, minimum=0, maximum=1, label="Weight decay",
                                             info="AdamW, encoder/decoder; 0 = Adam")
                with gr.Row():
                    adv_lr = gr.Number(value=1e-3, minimum=1e-6, maximum=1.0, label="Adversarial lr (AAE)",
                                       info="discriminator and generator steps", visible=False)
                    decoder_epochs = gr.Number(value=0, minimum=0, label="Decoder-only epochs",
                                               info="the last N epochs train the decoder alone, codes frozen")
                with gr.Row():
                    channels = gr.Dropdown([("16-32 (faster)", "16,32"), ("32-64 (as vae-2d, aae-2d)", "32,64")],
                                           value="16,32", label="Conv channels", info="widths of the conv architecture",
                                           visible=False)
                    hidden = gr.Textbox(value="", label="Dense widths", placeholder="512,256",
                                        info="encoder order, the decoder mirrors them; blank: 512,256 (mlp), "
                                             "256 (conv)")
        with gr.Column(scale=5):
            job_id = gr.Textbox(label="Job id", interactive=False, max_lines=1)
            message = gr.Markdown("Pick a model and press **Start**: the loss curves and the latent space of the "
                                  "test digits appear here as it trains.")
            bar = gr.HTML()  # below the start message, so the job's latest state reads last
            curves = gr.Plot(label="Training curves", show_label=False)
            with gr.Row():
                snap = gr.Plot(label="Latent space (test digits; PCA when > 2-D)", show_label=False)
                with gr.Column():
                    snap_epoch = gr.Slider(1, 2, value=1, step=1, label="Replay epoch", interactive=False,
                                           info="when a run ends: the latent space after any of its epochs")
                    with gr.Row():
                        play = gr.Button("▶ Play", size="sm", scale=0, min_width=90)
                        replay_gif_btn = gr.Button("Replay as a GIF", size="sm", scale=0, min_width=150)
                        replay_gif = gr.File(label="GIF", scale=1)
                    with gr.Accordion("Saved runs", open=False):
                        with gr.Row(equal_height=True):
                            runs = gr.Dropdown(saved_runs(), label="Runs under runs/", allow_custom_value=True,
                                               scale=5)
                            reload_runs = gr.Button("↻", size="sm", min_width=40, scale=0)
                        with gr.Row():
                            show = gr.Button("Show curves", size="sm")
                            measure_btn = gr.Button("Measure", size="sm")
                            download_btn = gr.Button("Download run (.zip)", size="sm")
                        run_zip = gr.File(label="The run, as Add a model takes it back", visible=False)
                        measure_note = gr.Markdown(min_height=60)  # beside the button: progress, then the numbers
                        with gr.Row():
                            more = gr.Number(value=10, minimum=1, maximum=LIMITS["epochs"],
                                             label="Resume to epoch", min_width=80)
                            resume_btn = gr.Button("Resume", size="sm")
    timer = gr.Timer(1.0, active=False)
    player = gr.Timer(0.4, active=False)  # Play: steps the replay slider
    since = gr.Number(value=0, visible=False)
    status_json = gr.JSON(visible=False)
    inputs = [model, arch, latent_dim, kl_weight, prior, label_guided, epochs, batch_size, lr, seed, data_choice,
              idx_files, name, limit, posterior, prior_components, lr_schedule, weight_decay, adv_lr, decoder_epochs,
              channels, hidden, session]
    start.click(train_start, inputs, [job_id, message, session, timer], api_name="train_start")
    stop.click(train_stop, [job_id, session], [message], api_name="train_stop")
    data_choice.change(lambda choice: gr.update(visible=choice == "uploaded"), data_choice, idx_files,
                       api_visibility="private", show_progress="hidden")
    # each component with the option it shows (a row goes with the options it holds)
    by_option = [(kl_weight, "kl_weight"), (vae_row, "posterior"), (posterior, "posterior"),
                 (prior_components, "prior_components"), (aae_row, "prior"), (prior, "prior"),
                 (label_guided, "label_guided"), (adv_lr, "adv_lr")]
    gr.on([model.change, arch.change], functools.partial(shown_options, [key for _, key in by_option]),
          [model, arch], [c for c, _ in by_option] + [channels, name], api_visibility="private", show_progress="hidden")
    gr.Button(visible=False).click(train_status, [job_id, since, session], [status_json], api_name="train_status")
    timer.tick(poll, [session], [bar, curves, snap, snap_epoch, runs, timer], api_visibility="private",
               show_progress="hidden")
    snap_epoch.change(replay, [snap_epoch, session], [snap], api_visibility="private", show_progress="hidden")
    race_preset.change(lambda preset: RACE_PRESETS.get(preset, gr.skip()), [race_preset], [race_spec],
                       api_visibility="private", show_progress="hidden")
    race_btn.click(race_start, [race_spec, arch, latent_dim, epochs, batch_size, lr, seed, data_choice, name, limit,
                                session], [job_id, message, session, timer], api_name="race_start")
    play.click(lambda: (1, gr.Timer(active=True)), None, [snap_epoch, player], api_visibility="private",
               show_progress="hidden")
    player.tick(play_step, [snap_epoch, session], [snap_epoch, player], api_visibility="private",
                show_progress="hidden")
    show.click(show_run, [runs], [curves], api_visibility="private")
    resume_btn.click(resume, [runs, more, session], [job_id, message, session, timer], api_name="train_resume")
    reload_runs.click(lambda: gr.update(choices=saved_runs()), None, [runs], api_visibility="private")
    measured = measure_btn.click(measure, [runs], [measure_note], api_name="measure_run")
    download_btn.click(download_run, [runs], [run_zip], api_name="download_run").then(
        lambda: gr.update(visible=True), None, [run_zip], api_visibility="private")

    return {"compare": compare, "job_id": job_id, "timer": timer, "measured": measured,
            "replay_gif": (replay_gif_btn, replay_gif)}


def run_keys_of(job_id, session) -> list[str]:
    """The explorer keys of a job's run folders (a race has several), once they hold a finished epoch."""
    try:
        job = JOBS.get(job_id, _owner(session)) if job_id else None
    except JobError:
        job = None
    names = [lane.name for lane in job.lanes] if job is not None and job.lanes else [job.name] if job else []
    names = [n for n in names if (JOBS.folder(n) / checkpoint.WEIGHTS).is_file()]
    if not names:
        raise gr.Error("No finished epoch to compare yet: wait for the first epoch to end.")
    return [f"runs/{name}" for name in names]


def snapshots_of(job_id, session) -> list[tuple[str, list]]:
    """(run name, latent snapshots) of your job, for the replay GIF; [] when it has none (or is not yours)."""
    try:
        job = JOBS.get(job_id or session.get("job"), _owner(session))
    except JobError:
        return []
    if job.lanes:  # a race: every model's snapshots, each as (epoch, xy, labels)
        runs = [(name, [(round(epoch, 1), xy, labels) for _, epoch, xy, labels in snaps])
                for name, snaps in race_snaps(job)]
        return runs if any(snaps for _, snaps in runs) else []
    with job.lock:
        snaps = list(job.snapshots)
    return [(job.name, snaps)] if snaps else []
