"""Configs saved beside the weights as JSON, so a checkpoint rebuilds its own model."""
from __future__ import annotations

import dataclasses
import math
import re
import reprlib
from dataclasses import dataclass, field

MODEL_TYPES = ("ae", "vae", "aae", "cvae", "caae")
ARCHS = ("mlp", "conv")
PRIORS = ("gaussian", "mixture10", "swissroll")
RECON_LOSSES = ("bce", "mse")
ACTIVATIONS = ("elu", "relu", "leaky_relu")
LR_SCHEDULES = ("constant", "cosine")
POSTERIORS = ("diagonal", "full")
CLUSTER_INPUTS = ("softmax", "hard", "gumbel")
SEED_MAX = 2**32 - 1  # seeds are 0..2^32-1, as numpy takes them
# model options and the models that read them (the others ignore them): the CLI refuses them for other
# models, the app's Train tab shows them only for these
APPLIES_TO = {"kl_weight": ("vae", "cvae"), "posterior": ("vae", "cvae"), "prior_components": ("vae",),
              "prior": ("aae", "caae"), "label_guided": ("aae",), "disc_hidden": ("aae", "caae"),
              "adv_lr": ("aae", "caae"), "clusters": ("aae",), "labels": ("aae",),
              "cluster_input": ("aae",), "cluster_disc_noise": ("aae",)}
MAX_CLUSTERS = 100
# The bounds of every size field, in one place: ModelConfig.validate checks them for the CLI, the Train tab and
# every checkpoint it loads (uploads too), before any model is built. field: (smallest, largest[, most entries])
SIZES = {"latent_dim": (1, 512), "hidden": (1, 8192, 8), "channels": (1, 512, 2), "disc_hidden": (1, 8192, 8),
         "num_classes": (1, 1000), "image_size": (1, 512, 2), "prior_components": (0, 100)}
MAX_PARAMETERS = 50_000_000  # weights and buffers of one model (200 MB as float32; the shipped ones have < 2M)
MAX_KL_WEIGHT = 1000.0
# The app's Train tab trains on a shared server: smaller bounds there (explorer.training_setup.check_limits)
SERVER_LIMITS = {"epochs": 50, "latent_dim": 64, "batch_size": 1024, "train_images": 60_000, "width": 2048,
                 "layers": 4}


def shown(value, limit: int = 60) -> str:
    """repr() of a value a user sent, cut to about ``limit`` characters: messages and logs never echo a huge
    input (a long text says how long it was; a container shows a few items and levels, however big or deep)."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}… ({len(value):,} characters)"
    short = reprlib.Repr()
    short.maxlevel, short.maxlist, short.maxtuple, short.maxdict, short.maxset, short.maxlong = 3, 8, 8, 6, 6, 40
    short.maxstring = short.maxother = max(limit, 10)
    text = short.repr(value)
    return text if len(text) <= 2 * limit else text[:2 * limit] + "…"


class ConfigError(ValueError):
    """A config value is out of range or unknown; the message names it and what is allowed."""


CLASS_NAME = re.compile(r"[\w .,'()/+-]{1,32}")  # "7", "T-shirt/top", "Ankle boot": short, and never markup


def check_class_names(names, count: int | None = None, where: str = "classes") -> tuple[str, ...]:
    """A data set's class names: a list of ``count`` (or 1 to 1000) short names, one per class, each up to 32
    letters, digits, spaces or . , ' ( ) / + - (they title pictures and charts, and are echoed to every visitor)."""
    wanted = f"{count}" if count is not None else "1 to 1000"
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"{where} must be a list of {wanted} class names (strings), got {shown(names)}")
    if (len(names) != count) if count is not None else not 1 <= len(names) <= 1000:
        raise ConfigError(f"{where} must name each of the {wanted} classes once, got {len(names)} "
                          f"name{'s' * (len(names) != 1)}")
    for name in names:
        if not CLASS_NAME.fullmatch(name):
            raise ConfigError(f"{where}: the class name {shown(name, 40)} is not 1 to 32 letters, digits, spaces or "
                              ". , ' ( ) / + -")
    return tuple(names)


