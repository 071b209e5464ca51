"""The Train tab: train a model (or race 2-4) in the background and watch it learn: live curves, per-epoch latent
snapshots with replay, Stop / Resume, Compare (puts the run on the planes), Saved runs. The jobs themselves:
train_jobs.py; what a running job shows: train_view.py; the runs on disk: saved_runs.py."""
from __future__ import annotations

import gradio as gr

from trainer.config import APPLIES_TO, SEED_MAX

from .. import settings
from ..training_setup import LIMITS
from . import models, planes, saved_runs, train_jobs, train_view
from .models import choices, with_room
from .page import mounted, ticking
from .train_jobs import RACE_PRESETS

TAB = ("train", "Train")
BROWSER_TITLE = ("Train in this browser: AE, VAE or AAE, or a race, on 10,000 training digits; your computer does the "
                 "work, the server nothing")
OPTIONS = (("kl_weight", "kl_weight"), ("vae_row", "posterior"), ("posterior", "posterior"),
           ("prior_components", "prior_components"), ("aae_row", "prior"), ("prior", "prior"),
           ("label_guided", "label_guided"), ("adv_lr", "adv_lr"))  # (component, the APPLIES_TO option it shows)
SAVE_ZIP = "() => { const link = document.querySelector('#run-zip a[download]'); if (link) link.click(); }"
INPUTS = ("model", "arch", "latent_dim", "kl_weight", "prior", "label_guided", "epochs", "batch_size", "lr", "seed",
          "data_choice", "idx_files", "name", "limit", "posterior", "prior_components", "lr_schedule",
          "weight_decay", "adv_lr", "decoder_epochs", "channels", "hidden")  # train_jobs.train_start's, in order


def notes() -> list[str]:
    """What this server's settings change about training, for the top of the tab."""
    if settings.TRAIN_JOBS == 0:
        return ["**Training is turned off on this server** (the teacher set `LATENT_EXPLORER_TRAIN_JOBS=0`): explore "
                "the shipped models in the other tabs."]
    said = []
    if settings.RUNS_NOTE:
        said.append(settings.RUNS_NOTE[:1].upper() + settings.RUNS_NOTE[1:] + ".")
    elif settings.ON_SPACE:
        said.append("This is a Hugging Face Space: runs vanish when it restarts, so **Download run** keeps one (and "
                    "*Add a model* takes it back).")
    return said + public_notes()


def public_notes() -> list[str]:
    """What a public server keeps of a visitor's training, and for how long (settings)."""
    said = []
    if settings.RUN_HOURS:
        said.append(f"Runs trained here are deleted {settings.RUN_HOURS} h after their last save: **Download run** "
                    "keeps one.")
    if settings.JOB_MINUTES:
        said.append(f"A job trains for at most {settings.JOB_MINUTES} min here, then stops and keeps its last "
                    "finished epoch; when the server is busy, its answer says when a slot frees.")
    return said


def layout(page) -> None:
    gr.Markdown("Train your own model in the background and watch it learn: the curves update every second and the "
                "latent space is redrawn after every epoch. **Compare** adds it to the other tabs. "
                f"Limits here: up to {LIMITS['epochs']} epochs, latent dim {LIMITS['latent_dim']}, batch "
                f"{LIMITS['batch_size']}; one job per browser, {settings.TRAIN_JOBS} per server.",
                elem_classes=["caption"])
    if notes():
        gr.Markdown(" ".join(f"⚠ {n}" for n in notes()), elem_id="train-note")
    with gr.Accordion(BROWSER_TITLE, open=settings.TRAIN_JOBS == 0, elem_id="train-browser-box"):
        page.browser_train = mounted("train/panel.js", elem_id="train-browser")
    with gr.Row():
        with gr.Column(scale=2, min_width=420):
            _buttons(page)
            _model_options(page)
            _training_options(page)
        with gr.Column(scale=5):
            _job_view(page)
    page.timer = gr.Timer(1.0, active=False)
    page.player = gr.Timer(0.4, active=False)  # Play: steps the replay slider
    page.since = gr.Number(value=0, visible=False)
    page.status_json = gr.JSON(visible=False)


