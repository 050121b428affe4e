"""The evaluation protocol: which rows train and which rows test, never a random row split.

A lab dataset (packets or requests) carries, per row, ``label_value``
(1 attack), the ``session``, the ``tool`` that sent it, the tool's
``family`` (sqli, xss, ... ; benign rows: "benign"), the benign ``client``
kind (simulated-users, chromium, curl, ...) and the recording ``round``.

Folds (:func:`make_folds`):

- **leave one family out** (``kind="family"``): for every attack family F,
  train on every other family's attacks and on the benign rows of the
  training clients; test on F's attacks and on the benign rows of the
  clients never in training (``holdout_clients``). A family with
  sub-families (``sqli-tamper`` under ``sqli``) is held out whole.
- **evasion** (``kind="evasion"``): a sub-family alone is held out (sqlmap's
  tamper scripts) while its parent stays in training: recall on tampered
  traffic when plain sqlmap was seen.
- **seen tools, other sessions** (``kind="sessions"``): train on every family
  but the last round; test on the last round's attacks and the unseen
  clients: how the detector does on new sessions of known tools.

The benign test rows are the same in every fold (clients never trained on),
so false-positive rates compare across folds and detectors.

Conflicts (:func:`without_conflicts`): an attack session's requests whose
content is a normal training request's (a scanner's crawl of public pages,
sqlmap's first untouched request, a brute-force tool fetching the login
page) are left out of every detector's training rows, as the shipped
request does for itself (``content.conflicts: drop``); they stay in the test
rows, so recall still counts them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

BENIGN = "benign"
UNKNOWN = "unknown"
# A sub-family is held out with its parent in the parent's fold, and alone in its own evasion fold.
PARENT_FAMILY = {"sqli-tamper": "sqli"}

# Older lab datasets have no ``family`` column: their tools, by name. The lab's tool registry
# writes the family into new datasets; this covers the first generation's eight tools.
_LEGACY_FAMILIES = (
    ("sqlmap-tamper", "sqli-tamper"), ("sqlmap", "sqli"), ("wfuzz-sqli", "sqli"), ("wfuzz-xss", "xss"),
    ("wfuzz-traversal", "traversal"), ("wfuzz", "discovery"), ("nmap", "scanner"), ("hydra", "brute-force"),
    ("slowhttptest", "slow-dos"),
)


def legacy_family(tool: str, label_value: int) -> str:
    """The family of a first-generation tool name (benign rows: "benign")."""
    if not label_value:
        return BENIGN
    for prefix, family in _LEGACY_FAMILIES:
        if tool == prefix or tool.startswith(prefix + "-") or tool.startswith(prefix + "@"):
            return family
    return UNKNOWN


def with_protocol_columns(df: pd.DataFrame, default_client: str = "simulated-users") -> pd.DataFrame:
    """``df`` with ``family`` and ``client`` filled where the dataset lacks them (older recordings)."""
    missing = [c for c in ("label_value", "tool") if c not in df.columns]
    if missing:
        raise ValueError(f"the dataset has no {', '.join(missing)} column (build it with antinex-lab build)")
    out = df.copy()
    labels = out["label_value"].astype(int)
    if "family" not in out.columns:
        out["family"] = [legacy_family(str(t), v) for t, v in zip(out["tool"], labels)]
    out.loc[labels == 0, "family"] = BENIGN
    if "client" not in out.columns:
        out["client"] = np.where(labels == 0, out["tool"].astype(str), "")
    out["client"] = out["client"].fillna("").astype(str)
    if "round" not in out.columns:
        out["round"] = 0
    return out


@dataclass(frozen=True)
class Fold:
    """One train/test split of the protocol (boolean masks over the dataset's rows)."""

    name: str  # the held-out family, or "sessions"
    kind: str  # "family" | "evasion" | "sessions"
    train: np.ndarray
    test: np.ndarray
    held_out: tuple[str, ...]  # families whose attacks are only in the test rows
    conflicts: int = 0  # attack rows left out of the training rows (without_conflicts)

    def describe(self, df: pd.DataFrame) -> dict:
        tr, te = df[self.train], df[self.test]
        return {"name": self.name, "kind": self.kind, "held_out": list(self.held_out),
                "train_rows": int(self.train.sum()), "test_rows": int(self.test.sum()),
                "train_attacks": int(tr["label_value"].sum()), "test_attacks": int(te["label_value"].sum()),
                "test_benign": int((te["label_value"] == 0).sum()), "train_conflicts_dropped": self.conflicts,
                "train_clients": sorted(set(tr.loc[tr["label_value"] == 0, "client"])),
                "test_clients": sorted(set(te.loc[te["label_value"] == 0, "client"]))}


def attack_families(df: pd.DataFrame) -> list[str]:
    """The attack families of a dataset, known ones only, in a stable order."""
    fams = set(df.loc[df["label_value"].astype(int) == 1, "family"].astype(str)) - {UNKNOWN, BENIGN, ""}
    return sorted(fams)


def _top_family(family: str) -> str:
    return PARENT_FAMILY.get(family, family)


def make_folds(df: pd.DataFrame, holdout_clients: tuple[str, ...], *, families: tuple[str, ...] | None = None,
               sessions_fold: bool = True) -> list[Fold]:
    """The protocol's folds over ``df`` (already through :func:`with_protocol_columns`).

    ``holdout_clients``: benign client kinds never trained on; their rows are
    every fold's benign test rows. ``families``: limit the leave-one-out folds.
    """
    attack = df["label_value"].astype(int).to_numpy() == 1
    fam = df["family"].astype(str).to_numpy()
    known = attack & ~np.isin(fam, [UNKNOWN, ""])  # unattributed attacker rows are neither trained on nor scored
    clients = df["client"].astype(str).to_numpy()
    benign_test = ~attack & np.isin(clients, list(holdout_clients))
    benign_train = ~attack & ~benign_test
    if not benign_test.any():
        raise ValueError(f"no benign rows of the held-out clients {', '.join(holdout_clients) or '(none)'}; "
                         f"clients in the dataset: {', '.join(sorted(set(clients[~attack])))}")
    if not benign_train.any():
        raise ValueError("every benign client is held out: nothing benign left to train on")
    present = attack_families(df)
    top = np.array([_top_family(f) for f in fam])
    folds = []
    for family in sorted({_top_family(f) for f in present}):
        if families and family not in families:
            continue
        held = known & (top == family)
        train = benign_train | (known & ~held)
        folds.append(Fold(family, "family", train, benign_test | held,
                          tuple(sorted({f for f in present if _top_family(f) == family}))))
    for sub, parent in PARENT_FAMILY.items():
        if sub in present and parent in present and (not families or sub in families or parent in families):
            held = known & (fam == sub)
            folds.append(Fold(sub, "evasion", benign_train | (known & ~held), benign_test | held, (sub,)))
    rounds = sorted(df["round"].unique(), key=str)
    if sessions_fold and len(rounds) > 1:
        last = df["round"].to_numpy() == rounds[-1]
        folds.append(Fold("sessions", "sessions", benign_train & ~last | (known & ~last), benign_test | (known & last),
                          ()))
    for f in folds:
        y = df.loc[f.train, "label_value"].astype(int)
        if y.nunique() < 2:
            raise ValueError(f"fold {f.name}: the training rows lack one of the classes")
    return folds


def without_conflicts(df: pd.DataFrame, folds: list[Fold], column: str) -> list[Fold]:
    """``folds`` with the attack rows whose content equals a normal training row's (read from the request-text
    ``column``: ``antinex.utils.content.conflicting_rows``) taken out of their training rows."""
    from dataclasses import replace

    from antinex.utils.content import conflicts_of, content_keys

    keys = content_keys(df[column].to_numpy(dtype=object))  # once: every fold reads the same rows' keys
    y = df["label_value"].astype(int).to_numpy()
    out = []
    for f in folds:
        where = np.flatnonzero(f.train)
        drop = where[conflicts_of([keys[i] for i in where], y[where])]
        train = f.train.copy()
        train[drop] = False
        out.append(replace(f, train=train, conflicts=len(drop)))
    return out