@dataclass
class ModelConfig:
    model: str = "vae"  # one of MODEL_TYPES; cvae/caae are the label-conditioned vae/aae
    arch: str = "mlp"
    hidden: tuple[int, ...] = (512, 256)  # mlp hidden widths (encoder order; the decoder mirrors them)
    channels: tuple[int, ...] = (32, 64)  # conv channels of the strided convolutions
    activation: str = "elu"  # elu, relu or leaky_relu
    latent_dim: int = 2
    kl_weight: float = 1.0  # beta: weight of the KL term in the VAE objective (1 = the true ELBO)
    posterior: str = "diagonal"  # VAE q(z|x): diagonal covariance, or full (a Cholesky factor per image)
    prior: str = "gaussian"  # AAE prior
    prior_components: int = 0  # VAE prior: 0 = N(0, I); K = a K-Gaussian mixture refitted to the codes every epoch
    label_guided: bool = False  # AAE: the digit label picks the prior component; discriminator sees it
    recon_loss: str = "bce"  # AE/AAE reconstruction: Bernoulli (bce, nats) or squared error (mse)
    disc_hidden: tuple[int, ...] = (512, 512)  # AAE discriminator widths
    clusters: int = 0  # AAE: K > 0 adds a categorical code y (softmax over K clusters) beside the style code z
    labels: int = 0  # clustered AAE: N > 0 = semi-supervised, a cross-entropy on q(y|x) for N labelled images
    cluster_input: str = "softmax"  # clustered AAE: the decoder gets q(y|x) (softmax) or a one-hot (hard, gumbel)
    cluster_disc_noise: float = 0.0  # clustered AAE: std of the noise added to its cluster adversary's inputs
    num_classes: int = 10
    image_size: tuple[int, int] = (28, 28)

    @property
    def conditional(self) -> bool:
        return self.model in ("cvae", "caae")

    @property
    def clustered(self) -> bool:
        """An AAE with a categorical code: its decoder takes a cluster beside the style code."""
        return self.clusters > 0

    @property
    def label_count(self) -> int:
        """Values of the label y that ``decode``/``sample`` take: the clusters of a clustered AAE (cluster k is digit k
        when semi-supervised), else the classes (conditional and label-guided models)."""
        return self.clusters or self.num_classes

    @property
    def sampled_from(self) -> str:
        """Where samples come from, in a few words (for captions and tables)."""
        if self.model == "ae":
            return "Gaussian fitted to codes"  # an AE has no prior
        if self.clustered:
            return f"uniform over {self.clusters} clusters × N(0, I) style"
        if self.model in ("aae", "caae"):
            return f"{self.prior} prior" + (", label-guided" if self.label_guided else "")
        return f"mixture of {self.prior_components} fitted Gaussians" if self.prior_components else "N(0, I) prior"

    def validate(self) -> "ModelConfig":
        _choice("model", self.model, MODEL_TYPES)
        _choice("arch", self.arch, ARCHS)
        _choice("prior", self.prior, PRIORS)
        _choice("recon_loss", self.recon_loss, RECON_LOSSES)
        _choice("activation", self.activation, ACTIVATIONS)
        _choice("posterior", self.posterior, POSTERIORS)
        for name in SIZES:
            _size(name, getattr(self, name))
        _choice("cluster_input", self.cluster_input, CLUSTER_INPUTS)
        if not (isinstance(self.kl_weight, (int, float)) and 0 <= self.kl_weight <= MAX_KL_WEIGHT):
            raise ConfigError(f"kl_weight must be a number between 0 and {MAX_KL_WEIGHT:g}, "
                              f"got {shown(self.kl_weight)}")
        if self.model in ("vae", "cvae") and self.recon_loss != "bce":
            raise ConfigError("the VAE's ELBO uses the Bernoulli likelihood: recon_loss must be bce")
        if self.posterior == "full" and self.model not in ("vae", "cvae"):
            raise ConfigError("posterior applies to the vae and cvae models only")
        if self.posterior == "full" and self.latent_dim > 64:
            raise ConfigError(f"posterior full learns d(d-1)/2 correlations per image: latent_dim must be <= 64, "
                              f"got {self.latent_dim}")
        if self.prior_components and self.model != "vae":
            raise ConfigError("prior_components (a fitted mixture prior) applies to the vae model only")
        if self.label_guided and self.prior == "gaussian":
            raise ConfigError("label_guided needs a prior with one component per class: mixture10 or swissroll")
        if self.label_guided and self.model != "aae":
            raise ConfigError("label_guided applies to the aae model only")
        if not (0 <= int(self.clusters) <= MAX_CLUSTERS) or self.clusters == 1:
            raise ConfigError(f"clusters must be 0 (none) or between 2 and {MAX_CLUSTERS}, got {self.clusters}")
        if self.clusters and self.model != "aae":
            raise ConfigError("clusters (a categorical code) applies to the aae model only")
        if self.clusters and self.prior != "gaussian":
            raise ConfigError("a clustered AAE's style prior is N(0, I): clusters needs prior gaussian")
        if self.clusters and self.label_guided:
            raise ConfigError("clusters and label_guided exclude each other: the clusters take the place of the "
                              "label-guided prior's components")
        if self.cluster_input != "softmax" and not self.clusters:
            raise ConfigError("cluster_input applies to an aae with clusters only")
        if not (0 <= self.cluster_disc_noise <= 10):
            raise ConfigError(f"cluster_disc_noise must be between 0 and 10, got {self.cluster_disc_noise}")
        if self.cluster_disc_noise and not self.clusters:
            raise ConfigError("cluster_disc_noise applies to an aae with clusters only")
        if int(self.labels) < 0:
            raise ConfigError(f"labels must be >= 0 (0 = unsupervised), got {self.labels}")
        if self.labels and self.clusters != self.num_classes:
            raise ConfigError(f"labels (semi-supervised) makes cluster k stand for class k: it needs clusters = "
                              f"{self.num_classes} (the number of classes), got clusters {self.clusters}")
        if self.labels and self.labels < self.num_classes:
            raise ConfigError(f"labels are chosen balanced over the {self.num_classes} classes: give at least "
                              f"{self.num_classes}, got {self.labels}")
        if self.arch == "conv" and tuple(self.image_size) != (28, 28):
            raise ConfigError(f"the conv arch expects 28x28 images, got {shown(self.image_size)}")
        return self


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    lr_schedule: str = "constant"  # constant, or cosine: decay every learning rate to 0 over all steps
    adv_lr: float = 1e-3  # AAE discriminator and generator steps (2e-4 let the codes drift off the prior)
    weight_decay: float = 0.0  # decoupled (AdamW) weight decay of the encoder/decoder step; 0 = plain Adam
    decoder_epochs: int = 0  # the last N of the epochs train the decoder alone (the codes stay as they are)
    seed: int = 0
    device: str = "auto"  # auto = cuda, then mps, then cpu
    log_every: int = 20  # steps between history rows
    limit: int | None = None  # use only the first N training images

    def validate(self) -> "TrainConfig":
        whole = ["epochs", "batch_size", "decoder_epochs", "seed", "log_every"] + ["limit"] * (self.limit is not None)
        for name in whole:
            if isinstance(getattr(self, name), bool) or not isinstance(getattr(self, name), int):
                raise ConfigError(f"{name} must be a whole number, got {shown(getattr(self, name))}")
        if not (1 <= self.epochs <= 1000):
            raise ConfigError(f"epochs must be between 1 and 1000, got {self.epochs}")
        if not (1 <= self.batch_size <= 8192):
            raise ConfigError(f"batch_size must be between 1 and 8192, got {self.batch_size}")
        for name in ("lr", "adv_lr"):  # NaN fails every comparison, so it is refused here too
            if not (isinstance(getattr(self, name), (int, float)) and 0 < getattr(self, name) <= 1):
                raise ConfigError(f"{name} must be in (0, 1], got {shown(getattr(self, name))}")
        if not (0 <= self.decoder_epochs < self.epochs):
            raise ConfigError(f"decoder_epochs must be between 0 and epochs - 1 ({self.epochs - 1}), "
                              f"got {self.decoder_epochs}")
        if not (isinstance(self.weight_decay, (int, float)) and 0 <= self.weight_decay <= 1):
            raise ConfigError(f"weight_decay must be in [0, 1], got {shown(self.weight_decay)}")
        _choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        if not isinstance(self.device, str):
            raise ConfigError(f"device must be a name like cpu, got {shown(self.device)}")
        if self.log_every < 1:
            raise ConfigError(f"log_every must be >= 1, got {self.log_every}")
        if not (0 <= self.seed <= SEED_MAX):
            raise ConfigError(f"seed must be between 0 and {SEED_MAX}, got {self.seed}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"limit must be a positive number of images, got {self.limit}")
        return self


def _choice(name, value, allowed):
    if value not in allowed:
        raise ConfigError(f"unknown {name} {shown(value)}; expected one of {', '.join(allowed)}")


def _size(name: str, value) -> None:
    """Check one size field against SIZES: a whole number in range, or a list of them of the allowed length."""
    low, high, *entries = SIZES[name]
    values = value if entries else (value,)
    what = f"between {low} and {high}"
    if entries:
        what = (f"two sides (height, width) between {low} and {high} pixels" if name == "image_size" else
                f"1 to {entries[0]} whole numbers between {low} and {high}")
    ok = isinstance(values, (tuple, list)) and values and all(
        isinstance(v, int) and not isinstance(v, bool) and low <= v <= high for v in values)
    if entries:
        ok = ok and (len(values) == entries[0] if name == "image_size" else len(values) <= entries[0])
    if not ok:
        raise ConfigError(f"{name} must be {what}, got {shown(value)}")


def to_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


def from_dict(cls, data: dict, *, where: str = "config"):
    """Build a config dataclass from JSON data, rejecting unknown keys and wrong types (a list of whole numbers
    for the size lists, a whole number for the integer fields: nothing is rounded or split into characters)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a JSON object, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown keys {shown(unknown)}; expected some of {sorted(fields)}")
    values = {}
    for key, value in data.items():
        value = _typed(fields[key].default, value)
        if value is _WRONG:
            raise ConfigError(f"{where}: {key} has the wrong type ({shown(data[key])})")
        values[key] = value
    return cls(**values)


_WRONG = object()


def _whole(value):
    """A JSON whole number (1 or 1.0, not true, 1.5 or "1") as an int, else _WRONG."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _WRONG
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        return _WRONG
    return int(value)


def _typed(default, value):
    """``value`` as the type of the field whose default is ``default``, else _WRONG."""
    if isinstance(default, tuple):
        if not isinstance(value, list):
            return _WRONG
        items = tuple(_whole(v) for v in value)
        return _WRONG if _WRONG in items else items
    if isinstance(default, bool):
        return value if isinstance(value, bool) else _WRONG
    if isinstance(default, int) or (default is None and value is not None):  # limit: None or a whole number
        return _whole(value)
    if isinstance(default, float):
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else _WRONG
    if isinstance(default, str):
        return value if isinstance(value, str) else _WRONG
    return value