def _buttons(page) -> None:
    with gr.Row():
        page.start = gr.Button("Start", variant="primary", interactive=settings.TRAIN_JOBS > 0)
        page.stop = gr.Button("Stop", variant="stop")
        page.compare = gr.Button("Compare in the explorer")
    with gr.Accordion("Training race: 2-4 models at once, on the same data and seed", open=False, elem_id="race"):
        with gr.Row():
            page.race_preset = gr.Dropdown(list(RACE_PRESETS), value="AE vs VAE vs AAE", label="Race", scale=2)
            page.race_btn = gr.Button("Start race", variant="primary", scale=1, interactive=settings.TRAIN_JOBS > 0)
        page.race_spec = gr.Textbox(RACE_PRESETS["AE vs VAE vs AAE"], lines=3, max_lines=4,
                                    label="Models, one a line (beta=4, prior=mixture10, posterior=full, …)",
                                    info="they share the architecture, latent dim, epochs, batch, lr, seed and data "
                                         "set below; each saves its own run, named by what differs (race-vae-beta4, …)")


def _model_options(page) -> None:
    with gr.Row():
        page.model = gr.Dropdown(["ae", "vae", "aae", "cvae", "caae"], value="vae", label="Model")
        page.arch = gr.Dropdown(["mlp", "conv"], value="mlp", label="Architecture")
    with gr.Row():
        page.latent_dim = gr.Number(value=2, minimum=1, maximum=LIMITS["latent_dim"], label="Latent dim")
        page.kl_weight = gr.Number(value=1.0, minimum=0, label="β (KL weight, VAE)")
    with gr.Row() as page.vae_row:
        page.posterior = gr.Dropdown(["diagonal", "full"], value="diagonal", label="q(z|x) covariance (VAE)",
                                     info="full: each digit's Gaussian can tilt (correlated dims)")
        page.prior_components = gr.Dropdown([("N(0, I)", 0), ("10 fitted Gaussians", 10)], value=0,
                                            label="p(z) prior (VAE)",
                                            info="fitted: a mixture refitted to the codes every epoch")
    with gr.Row(visible=False) as page.aae_row:  # shown_options: only the options the model reads
        page.prior = gr.Dropdown(["gaussian", "mixture10", "swissroll"], value="gaussian", label="AAE prior")
        page.label_guided = gr.Checkbox(value=False, label="Label-guided AAE", visible=False)


def _training_options(page) -> None:
    with gr.Row():
        page.epochs = gr.Number(value=5, minimum=1, maximum=LIMITS["epochs"], label="Epochs")
        page.batch_size = gr.Number(value=128, minimum=1, maximum=LIMITS["batch_size"], label="Batch size")
    with gr.Row():
        page.lr = gr.Number(value=1e-3, minimum=1e-6, maximum=1.0, label="Learning rate")
        page.seed = gr.Number(value=0, minimum=0, maximum=SEED_MAX, label="Seed")
    page.data_choice = gr.Radio(["bundled", "full"] + ["uploaded"] * settings.UPLOADS, value="bundled", label="Data",
                                info="bundled: 8k/2k of the shipped test split; full: an MNIST folder on disk; "
                                     "uploaded: your four IDX files")
    page.idx_files = gr.File(file_count="multiple", label="IDX files: train/test images and labels", height=130,
                             visible=False)  # shown when "uploaded" is picked
    with gr.Row():
        page.name = gr.Textbox(label="Run name (folder under runs/)", placeholder="my-vae")
        page.limit = gr.Number(value=0, minimum=0, label="Use first N images (0 = all)")
    with gr.Accordion("Advanced (as in python -m trainer train)", open=False):
        with gr.Row():
            page.lr_schedule = gr.Dropdown(["constant", "cosine"], value="constant", label="lr schedule",
                                           info="cosine: every lr decays to 0 by the end")
            page.weight_decay = gr.Number(value=0.0, minimum=0, maximum=1, label="Weight decay",
                                          info="AdamW, encoder/decoder; 0 = Adam")
        with gr.Row():
            page.adv_lr = gr.Number(value=1e-3, minimum=1e-6, maximum=1.0, label="Adversarial lr (AAE)",
                                    info="discriminator and generator steps", visible=False)
            page.decoder_epochs = gr.Number(value=0, minimum=0, label="Decoder-only epochs",
                                            info="the last N epochs train the decoder alone, codes frozen")
        with gr.Row():
            page.channels = gr.Dropdown([("16-32 (faster)", "16,32"), ("32-64 (as vae-2d, aae-2d)", "32,64")],
                                        value="16,32", label="Conv channels", info="widths of the conv architecture",
                                        visible=False)
            page.hidden = gr.Textbox(value="", label="Dense widths", placeholder="512,256",
                                     info="encoder order, the decoder mirrors them; blank: 512,256 (mlp), 256 (conv)")


