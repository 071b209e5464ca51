"""The report card: one markdown table of every model folder's measured results (its metrics.json ``eval``
block), in the columns a class needs first."""
from __future__ import annotations

from pathlib import Path

from trainer import checkpoint

REPORT_COLUMNS = ("model", "type", "latent", "−ELBO", "recon BCE", "kNN 2-D", "samples look like a digit",
                  "samples in holes", "β", "samples from", "epochs", "train min", "test digits")  # a class's first


def report_card(folders: dict[str, Path]) -> str:
    """A markdown table of every model folder that holds measured results (``metrics.json`` with an ``eval``
    block, as ``python -m trainer eval --save`` or ``pretrained.build`` write it); "" if none does."""
    from trainer.config import MODEL_TYPES, ModelConfig, from_dict

    rows = []
    for key, folder in folders.items():
        try:
            results = checkpoint.read_json(folder / checkpoint.METRICS).get("eval")
            cfg = checkpoint.read_config(folder)
            model = from_dict(ModelConfig, cfg["model"])
        except (checkpoint.CheckpointError, OSError, KeyError, TypeError, ValueError, AttributeError):
            continue  # no measured results, or not readable: the model picker reports real problems
        if not isinstance(results, dict):
            continue
        # > 2-D: of the UMAP plane (pretrained.build measures it), else of the PCA plane (eval/Measure do)
        knn = results.get("knn_accuracy") if model.latent_dim == 2 else results.get("knn_accuracy_umap")
        pca = results.get("knn_accuracy_pca")
        if model.latent_dim > 2 and not isinstance(knn, (int, float)) and isinstance(pca, (int, float)):
            knn = _cell(pca, percent=True) + " (PCA)"
        else:
            knn = _cell(knn, percent=True)
        seconds = results.get("train_seconds")
        cells = {"model": key.split("/", 1)[1].replace("|", "\\|"), "type": model.model.upper(),
                 "latent": str(model.latent_dim), "epochs": str(cfg.get("epoch", "—")),
                 "train min": f"{seconds / 60:.0f}" if isinstance(seconds, (int, float)) else "—",
                 "−ELBO": _cell(results.get("neg_elbo")), "recon BCE": _cell(results.get("recon_bce")),
                 "kNN 2-D": knn, "samples look like a digit": _cell(results.get("confident_share"), percent=True),
                 "samples in holes": _cell(results.get("prior_holes"), percent=True),
                 "samples from": model.sampled_from,
                 "β": f"{model.kl_weight:g}" if model.model in ("vae", "cvae") else "—",
                 "test digits": f"{results['test_images']:,}" if isinstance(results.get("test_images"), int) else "—"}
        order = (model.latent_dim, MODEL_TYPES.index(model.model) if model.model in MODEL_TYPES else 99, key)
        rows.append((order, "| " + " | ".join(cells[column] for column in REPORT_COLUMNS) + " |"))
    if not rows:
        return ""
    head = "| " + " | ".join(REPORT_COLUMNS) + " |\n|" + "---|" * len(REPORT_COLUMNS)
    return head + "\n" + "\n".join(row for _, row in sorted(rows))


def _cell(value, percent: bool = False) -> str:
    if not isinstance(value, (int, float)):
        return "—"
    return f"{100 * value:.0f}%" if percent else f"{value:.1f}"
