"""What the Train tab shows of a job while it runs and after: the progress bar, the curves, the latent snapshot,
and the replay of the snapshots (the slider, ▶ Play)."""
from __future__ import annotations

import html

import gradio as gr

from .. import plots
from ..jobs import DONE, JobError
from ..races import RACE_SNAPSHOT_EVERY
from . import train_jobs
from .saved_runs import saved_runs
from .session import Session
from .train_jobs import whole


def progress_html(p: dict) -> str:
    pct = round(100 * p["fraction"])
    if p["status"] in DONE:
        eta = ""
    elif p["fraction"] >= 1 or 0 < p["eta_s"] < 1:  # the last step is done: the test split and the save are left
        eta = "· finishing: testing and saving"
    else:
        eta = f"ETA {int(p['eta_s']) // 60}:{int(p['eta_s']) % 60:02d}" if p["eta_s"] else ""
    color = {"failed": "#d62728", "diverged": "#d62728", "stopped": "#ff7f0e"}.get(p["status"], "#2ca02c")
    text = (f"{html.escape(p['name'])}: {p['status']} · epoch {p['epoch']}/{p['epochs']} · "
            f"{p['images_per_s']:,.0f} img/s {eta}")
    msg = f"<div style='margin-top:4px'>{html.escape(p['message'])}</div>" if p["message"] else ""
    return (f"<div style='border:1px solid #ccc;border-radius:6px;height:22px;position:relative;background:#f4f4f4'>"
            f"<div style='width:{pct}%;height:100%;background:{color};opacity:.55;border-radius:6px'></div>"
            f"<div style='position:absolute;top:2px;left:8px;font-size:13px'>{text}</div></div>{msg}")


def my_job(session: Session, job_id=None):
    """This page's job (or ``job_id``, when it is this browser's), or None."""
    try:
        return train_jobs.JOBS.get(job_id or session.job, session.owner)
    except JobError:
        return None


def poll(session: Session) -> dict:
    """Timer tick: refresh this session's job view; stop the timer when the job is over (and list its run under
    Saved runs, picked, so Measure is one click away)."""
    job = my_job(session) if session.job else None
    if job is None:
        return {"timer": gr.Timer(active=False)}
    p = job.progress()
    done = p["status"] in DONE  # from the same reading as p: a job ending after it gets one more tick to show it
    rows, _ = job.rows_since(0)
    out = {"bar": progress_html(p), "timer": gr.Timer(active=not done)}
    if job.lanes:
        return {**out, "curves": plots.race_curves(rows, [lane.title for lane in job.lanes]),
                **race_view(job, None, done)}
    with job.lock:
        snaps = list(job.snapshots)
    first, last = (snaps[0][0], snaps[-1][0]) if snaps else (1, 1)  # a resumed job's snapshots start after epoch 1
    out.update(curves=plots.training_curves(rows, job.model_config.model),
               snap=plots.snapshot_scatter(*(snaps[-1][1:] if snaps else (None, None)), title=(
                   f"latent space after epoch {last}" if snaps else "waiting for epoch 1")),
               snap_epoch=gr.Slider(minimum=first, maximum=max(first + 1, last), value=last, step=1,
                                    interactive=done and len(snaps) > 1, visible=bool(snaps), label="Replay epoch",
                                    info="when the run ends: the latent space after any of its epochs"))
    if done:
        out["runs"] = listed(job.name)
    return out


def listed(name: str):
    """The Saved runs list, with ``name`` picked when it is there."""
    runs = saved_runs()
    return gr.update(choices=runs, value=name if name in runs else None)


def race_snaps(job) -> list[tuple[str, list]]:
    with job.lock:
        return [(lane.title, list(lane.snapshots)) for lane in job.lanes]


def race_view(job, index, done) -> dict:
    """A race's snapshot figure (all models at snapshot ``index``, default the latest), its replay slider and
    the saved runs' list once it is over."""
    lanes = race_snaps(job)
    count = max((len(snaps) for _, snaps in lanes), default=0)
    out = {"snap": plots.race_snapshots(lanes, index) if count else
           plots.snapshot_scatter(None, None, "waiting for step 5"),
           "snap_epoch": gr.Slider(minimum=1, maximum=max(2, count), value=max(1, count), step=1,
                                   label="Replay snapshot", interactive=done and count > 1, visible=count > 0,
                                   info=f"when the race ends: every model after any of its snapshots (one every "
                                        f"{RACE_SNAPSHOT_EVERY} steps)")}
    if done:
        out["runs"] = listed(job.lanes[0].name)
    return out


def replay(epoch, session: Session) -> dict:
    """The latent snapshot the replay slider points at (an epoch; a race's snapshot number)."""
    job = my_job(session)
    try:
        wanted = whole(epoch, "epoch", 1)
    except ValueError:
        return {}
    if job is None:
        return {}
    if job.lanes:  # a race: the slider runs over its snapshots, every model at once
        return {"snap": plots.race_snapshots(race_snaps(job), wanted - 1)}
    with job.lock:
        snaps = list(job.snapshots)
    if not snaps:
        return {}
    e, xy, labels = min(snaps, key=lambda snap: abs(snap[0] - wanted))  # the slider runs over the snapshots' epochs
    return {"snap": plots.snapshot_scatter(xy, labels, title=f"latent space after epoch {e}")}


def replay_range(job) -> tuple[int, int]:
    """The replay slider's first and last position: a race's snapshot numbers, a job's snapshotted epochs (a
    resumed job's start after its first epoch)."""
    if job.lanes:
        return 1, max((len(snaps) for _, snaps in race_snaps(job)), default=1)
    with job.lock:
        epochs = [snap[0] for snap in job.snapshots]
    return (epochs[0], epochs[-1]) if epochs else (1, 1)


def play(session: Session) -> dict:
    """▶ Play: the replay from its first snapshot (not 1: a resumed job's slider starts later)."""
    job = my_job(session)
    if job is None:
        return {}
    first, last = replay_range(job)
    return {"snap_epoch": first, "player": gr.Timer(active=last > first)}


def play_step(position, session: Session) -> dict:
    """Play: the replay slider's next position, until the last snapshot."""
    job = my_job(session)
    if job is None:
        return {"player": gr.Timer(active=False)}
    first, last = replay_range(job)
    nxt = max(first, int(position or 0) + 1)
    return {"snap_epoch": min(nxt, last), "player": gr.Timer(active=nxt < last)}


def snapshots_of(job_id, session: Session) -> list[tuple[str, list]]:
    """(run name, latent snapshots) of your job, for the replay GIF; [] when it has none (or is not yours)."""
    job = my_job(session, job_id)
    if job is None:
        return []
    if job.lanes:  # a race: every model's snapshots, each as (epoch, xy, labels)
        runs = [(name, [(round(epoch, 1), xy, labels) for _, epoch, xy, labels in snaps])
                for name, snaps in race_snaps(job)]
        return runs if any(snaps for _, snaps in runs) else []
    with job.lock:
        snaps = list(job.snapshots)
    return [(job.name, snaps)] if snaps else []
