"""Plots people would rather look at than read: confusion matrix, training curves."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def confusion_matrix_png(matrix: list[list[int]], labels: list[str], path: str | Path,
                         title: str = "Confusion matrix (held-out rows)") -> Path:
    cm = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=30)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center",
                color="white" if v > cm.max() / 2 else "black")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def trained_on_scaled_target(data: dict) -> bool:
    """A result's ``data`` (``ml_type``, ``apply_scaler``) says its regression fitted the scaled target."""
    return data.get("ml_type") == "regression" and bool(data.get("apply_scaler"))


def training_curves_figure(history: dict[str, list[float]], title: str = "Training curves",
                           scaled_target: bool = False) -> plt.Figure:
    """Loss and metric curves per epoch.

    ``scaled_target``: a regression fitted on the min-max scaled target, so
    its loss and error metrics are in the scaler's units, not the target's:
    the labels and the title say so.
    """
    keys = [k for k in history if k not in ("acc", "val_acc")]
    losses = [k for k in keys if "loss" in k]
    others = [k for k in keys if "loss" not in k]
    unit = " (scaled target)" if scaled_target else ""
    if scaled_target:
        title = f"{title} (on the scaled target, not in its units)"
    fig, axes = plt.subplots(1, 2 if others else 1, figsize=(9 if others else 5, 3.5), squeeze=False)
    for ax, group, name in ((axes[0][0], losses, "loss"), (axes[0][-1], others, "metric")):
        if not group:
            continue
        for k in group:
            ax.plot(range(1, len(history[k]) + 1), history[k], marker="o", label=k)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name + unit)
        ax.legend()
    fig.suptitle(title, fontsize=10 if scaled_target else None)
    fig.tight_layout()
    return fig


def training_curves_png(history: dict[str, list[float]], path: str | Path,
                        title: str = "Training curves", scaled_target: bool = False) -> Path:
    fig = training_curves_figure(history, title, scaled_target)
    # the title also goes into the PNG's metadata: what the picture shows, for tools and screen readers
    fig.savefig(path, dpi=100, metadata={"Title": fig.get_suptitle()})
    plt.close(fig)
    return Path(path)
