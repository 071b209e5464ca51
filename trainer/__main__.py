"""python -m trainer: train models and measure them from the command line."""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from . import checkpoint
from .classifier import SHIPPED
from .config import (ACTIVATIONS, APPLIES_TO, ARCHS, CLUSTER_INPUTS, MODEL_TYPES, POSTERIORS, PRIORS, RECON_LOSSES,
                     ConfigError, ModelConfig, TrainConfig, to_dict)
from .data import DATA_ENV, DataError, load_dataset, load_run_dataset
from .train import Callback, FitResult, fit, new_model, pick_device


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 512,256, got {text!r}")
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


NOT_GIVEN = object()  # the default of every train flag in build_parser(only_given=True) (not a str: no type call)


def build_parser(only_given: bool = False) -> argparse.ArgumentParser:
    """The CLI's parser; ``only_given=True``: train's flags get no defaults, so a parse holds only those typed."""
    parser = argparse.ArgumentParser(prog="python -m trainer", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    d = ModelConfig()
    t = TrainConfig()
    tr = sub.add_parser("train", help="train a model into a run folder",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    tr.add_argument("--model", choices=MODEL_TYPES, default=d.model, help="model type (cvae/caae: label-conditioned)")
    tr.add_argument("--arch", choices=ARCHS, default=d.arch, help="encoder/decoder bodies")
    tr.add_argument("--hidden", type=_ints, default=d.hidden, help="mlp hidden widths (conv: the last is the dense width)")
    tr.add_argument("--channels", type=_ints, default=d.channels, help="conv channels of the strided convolutions")
    tr.add_argument("--activation", choices=ACTIVATIONS, default=d.activation, help="hidden-layer activation")
    tr.add_argument("--latent-dim", type=int, default=d.latent_dim, help="latent dimensions (2 = clickable plane)")
    tr.add_argument("--kl-weight", type=float, default=d.kl_weight, help="beta: weight of the KL term (VAE)")
    tr.add_argument("--prior", choices=PRIORS, default=d.prior, help="AAE prior")
    tr.add_argument("--label-guided", action="store_true", help="AAE: the label picks the prior component")
    tr.add_argument("--posterior", choices=POSTERIORS, default=d.posterior,
                    help="VAE q(z|x) covariance: diagonal, or full (also learns correlations between latent dims)")
    tr.add_argument("--prior-components", type=int, default=d.prior_components,
                    help="VAE prior: 0 = N(0, I); K = a mixture of K Gaussians refitted to the codes after every epoch")
    tr.add_argument("--clusters", type=int, default=d.clusters,
                    help="AAE: K > 0 adds a categorical code y over K clusters (uniform prior, its own adversary) "
                         "beside the style code (--latent-dim, N(0, I) prior); the decoder draws from both")
    tr.add_argument("--labels", type=int, default=d.labels,
                    help="AAE with --clusters 10: semi-supervised, a cross-entropy on q(y|x) for N labelled "
                         "training images, balanced per class and chosen by --seed; 0 = unsupervised")
    tr.add_argument("--cluster-input", choices=CLUSTER_INPUTS, default=d.cluster_input,
                    help="AAE with --clusters: what the decoder gets of q(y|x) in training: its probabilities "
                         "(softmax), or a one-hot with the softmax's gradient, of the argmax (hard) or of a "
                         "Gumbel-softmax draw (gumbel)")
    tr.add_argument("--cluster-disc-noise", type=float, default=d.cluster_disc_noise,
                    help="AAE with --clusters: std of Gaussian noise added in training to what the cluster adversary "
                         "sees (one-hot draws and softmax outputs alike), so it judges which cluster more than how "
                         "sharp; 0 = none")
    tr.add_argument("--disc-hidden", type=_ints, default=d.disc_hidden, help="AAE discriminator hidden widths")
    tr.add_argument("--recon-loss", choices=RECON_LOSSES, default=d.recon_loss, help="AE/AAE reconstruction loss")
    tr.add_argument("--epochs", type=int, default=None,
                    help=f"epochs to train, default {t.epochs} (with --resume: the new total, default as saved)")
    tr.add_argument("--batch-size", type=int, default=t.batch_size, help="images per step")
    tr.add_argument("--lr", type=float, default=t.lr, help="Adam learning rate")
    tr.add_argument("--lr-schedule", choices=("constant", "cosine"), default=t.lr_schedule,
                    help="cosine decays the learning rates to 0 over all steps")
    tr.add_argument("--adv-lr", type=float, default=t.adv_lr, help="AAE discriminator/generator learning rate")
    tr.add_argument("--weight-decay", type=float, default=t.weight_decay,
                    help="decoupled (AdamW) weight decay of the encoder/decoder; 0 = plain Adam")
    tr.add_argument("--decoder-epochs", type=int, default=None,
                    help=f"the last N of the epochs train the decoder alone, on codes that no longer move (sharper "
                         f"images where the AAE's adversarial game kept the codes moving); a fresh cosine for them. "
                         f"Default {t.decoder_epochs} (with --resume: as saved; --resume --epochs M+N "
                         f"--decoder-epochs N polishes the decoder of a finished M-epoch run)")
    tr.add_argument("--seed", type=int, default=t.seed, help="random seed (same seed, same numbers on CPU)")
    tr.add_argument("--device", default=t.device, help="auto, cpu, cuda or mps")
    tr.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    tr.add_argument("--log-every", type=int, default=t.log_every, help="steps between history rows")
    tr.add_argument("--data", default=None,
                    help=f"MNIST-format folder (default: ${DATA_ENV}, ./data, else the bundled test split)")
    tr.add_argument("--download", action="store_true", help="download MNIST into --data (or ./data) with torchvision")
    tr.add_argument("--limit", type=int, default=None, help="use only the first N training images")
    tr.add_argument("--out", default=None, help="run folder (default: runs/MODEL-ARCH-LATENTd)")
    tr.add_argument("--resume", action="store_true", help="continue the run in --out from its last finished epoch")
    tr.add_argument("--overwrite", action="store_true", help="replace an existing run in --out")
    tr.add_argument("--quiet", action="store_true", help="no progress bar")

    if only_given:
        tr.set_defaults(**dict.fromkeys(vars(tr.parse_args([])), NOT_GIVEN))

    ev = sub.add_parser("eval", help="measure a run folder on the test split and print a table")
    ev.add_argument("path", help="run folder")
    ev.add_argument("--data", default=None, help="MNIST-format folder (default: as the run was trained)")
    ev.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ev.add_argument("--save", action="store_true", help="store the results in the run's metrics.json")
    ev.add_argument("--classifier", default=str(SHIPPED),
                    help="digit classifier folder that scores 10,000 prior samples (MNIST runs; '' skips it)")
    return parser


class ProgressBar(Callback):
    """tqdm bar over all steps plus one printed line of metrics per epoch."""

    def __init__(self, total_steps: int, done_steps: int = 0, disable: bool = False):
        from tqdm import tqdm

        self.bar = tqdm(total=total_steps, initial=done_steps, unit="step", disable=disable, dynamic_ncols=True)
        self.step = done_steps

    def on_step(self, row):
        self.bar.update(row["step"] - self.step)
        self.step = row["step"]
        self.bar.set_postfix(epoch=f"{row['epoch']:.2f}", loss=f"{row['loss']:.2f}")

    def on_epoch(self, row, model):
        terms = "  ".join(f"{k[5:]} {v:.2f}" for k, v in row.items() if k.startswith("test_"))
        self.bar.write(f"epoch {row['epoch']:>3}  {row['seconds']:6.1f}s  {row['images_per_s']:8.0f} img/s  "
                       f"test: {terms}")

    def close(self):
        self.bar.close()


def _given(value, default):
    return default if value is None else value


RESUME_MAY_CHANGE = ("epochs", "decoder_epochs", "device")  # the rest of a resumed run stays as it was saved


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def given_flags(argv) -> set[str]:
    """The train flags typed on the command line (whatever their value)."""
    typed = vars(build_parser(only_given=True).parse_args(argv))
    return {name for name, value in typed.items() if value is not NOT_GIVEN and name != "command"}


def run_dir(args) -> Path:
    out = Path(args.out or f"runs/{args.model}-{args.arch}-{args.latent_dim}d")
    return checkpoint.run_folder(out.parent, out.name)


def configs_for_resume(args, run, given: set[str]) -> tuple[ModelConfig, TrainConfig]:
    """The saved configs with what --resume may change; a different value for any other flag is an error, not
    silently ignored."""
    saved = {**to_dict(run.model_config), **to_dict(run.train_config)}
    clash = sorted(name for name in given - set(RESUME_MAY_CHANGE)
                   if name in saved and getattr(args, name) != saved[name])
    if clash:
        shown = {name: ",".join(map(str, v)) if isinstance(v, tuple) else v for name, v in saved.items()}
        was = ", ".join(f"{_flag(name)} {shown[name]}" for name in clash)
        raise ConfigError(f"--resume continues {run_dir(args)} with its saved settings ({was}); only --epochs, "
                          "--decoder-epochs and --device can change. To train with other settings, start a new "
                          "run in another --out")
    train_config = TrainConfig(**{**to_dict(run.train_config), "epochs": _given(args.epochs, run.train_config.epochs),
                                  "decoder_epochs": _given(args.decoder_epochs, run.train_config.decoder_epochs),
                                  "device": args.device if "device" in given else run.train_config.device})
    return run.model_config, train_config


def configs_for_new_run(args, given: set[str]) -> tuple[ModelConfig, TrainConfig]:
    model_config = ModelConfig(model=args.model, arch=args.arch, hidden=args.hidden, channels=args.channels,
                               activation=args.activation, latent_dim=args.latent_dim,
                               kl_weight=args.kl_weight, posterior=args.posterior, prior=args.prior,
                               prior_components=args.prior_components,
                               label_guided=args.label_guided, recon_loss=args.recon_loss,
                               disc_hidden=args.disc_hidden, clusters=args.clusters, labels=args.labels,
                               cluster_input=args.cluster_input,
                               cluster_disc_noise=args.cluster_disc_noise).validate()
    for name, models in APPLIES_TO.items():  # given for another model they would be silently ignored
        if name in given and args.model not in models:
            raise ConfigError(f"{_flag(name)} applies to the {' and '.join(models)} models only, not {args.model}")
    if "channels" in given and args.arch != "conv":
        raise ConfigError("--channels applies to --arch conv only")
    train_config = TrainConfig(epochs=_given(args.epochs, TrainConfig.epochs), batch_size=args.batch_size,
                               lr=args.lr, lr_schedule=args.lr_schedule, adv_lr=args.adv_lr,
                               weight_decay=args.weight_decay,
                               decoder_epochs=_given(args.decoder_epochs, TrainConfig.decoder_epochs),
                               seed=args.seed, device=args.device, log_every=args.log_every, limit=args.limit)
    return model_config, train_config


def cmd_train(args, given: set[str]) -> int:
    if args.threads is not None:
        if args.threads < 1:
            raise ConfigError(f"threads must be >= 1, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    out = run_dir(args)
    if args.resume:
        repaired = checkpoint.open_for_training(out) if out.is_dir() else ""
        if repaired:
            print(f"{out}: {repaired}", file=sys.stderr)
        run = checkpoint.load(out)
        model_config, train_config = configs_for_resume(args, run, given)
        model = run.model
    else:
        model_config, train_config = configs_for_new_run(args, given)
        checkpoint.check_new_run_folder(out, args.overwrite)
    train_config.validate()
    start = (checkpoint.resume_epoch(out) or 0) if args.resume else 0
    if start >= train_config.epochs:
        raise ConfigError(f"{out} is at epoch {start} already: pass --epochs above {start} to train it further")
    pick_device(train_config.device)  # a missing GPU is reported before anything loads
    if args.resume:
        data = load_run_dataset(run.dataset, args.data, run_dir=out)
    else:
        data = load_dataset(args.data, download=args.download)
        # the model takes the data's image size and classes (MNIST's: 28x28, 10)
        model_config = dataclasses.replace(model_config, image_size=tuple(data.image_shape),
                                           num_classes=len(data.classes)).validate()
        model = new_model(model_config, train_config.seed)
    if data.note:
        print(f"\n*** {data.note} ***\n", file=sys.stderr)
    print(f"{model_config.model} ({model_config.arch}, latent {model_config.latent_dim}) on {data.name}: "
          f"{len(data.train.head(train_config.limit))} train / {len(data.test)} test images -> {out}")
    steps = -(-len(data.train.head(train_config.limit)) // train_config.batch_size)
    bar = ProgressBar(steps * train_config.epochs, steps * start, disable=args.quiet)
    try:
        result: FitResult = fit(model, data, train_config, [bar], run_dir=out, resume=args.resume)
    finally:
        bar.close()
    print(result.message)
    return 0 if result.status == "finished" else 1


def format_table(results: dict) -> str:
    width = max(len(k) for k in results)
    return "\n".join(f"{k:<{width}}  {v:.4f}" if isinstance(v, float) else f"{k:<{width}}  {v}"
                     for k, v in results.items())


def cmd_eval(args) -> int:
    from .classifier import scorer_for
    from .evaluate import measure_run, save_results

    run = checkpoint.load(args.path)
    data = load_run_dataset(run.dataset, args.data, run_dir=args.path)
    scorer = scorer_for(run, args.classifier) if args.classifier else None
    results = {"model": run.model_config.model, "latent_dim": run.model_config.latent_dim, "epoch": run.epoch,
               **measure_run(run, data.train, data.test, scorer)}
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        print(format_table(results))
    if args.save:
        save_results(run, results)
    return 0


def main(argv: list[str] | None = None) -> int:
    """The CLI; returns its exit code (0 done, 1 a run that did not finish, 2 a user error, 130 interrupted)."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            return cmd_train(args, given_flags(sys.argv[1:] if argv is None else argv))
        return cmd_eval(args)
    except (ConfigError, DataError, checkpoint.CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.command != "train":
            print("interrupted", file=sys.stderr)
            return 130
        out = run_dir(args)
        try:
            done = checkpoint.resume_epoch(out)
        except checkpoint.CheckpointError:
            done = None
        if done is None:
            print("interrupted before the first epoch finished; nothing was saved", file=sys.stderr)
        else:
            print(f"interrupted; {out} keeps epoch {done}. Continue with: python -m trainer train --out {out} "
                  "--resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