def _job_view(page) -> None:
    page.job_id = gr.Textbox(label="Job id", interactive=False, max_lines=1)
    page.train_message = gr.Markdown("Pick a model and press **Start**: the loss curves and the latent space of the "
                                     "test digits appear here as it trains.")
    page.bar = gr.HTML()  # below the start message, so the job's latest state reads last
    page.curves = gr.Plot(label="Training curves", show_label=False)
    with gr.Row():
        page.snap = gr.Plot(label="Latent space (test digits; PCA when > 2-D)", show_label=False)
        with gr.Column():
            page.snap_epoch = gr.Slider(1, 2, value=1, step=1, label="Replay epoch", interactive=False,
                                        visible=False)  # shown with the first snapshot (train_view.poll)
            with gr.Row():
                page.play = gr.Button("▶ Play", size="sm", scale=0, min_width=90)
                page.replay_gif_btn = gr.Button("Replay as a GIF", size="sm", scale=0, min_width=150)
                page.replay_gif = gr.File(label="GIF", scale=1)
            _saved_runs(page)


def _saved_runs(page) -> None:
    with gr.Accordion("Saved runs", open=False):
        with gr.Row(equal_height=True):
            page.runs = gr.Dropdown(saved_runs.saved_runs(), label="Runs under runs/", allow_custom_value=True,
                                    scale=5)
            page.reload_runs = gr.Button("↻", size="sm", min_width=40, scale=0)
        with gr.Row():
            page.show_run = gr.Button("Show curves", size="sm")
            page.measure = gr.Button("Measure", size="sm")
            page.download = gr.Button("Download run (.zip)", size="sm")
        page.run_zip = gr.File(label="The run, as Add a model takes it back", visible=False, elem_id="run-zip")
        page.measure_note = gr.Markdown(min_height=60)  # beside the button: progress, then the numbers
        with gr.Row():
            page.more = gr.Number(value=10, minimum=1, maximum=LIMITS["epochs"], label="Resume to epoch",
                                  min_width=80)
            page.resume = gr.Button("Resume", size="sm")


def shown_options(model, arch) -> list:
    """Visibility of each option (shown for the models that read it), then of the conv channels (for the conv
    arch), and a run name placeholder for the model."""
    return ([gr.update(visible=model in APPLIES_TO[key]) for _, key in OPTIONS]
            + [gr.update(visible=arch == "conv"), gr.update(placeholder=f"my-{model}")])


