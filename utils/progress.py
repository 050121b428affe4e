"""Progress bars for long work (training epochs)."""
from __future__ import annotations

import keras
from tqdm.auto import tqdm


class EpochProgress(keras.callbacks.Callback):
    """One tqdm bar over the epochs, showing the latest loss and accuracy."""

    def __init__(self, epochs: int, label: str = "training"):
        super().__init__()
        self.epochs = epochs
        self.label = label
        self.bar = None

    def on_train_begin(self, logs=None):
        self.bar = tqdm(total=self.epochs, desc=self.label[:40], unit="epoch", leave=True)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        shown = {k: f"{v:.4f}" for k, v in logs.items() if k in ("loss", "accuracy", "val_loss", "val_accuracy")}
        self.bar.set_postfix(shown)
        self.bar.update(1)

    def on_train_end(self, logs=None):
        if self.bar is not None:
            self.bar.close()