def compare_run(job_id, keys, session) -> dict:
    """Put the job's run (a race: every model of it) in the picker; before the first epoch there is nothing to
    add, and the picker stays as it is."""
    try:
        added = train_jobs.run_keys_of(job_id, session)
    except gr.Error as e:
        gr.Warning(e.message)
        return {}
    for key in added:
        models.REGISTRY.forget(key)  # the run may have more epochs than the loaded copy
    kept = [k for k in (keys or []) if k not in added]
    shown = with_room(kept, added, session=session)
    return {"models": gr.update(choices=choices(session), value=shown)}


def wire(page) -> None:
    job = ("job_id", "train_message", "timer")
    page.start.click(**page.handler(train_jobs.train_start, job),
                     inputs=[page.component(name) for name in INPUTS] + [page.session], api_name="train_start")
    page.stop.click(train_jobs.train_stop, [page.job_id, page.session], [page.train_message], api_name="train_stop")
    page.race_btn.click(**page.handler(train_jobs.race_start, job),
                        inputs=[page.race_spec, page.arch, page.latent_dim, page.epochs, page.batch_size, page.lr,
                                page.seed, page.data_choice, page.name, page.limit, page.session],
                        api_name="race_start")
    page.race_preset.change(lambda preset: RACE_PRESETS.get(preset, gr.skip()), [page.race_preset],
                            [page.race_spec], api_visibility="private", show_progress="hidden")
    page.data_choice.change(lambda choice: gr.update(visible=choice == "uploaded"), page.data_choice, page.idx_files,
                            api_visibility="private", show_progress="hidden")
    gr.on([page.model.change, page.arch.change], shown_options, [page.model, page.arch],
          [page.component(name) for name, _ in OPTIONS] + [page.channels, page.name], api_visibility="private",
          show_progress="hidden")
    gr.Button(visible=False).click(train_jobs.train_status, [page.job_id, page.since, page.session],
                                   [page.status_json], api_name="train_status")
    view = ("bar", "curves", "snap", "snap_epoch", "runs", "timer")
    ticking(page.timer, **page.handler(train_view.poll, view), inputs=[page.session], api_visibility="private",
            show_progress="hidden")
    page.snap_epoch.change(**page.handler(train_view.replay, ("snap",)), inputs=[page.snap_epoch, page.session],
                           api_visibility="private", show_progress="hidden")
    page.play.click(**page.handler(train_view.play, ("snap_epoch", "player")), inputs=[page.session],
                    api_visibility="private", show_progress="hidden")
    ticking(page.player, **page.handler(train_view.play_step, ("snap_epoch", "player")),
            inputs=[page.snap_epoch, page.session], api_visibility="private", show_progress="hidden")
    page.compare.click(**page.handler(compare_run, ("models",)), inputs=[page.job_id, page.models, page.session],
                       api_visibility="private").then(**planes.show(page))
    _wire_saved_runs(page, job)


def _wire_saved_runs(page, job) -> None:
    page.show_run.click(saved_runs.show_run, [page.runs], [page.curves], api_visibility="private")
    page.resume.click(**page.handler(saved_runs.resume, job), inputs=[page.runs, page.more, page.session],
                      api_name="train_resume")
    for event in (page.reload_runs.click, page.tab_of["train"].select):  # runs saved since the page was made
        event(lambda: gr.update(choices=saved_runs.saved_runs()), None, [page.runs], api_visibility="private",
              show_progress="hidden")
    page.measured = page.measure.click(saved_runs.measure, [page.runs], [page.measure_note], api_name="measure_run")
    page.download.click(saved_runs.download_run, [page.runs], [page.run_zip], api_name="download_run").then(
        lambda: gr.update(visible=True), None, [page.run_zip], api_visibility="private").then(
        None, None, None, js=SAVE_ZIP)  # a download, not only a link to one
    page.runs.change(saved_runs.resume_to, [page.runs], [page.more], api_visibility="private",
                     show_progress="hidden")


def attach(page) -> dict:
    """Listener arguments that re-attach a reloaded page to this browser's job."""
    return dict(**page.handler(train_jobs.attach, ("job_id", "timer")), inputs=[page.session],
                api_visibility="private")

