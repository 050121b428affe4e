"""The honest evaluation: leave one attack family out, unseen clients, five seeds, baselines beside.

    antinex-lab report -o OUTDIR [--requests REQUESTS.csv.gz] [--packets PACKETS.csv.gz]
        [--holdout-clients curl,httpie,chromium] [--seeds 7,1,2,3,42] [--epochs N]
        [--detector NAME=request.json ...] [--crs 1,2,3,4] [--mutations percent,case,...] [--zap DIR]

For each unit (requests and/or packets) the protocol of
:mod:`antinex.pipeline.lab.protocol` makes the folds (one per attack family,
the evasion fold for sqlmap's tamper scripts, and new sessions of known
tools); every detector (:mod:`antinex.pipeline.lab.detectors`) is trained on
each fold's training rows once per seed and judged on its test rows: the
held-out family's attacks and the benign rows of clients never in training.
Figures are means over the seeds with their spread (standard deviation and
range); nothing is ever split by random rows. The report writes
``report.md``, ``report.json`` and plots, and says per target whether it is met.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from antinex.pipeline.lab.detectors import (PACKET_TEXT_COLUMN, SOURCE_COLUMN, TEXT_COLUMN, TIME_COLUMN, Either,
                                            Escalated, FixedVerdicts, NetworkDetector, RandomForest,
                                            SignatureDetector, TfidfLogReg)
from antinex.pipeline.lab.protocol import Fold, make_folds, with_protocol_columns, without_conflicts

DEFAULT_SEEDS = (7, 1, 2, 3, 42)
DEFAULT_HOLDOUT_CLIENTS = ("curl", "httpie", "browser")  # pipeline/lab/clients.py CLIENT_KINDS
# The targets (docs/dataset-lab.md): per request, on held-out families and unseen clients.
TARGET_RECALL, TARGET_FPR, TARGET_TAMPER_RECALL, TARGET_CRS_MARGIN = 0.95, 0.001, 0.90, 0.10
# Families whose payload sits in parameter values: the mutations rewrite those.
MUTABLE_FAMILIES = ("sqli", "xss", "traversal", "cmdi")
SHIPPED = "antinex"
SIGNATURES_NAME = "signatures"  # the shipped detector's injection signatures alone
RULES_COLUMN = "rule_flag"  # the timing and window rules' verdict per request (antinex-lab build)


def scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """Counts, recall, false-positive rate, precision, F1 and accuracy of the attack class (1)."""
    y_true, y_pred = np.asarray(y_true).astype(int), np.asarray(y_pred).astype(int)
    tp = int(((y_pred == 1) & (y_true == 1)).sum())
    fp = int(((y_pred == 1) & (y_true == 0)).sum())
    fn = int(((y_pred == 0) & (y_true == 1)).sum())
    tn = int(((y_pred == 0) & (y_true == 0)).sum())
    div = lambda a, b: a / b if b else None  # noqa: E731
    precision, recall = div(tp, tp + fp), div(tp, tp + fn)
    f1 = div(2 * precision * recall, precision + recall) if precision and recall else (
        0.0 if precision is not None and recall is not None else None)
    return {"rows": len(y_true), "attacks": tp + fn, "benign": tn + fp, "tp": tp, "fp": fp, "fn": fn, "tn": tn,
            "recall": recall, "fpr": div(fp, fp + tn), "precision": precision, "f1": f1,
            "accuracy": div(tp + tn, len(y_true))}


def spread(values: list[float | None]) -> dict:
    """Mean, standard deviation, minimum and maximum of the values that exist."""
    vals = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not vals:
        return {"mean": None, "std": None, "min": None, "max": None, "n": 0}
    arr = np.asarray(vals, dtype=float)
    return {"mean": float(arr.mean()), "std": float(arr.std()), "min": float(arr.min()), "max": float(arr.max()),
            "n": len(vals)}


@dataclass
class Unit:
    """One dataset to evaluate: requests (one row per HTTP request) or packets."""

    name: str  # "request" | "packet"
    frame: pd.DataFrame
    detectors: list


def load_unit(name: str, path: Path) -> pd.DataFrame:
    """A lab dataset with its protocol columns; ValueError naming the file when it cannot be one."""
    if not Path(path).is_file():
        raise ValueError(f"no such {name} dataset: {path}")
    try:
        df = pd.read_csv(path, low_memory=False)
    except (OSError, UnicodeDecodeError, EOFError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"cannot read the {name} dataset {path}: {exc}") from None
    if df.empty:
        raise ValueError(f"the {name} dataset {path} has no rows")
    return with_protocol_columns(df)


def check_rules_profile(path: Path, holdout_clients: tuple[str, ...]) -> None:
    """The rules' verdicts in a dataset (``rule_flag``) must come from a profile that never saw the held-out
    clients: ``antinex-lab build`` writes what it was fitted on into ``metadata.json`` beside the dataset."""
    meta_path = Path(path).parent / "metadata.json"
    if not meta_path.is_file():
        return
    meta = json.loads(meta_path.read_text())
    fitted = ((meta.get("rules_profile") or {}).get("fitted_on") or {}).get("sources") or []
    roles = (meta.get("recording") or {}).get("addresses") or {}
    seen = sorted({roles.get(ip, {}).get("kind") or ip for ip in fitted} & set(holdout_clients))
    if seen:
        raise ValueError(f"the rules' profile in {path} was fitted on {', '.join(seen)}, which this report holds "
                         f"out: rebuild with antinex-lab build --rules-holdout-clients {','.join(holdout_clients)}")


def numeric_features(body: dict, df: pd.DataFrame) -> list[str]:
    """The numeric columns a request body trains on that the dataset has (the random forest gets the same)."""
    named = [f for f in body.get("features_to_process") or [] if f in df.columns]
    return [f for f in named if pd.api.types.is_numeric_dtype(df[f])]


def default_detectors(unit: str, df: pd.DataFrame, bodies: dict[str, dict], epochs: int | None,
                      skipped: list[str] | None = None, signature_kinds: tuple[str, ...] | None = None,
                      escalate: tuple[int, float] | None = None) -> list:
    """The shipped detector (first body), any further request bodies, and the two baselines.

    The shipped detector is the network *or* the injection signatures (per request, ``signature_kinds``,
    :mod:`antinex.pipeline.injection`), escalated per source (``escalate``: (after, window),
    :mod:`antinex.pipeline.escalation`; None or after 0: off), *or*, with their verdicts in the dataset
    (``rule_flag``, ``antinex-lab build``), the timing and window rules, as ``antinex-pcap predict`` and the
    subscriber judge. From the same fit, its network alone is reported too (``<name>-network``) and, with
    escalation, the detector without it (``<name>-no-escalation``); the signatures and rules alone as well.
    A baseline the dataset cannot feed is left out and said in ``skipped``.
    """
    dets = []
    for i, (name, body) in enumerate(bodies.items()):
        net = NetworkDetector(name, body, epochs=epochs)
        if i > 0:
            dets.append(net)
            continue
        sigs = SignatureDetector(SIGNATURES_NAME, signature_kinds) \
            if unit == "request" and TEXT_COLUMN in df.columns else None
        rules = FixedVerdicts("rules", RULES_COLUMN) if RULES_COLUMN in df.columns else None
        escalating = bool(escalate and escalate[0]) and unit == "request"
        if sigs is None and rules is None and not escalating:
            dets.append(net)
            continue
        net.name = f"{name}-network"  # scored on its own too, from the same fit (run_unit: parts)
        requests = Either(f"{name}-requests", net, sigs) if sigs is not None else net  # what judge() decides

        def with_rules(det, label):
            return Either(label, det, rules) if rules is not None else det

        if escalating:
            shipped = with_rules(Escalated(f"{name}-escalated", requests, *escalate,
                                           rules=RULES_COLUMN if rules is not None else None), name)
            plain = with_rules(requests, f"{name}-no-escalation")
            if plain is not net:  # (without signatures and rules, the network alone is the one without)
                plain.name = f"{name}-no-escalation"
            shipped.parts = [net, plain] if plain is not net else [net]
        else:
            shipped = with_rules(requests, name)
            shipped.parts = [net]
        shipped.name = name
        dets += [shipped, *(d for d in (sigs, rules) if d is not None)]
    first = next(iter(bodies.values()), {})
    if TEXT_COLUMN in df.columns or PACKET_TEXT_COLUMN in df.columns:
        dets.append(TfidfLogReg())
    elif skipped is not None:
        skipped.append(f"tfidf-lr: the {unit} dataset has no {TEXT_COLUMN} or {PACKET_TEXT_COLUMN} column")
    features = numeric_features(first, df)
    if first.get("content") and TEXT_COLUMN in df.columns:
        content = first["content"] if isinstance(first["content"], dict) else {}
        # 100 trees on the content matrix (thousands of hashed columns): 200 took minutes a fold for no
        # measurable gain on the lab's data
        dets.append(RandomForest(features, content=content, n_estimators=100))
    elif features:
        dets.append(RandomForest(features))
    elif skipped is not None:
        skipped.append("random-forest: none of the first detector's features_to_process is a numeric column")
    return dets


def _fold_scores(test: pd.DataFrame, pred: np.ndarray) -> dict:
    y = test["label_value"].astype(int).to_numpy()
    out = scores(y, pred)
    attack = y == 1
    out["by_tool"] = {t: float(pred[attack & (test["tool"] == t).to_numpy()].mean())
                      for t in sorted(set(test.loc[attack, "tool"].astype(str)))}
    out["by_family"] = {f: float(pred[attack & (test["family"] == f).to_numpy()].mean())
                        for f in sorted(set(test.loc[attack, "family"].astype(str)))}
    benign = ~attack
    out["fpr_by_client"] = {c: float(pred[benign & (test["client"] == c).to_numpy()].mean())
                            for c in sorted(set(test.loc[benign, "client"].astype(str)))}
    return out


def _mutated_recall(det, test: pd.DataFrame, mutations: tuple[str, ...], seed: int) -> dict:
    """Recall on the fold's attack requests rewritten by each mutation (requests only)."""
    from antinex.pipeline.http_message import request_from_text, request_to_text
    from antinex.pipeline.lab.mutate import mutate_request

    attacks = test[test["label_value"].astype(int) == 1]
    if attacks.empty or "http_request" not in attacks.columns:
        return {}
    out = {}
    for how in mutations:
        changed = attacks.copy()
        changed["http_request"] = [request_to_text(mutate_request(request_from_text(t), how, seed + i))
                                   for i, t in enumerate(attacks["http_request"])]
        out[how] = float(np.mean(det.predict(changed)))
    out["original"] = float(np.mean(det.predict(attacks)))
    return out


def run_unit(unit: Unit, folds: list[Fold], seeds: tuple[int, ...], mutations: tuple[str, ...],
             progress: bool = True) -> dict:
    """Every detector on every fold, once per seed (verdicts that do not train: once)."""
    from tqdm import tqdm

    df = unit.frame
    jobs = [(f, d, s) for f in folds for d in unit.detectors
            for s in (seeds if getattr(d, "trains", True) else seeds[:1])]
    bar = tqdm(total=len(jobs), desc=f"{unit.name}s", unit="fit", disable=not progress)
    result: dict = {"folds": {}}
    for fold in folds:
        entry = {**fold.describe(df), "detectors": {}}
        train, test = df[fold.train].reset_index(drop=True), df[fold.test].reset_index(drop=True)
        for det in unit.detectors:
            runs, part_runs = {}, {}  # part_runs: part name -> seed -> scores
            for seed in (seeds if getattr(det, "trains", True) else seeds[:1]):
                bar.set_postfix_str(f"{fold.name} · {det.name} · seed {seed}")
                det.fit(train, seed)
                run = _fold_scores(test, det.predict(test))
                if mutations and unit.name == "request" and set(fold.held_out) & set(MUTABLE_FAMILIES):
                    run["mutated_recall"] = _mutated_recall(det, test, mutations, seed)
                runs[str(seed)] = run
                for part in getattr(det, "parts", ()):  # e.g. its network alone, from the same fit
                    part_runs.setdefault(part.name, {})[str(seed)] = _fold_scores(test, part.predict(test))
                bar.update()
            for name, rs in ((det.name, runs), *part_runs.items()):
                if rs:
                    entry["detectors"][name] = {"seeds": rs, **{k: spread([r[k] for r in rs.values()])
                                                                for k in ("recall", "fpr", "precision", "f1")}}
        result["folds"][fold.name] = entry
    bar.close()
    result["overall"] = overall(result["folds"])
    return result


def overall(folds: dict) -> dict:
    """Per detector, over the leave-one-family-out folds: pooled recall, mean FPR and F1, per seed, then spread."""
    out: dict = {}
    family_folds = [f for f in folds.values() if f["kind"] == "family"]
    names = {d for f in family_folds for d in f["detectors"]}
    for name in sorted(names):
        per_seed: dict[str, dict] = {}
        for f in family_folds:
            for seed, run in f["detectors"].get(name, {}).get("seeds", {}).items():
                acc = per_seed.setdefault(seed, {"tp": 0, "fn": 0, "fpr": [], "f1": []})
                acc["tp"] += run["tp"]
                acc["fn"] += run["fn"]
                acc["fpr"].append(run["fpr"])
                acc["f1"].append(run["f1"])
        recall = [a["tp"] / (a["tp"] + a["fn"]) if a["tp"] + a["fn"] else None for a in per_seed.values()]
        fpr = [spread(a["fpr"])["mean"] for a in per_seed.values()]
        f1 = [spread(a["f1"])["mean"] for a in per_seed.values()]
        worst_fpr = [max((v for v in a["fpr"] if v is not None), default=None) for a in per_seed.values()]
        out[name] = {"recall": spread(recall), "fpr": spread(fpr), "f1": spread(f1), "worst_fold_fpr": spread(worst_fpr),
                     "seeds": sorted(per_seed)}
    return out


def signature_columns(df: pd.DataFrame, levels: tuple[int, ...], cache: Path | None = None,
                      allowed_methods: tuple[str, ...] = ()) -> tuple[list, dict]:
    """Verdict columns of the signature baselines for every request, computed once (they do not train):
    ModSecurity with the OWASP CRS at each paranoia level (``crs_pl<N>``), replayed to a real Apache
    (:mod:`antinex.pipeline.lab.crs_report`), and libinjection when it is installed (``libinj``).
    With ``allowed_methods``, paranoia level 1 once more with the CRS told the application's methods
    (``crs-pl1-tuned``: what an operator of a JSON API configures). Returns the detectors reading them
    and what ran (versions)."""
    from antinex.pipeline.lab.crs_report import evaluate_crs

    verdicts, summary = evaluate_crs(df, levels=levels, group_column=None, cache=cache)
    dets = []
    for level in levels:
        df[f"crs_pl{level}"] = verdicts[f"crs_pl{level}_flagged"].reindex(df.index).fillna(False).astype(int)
        dets.append(FixedVerdicts(f"crs-pl{level}", f"crs_pl{level}"))
    if allowed_methods:
        tuned, _ = evaluate_crs(df, levels=(1,), group_column=None, cache=cache, libinjection=False,
                                allowed_methods=allowed_methods)
        df["crs_pl1_tuned"] = tuned["crs_pl1_flagged"].reindex(df.index).fillna(False).astype(int)
        dets.append(FixedVerdicts("crs-pl1-tuned", "crs_pl1_tuned"))
        summary.setdefault("meta", {})["allowed_methods"] = list(allowed_methods)
    if "libinj_flagged" in verdicts.columns:
        df["libinj"] = verdicts["libinj_flagged"].reindex(df.index).fillna(False).astype(int)
        dets.append(FixedVerdicts("libinjection", "libinj"))
    return dets, {"meta": summary.get("meta", {}), "skipped_rows": summary.get("skipped_rows", 0)}


def targets(results: dict) -> list[dict]:
    """The issue's targets against the request unit's figures: met or not, with the numbers."""
    req = results["units"].get("request")
    if not req:
        return []
    ov, folds = req["overall"], req["folds"]
    shipped = ov.get(SHIPPED)
    out = []
    if shipped:
        base = {k: v for k, v in ov.items() if k in ("tfidf-lr", "random-forest")}
        beat = shipped["f1"]["mean"] is not None and all(
            b["f1"]["mean"] is None or shipped["f1"]["mean"] > b["f1"]["mean"] for b in base.values())
        out.append({"target": "the shipped detector beats both baselines on F1 per request (mean over "
                              "held-out families and seeds)", "met": bool(base) and beat,
                    "figures": {k: v["f1"]["mean"] for k, v in {SHIPPED: shipped, **base}.items()}})
        for name, fold in folds.items():
            if fold["kind"] != "family" or SHIPPED not in fold["detectors"]:
                continue
            d = fold["detectors"][SHIPPED]
            met = (d["recall"]["mean"] or 0) >= TARGET_RECALL and (d["fpr"]["mean"] or 0) <= TARGET_FPR
            out.append({"target": f"leave-one-out recall >= {TARGET_RECALL:.0%} at FPR <= {TARGET_FPR:.1%}: {name}",
                        "met": met, "figures": {"recall": d["recall"]["mean"], "fpr": d["fpr"]["mean"]}})
        tamper = folds.get("sqli-tamper", {}).get("detectors", {}).get(SHIPPED)
        if tamper:
            out.append({"target": f"recall >= {TARGET_TAMPER_RECALL:.0%} on sqlmap tamper scripts held out",
                        "met": (tamper["recall"]["mean"] or 0) >= TARGET_TAMPER_RECALL,
                        "figures": {"recall": tamper["recall"]["mean"]}})
        pl1 = ov.get("crs-pl1")
        if pl1:
            met = (shipped["recall"]["mean"] or 0) >= (pl1["recall"]["mean"] or 0) + TARGET_CRS_MARGIN and \
                (shipped["fpr"]["mean"] or 0) <= (pl1["fpr"]["mean"] or 0)
            out.append({"target": "recall >= 10 points above CRS paranoia level 1 at an FPR no higher than PL1's",
                        "met": met, "figures": {"recall": shipped["recall"]["mean"], "fpr": shipped["fpr"]["mean"],
                                                "crs_pl1_recall": pl1["recall"]["mean"],
                                                "crs_pl1_fpr": pl1["fpr"]["mean"]}})
    return out


def crs_wins(results: dict) -> list[str]:
    """Folds where a signature baseline has a higher recall than the shipped detector at no higher FPR."""
    out = []
    for fname, fold in results["units"].get("request", {}).get("folds", {}).items():
        ours = fold["detectors"].get(SHIPPED)
        if not ours:
            continue
        for name, d in fold["detectors"].items():
            if not name.startswith(("crs-", "libinjection")):
                continue
            if (d["recall"]["mean"] or 0) > (ours["recall"]["mean"] or 0) and \
                    (d["fpr"]["mean"] or 0) <= (ours["fpr"]["mean"] or 0):
                out.append(f"{fname}: {name} recall {d['recall']['mean']:.2%} (FPR {d['fpr']['mean']:.2%}) vs "
                           f"ours {ours['recall']['mean']:.2%} (FPR {ours['fpr']['mean']:.2%})")
    return out


def evaluate(out: Path, *, requests: Path | None = None, packets: Path | None = None,
             holdout_clients: tuple[str, ...] = DEFAULT_HOLDOUT_CLIENTS, seeds: tuple[int, ...] = DEFAULT_SEEDS,
             epochs: int | None = None, request_bodies: dict[str, dict] | None = None,
             packet_bodies: dict[str, dict] | None = None, crs_levels: tuple[int, ...] = (),
             crs_allowed_methods: tuple[str, ...] = (),
             mutations: tuple[str, ...] = (), families: tuple[str, ...] | None = None,
             zap_dir: Path | None = None, recording: Path | None = None, progress: bool = True,
             escalate: tuple[int | None, float | None] | None = (None, None)) -> dict:
    """Run the protocol on the given datasets; writes report.md, report.json and plots to ``out``.

    ``escalate``: (after, window) of the shipped detector's source escalation, a None in either taking the
    setting (:mod:`antinex.pipeline.escalation`); None or after 0: the detector without it.

    ``recording``: the namespace recording the datasets were built from: the timing and window rules are
    measured on it per connection and per source (:mod:`antinex.pipeline.lab.flow_eval`).
    """
    if requests is None and packets is None and recording is None:
        raise ValueError("give a request-level dataset (--requests), a packet-level one (--packets), "
                         "a recording (--recording), or several")
    if not seeds:
        raise ValueError("at least one seed")
    if crs_allowed_methods and not crs_levels:
        raise ValueError("--crs-allowed-methods: a second CRS pass needs the first (--crs 1,2,3,4)")
    from antinex.pipeline.lab.crs import check_methods

    check_methods(crs_allowed_methods, "--crs-allowed-methods")
    from antinex.pipeline.settings import escalation
    from antinex.utils.data import DEFAULT_REQUEST, PACKET_REQUEST

    if escalate is not None:
        after, window = escalation()
        escalate = (after if escalate[0] is None else escalate[0], window if escalate[1] is None else escalate[1])
        if escalate[0] < 0 or escalate[1] <= 0:
            raise ValueError(f"--escalate-after {escalate[0]} / --escalate-window {escalate[1]:g}: after is a "
                             f"count (0: off), window a positive number of seconds")
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {"seeds": list(seeds), "holdout_clients": list(holdout_clients), "epochs": epochs, "units": {},
                     "skipped": [], "escalation": list(escalate) if escalate and escalate[0] else None}
    plan = []
    if requests is not None:
        df = load_unit("request", requests)
        if RULES_COLUMN in df.columns:
            check_rules_profile(requests, holdout_clients)
        bodies = request_bodies or {SHIPPED: json.loads(DEFAULT_REQUEST.read_text())}
        if escalate and escalate[0] and not {SOURCE_COLUMN, TIME_COLUMN} <= set(df.columns):
            results["skipped"].append(f"source escalation: the request dataset has no {SOURCE_COLUMN} and "
                                      f"{TIME_COLUMN} columns")
            escalate = results["escalation"] = None
        dets = default_detectors("request", df, bodies, epochs, results["skipped"], escalate=escalate)
        if crs_levels:
            signatures, results["signatures"] = signature_columns(df, crs_levels, out / "crs_cache.sqlite",
                                                                  crs_allowed_methods)
            dets += signatures
        plan.append(Unit("request", df, dets))
    if packets is not None:
        df = load_unit("packet", packets)
        bodies = packet_bodies or {SHIPPED: json.loads(PACKET_REQUEST.read_text())}
        plan.append(Unit("packet", df, default_detectors("packet", df, bodies, epochs, results["skipped"])))
    for unit in plan:
        folds = make_folds(unit.frame, holdout_clients, families=families)
        if unit.name == "request" and TEXT_COLUMN in unit.frame.columns:  # the same training rows for all
            folds = without_conflicts(unit.frame, folds, TEXT_COLUMN)
        res = run_unit(unit, folds, seeds, mutations if unit.name == "request" else (), progress)
        res["dataset"] = str(requests if unit.name == "request" else packets)
        res["rows"] = len(unit.frame)
        results["units"][unit.name] = res
    if zap_dir is not None and "packet" in results["units"]:
        results["units"]["packet"]["zap"] = zap_detection(plan[-1], zap_dir, seeds[0])
    results["targets"] = targets(results)
    if recording is not None:
        from antinex.pipeline.lab import flow_eval

        results["flows"] = flow_eval.evaluate_flows(Path(recording), holdout_clients, progress=progress)
        results["targets"] += flow_eval.targets(results["flows"]["summary"])
    (out / "report.json").write_text(json.dumps(results, indent=2, default=str))
    (out / "report.md").write_text(markdown(results))
    plot(results, out)
    return results


# --------------------------------------------------------------------------
# the public AntiNex OWASP ZAP captures (attacks only)
# --------------------------------------------------------------------------
def zap_rows(directory: Path) -> pd.DataFrame:
    """HTTP request rows of the public ZAP captures: JSON archives through the subscriber's
    flattener (``flatten_message``), CSVs from their recorded ``raw_load``; then the payload features."""
    from antinex.pipeline.flatten import flatten_message
    from antinex.pipeline.payload_features import add_payload_features

    frames = []
    for archive in sorted(directory.rglob("packets-*.json")):
        packets = json.loads(archive.read_text())["packets"]
        df = pd.DataFrame([flatten_message(p["data"]) for p in packets])
        df["source_file"] = archive.name
        frames.append(df)
    archived = {a.name.removeprefix("packets-").removesuffix(".json") for a in directory.rglob("packets-*.json")}
    for csv in sorted(directory.rglob("netdata-*.csv")):
        if csv.stem in archived:
            continue  # the same packets as an archive already read
        df = pd.read_csv(csv, usecols=lambda c: c.startswith(("raw_", "ip_", "tcp_")))
        df["source_file"] = csv.name
        frames.append(df)
    if not frames:
        raise FileNotFoundError(f"no packets-*.json or netdata-*.csv under {directory}")
    df = add_payload_features(pd.concat(frames, ignore_index=True))
    return df[df["http_is_request"] > 0].reset_index(drop=True)


def zap_detection(unit: Unit, zap_dir: Path, seed: int) -> dict:
    """Each packet detector trained on every family and client, scored on the ZAP captures' request packets."""
    zap = zap_rows(zap_dir)
    df = unit.frame
    out = {"request_packets": len(zap), "detectors": {}}
    for det in unit.detectors:
        if not getattr(det, "trains", True):
            continue
        det.fit(df[df["family"] != "unknown"].reset_index(drop=True), seed)
        hit = det.predict(zap)
        out["detectors"][det.name] = {"detected": int(hit.sum()), "rate": float(hit.mean()),
                                      "by_file": {f: float(hit[(zap["source_file"] == f).to_numpy()].mean())
                                                  for f in sorted(zap["source_file"].unique())}}
    return out


# --------------------------------------------------------------------------
# writing it down
# --------------------------------------------------------------------------
def _pct(s: dict | None) -> str:
    if not s or s.get("mean") is None:
        return "–"
    if s.get("n", 1) > 1:
        return f"{s['mean']:.2%} ± {s['std']:.2%}"
    return f"{s['mean']:.2%}"


def _range(s: dict | None) -> str:
    if not s or s.get("mean") is None or s.get("n", 1) < 2:
        return ""
    return f" ({s['min']:.2%}–{s['max']:.2%})"


def _fig(name: str, v) -> str:
    """A target's figure: shares as percentages, seconds and counts as numbers."""
    if v is None:
        return "–"
    if isinstance(v, float) and not any(w in name for w in (" s ", "attempt", "rounds")):
        return f"{v:.2%}"
    return f"{v:g}" if isinstance(v, (int, float)) else str(v)


def markdown(results: dict) -> str:
    seeds = results["seeds"]
    lines = ["# Detector evaluation: held-out attack families, unseen clients", "",
             f"Seeds: {', '.join(map(str, seeds))} (each trained detector is trained once per seed; figures are "
             f"mean ± standard deviation over the seeds, ranges in brackets). Benign test rows: the clients never "
             f"in training ({', '.join(results['holdout_clients'])}). Never a random row split.", "",
             f"`{SHIPPED}` is the shipped detector as `antinex-pcap predict` and the subscriber run it: the "
             f"request network *or* the injection signatures (libinjection SQLi, SQL tautologies, script in markup"
             f", command injection and Shellshock, `{SIGNATURES_NAME}`) *or* the timing and window rules (`rules`); "
             f"`{SHIPPED}-network` is its network alone.", ""]
    if results.get("escalation"):
        after, window = results["escalation"]
        lines[-1:-1] = [f"Per request, `{SHIPPED}` escalates a source as the analyzer does (`source-escalation`): a "
                        f"request judged benign whose session had {after} attack verdicts of the network or the "
                        f"signatures in the {window:g} s before it is an attack too; `{SHIPPED}-no-escalation` is "
                        f"the same detector without. Escalation needs each session's requests in a span of time "
                        f"(`antinex-lab sample`'s blocks), not a random sample of them.", ""]
    for unit, res in results["units"].items():
        lines += [f"## Per {unit}", "", f"Dataset `{Path(res['dataset']).name}`, {res['rows']:,} rows.", "",
                  "### Overall: every attack family held out in turn", "",
                  "Recall pooled over the families' folds; FPR and F1 averaged over the folds.", "",
                  "| detector | recall | FPR (mean over folds) | worst fold's FPR | F1 |", "|---|---|---|---|---|"]
        for name, o in res["overall"].items():
            lines.append(f"| {name} | {_pct(o['recall'])}{_range(o['recall'])} | {_pct(o['fpr'])} | "
                         f"{_pct(o['worst_fold_fpr'])} | {_pct(o['f1'])} |")
        lines += ["", "### Per fold", ""]
        for fname, fold in res["folds"].items():
            what = {"family": "held out", "evasion": "evasion: held out while its parent family trains",
                    "sessions": "known tools, new sessions (the last round)"}[fold["kind"]]
            lines += [f"**{fname}** ({what}; {fold['test_attacks']:,} attack and {fold['test_benign']:,} benign "
                      f"test rows, trained on {fold['train_rows']:,})", "",
                      "| detector | recall | FPR | precision | F1 | recall per tool (first seed) |",
                      "|---|---|---|---|---|---|"]
            for dname, d in fold["detectors"].items():
                first = next(iter(d["seeds"].values()))
                tools = ", ".join(f"{t} {r:.0%}" for t, r in first["by_tool"].items())
                lines.append(f"| {dname} | {_pct(d['recall'])}{_range(d['recall'])} | {_pct(d['fpr'])} | "
                             f"{_pct(d['precision'])} | {_pct(d['f1'])} | {tools} |")
            mutated = {dname: d["seeds"] for dname, d in fold["detectors"].items()
                       if any("mutated_recall" in r for r in d["seeds"].values())}
            if mutated:
                hows = list(next(r["mutated_recall"] for r in next(iter(mutated.values())).values()))
                lines += ["", "Recall on the same attack requests rewritten (mean over seeds):", "",
                          "| detector | " + " | ".join(hows) + " |", "|---|" + "---|" * len(hows)]
                for dname, runs in mutated.items():
                    vals = [spread([r["mutated_recall"].get(h) for r in runs.values()]) for h in hows]
                    lines.append(f"| {dname} | " + " | ".join(_pct(v) for v in vals) + " |")
            lines.append("")
        if "zap" in res:
            z = res["zap"]
            lines += ["### The public AntiNex OWASP ZAP captures (attacks only)", "",
                      f"{z['request_packets']:,} HTTP request packets; each detector trained on every family "
                      "and client (first seed). They hold attacks only, so this says nothing about false positives.",
                      ""]
            for dname, d in z["detectors"].items():
                lines.append(f"- {dname}: {d['detected']:,} detected ({d['rate']:.2%})")
            lines.append("")
    if results.get("flows"):
        from antinex.pipeline.lab import flow_eval

        lines += flow_eval.markdown(results["flows"])
    if results.get("signatures"):
        versions = results["signatures"]["meta"].get("versions", {})
        lines += ["Signature baselines (no training, one verdict per request): ModSecurity with the OWASP Core "
                  "Rule Set in detection-only mode, flagged at a paranoia level when its inbound anomaly score "
                  "reaches the threshold (docs/crs-baseline.md); versions: "
                  + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".", ""]
        beaten = crs_wins(results)
        if beaten:
            lines += ["Where a signature baseline beats the shipped detector (higher recall at no higher FPR, "
                      "mean over seeds):", ""] + [f"- {b}" for b in beaten] + [""]
    if results.get("skipped"):
        lines += ["Left out: " + "; ".join(results["skipped"]) + ".", ""]
    if results.get("targets"):
        lines += ["## Targets", ""]
        for t in results["targets"]:
            figs = ", ".join(f"{k} {_fig(k, v)}" for k, v in t["figures"].items())
            lines.append(f"- {'**met**' if t['met'] else '**not met**'}: {t['target']} ({figs})")
        lines.append("")
    return "\n".join(lines)


def plot(results: dict, out: Path) -> None:
    """Recall per held-out family for every detector (mean over seeds, bars for the spread), per unit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for unit, res in results["units"].items():
        folds = [f for f in res["folds"].values() if f["kind"] != "sessions"]
        if not folds:
            continue
        names = sorted({d for f in folds for d in f["detectors"]})
        fig, axes = plt.subplots(1, 2, figsize=(max(8, 1.3 * len(folds) + 4), 4), gridspec_kw={"width_ratios": [3, 1]})
        x = np.arange(len(folds))
        width = 0.8 / max(1, len(names))
        for k, name in enumerate(names):
            means = [f["detectors"].get(name, {}).get("recall", {}).get("mean") or 0 for f in folds]
            errs = [f["detectors"].get(name, {}).get("recall", {}).get("std") or 0 for f in folds]
            axes[0].bar(x + (k - (len(names) - 1) / 2) * width, means, width, yerr=errs, label=name, capsize=2)
        axes[0].axhline(TARGET_RECALL, color="k", lw=0.8, ls="--")
        axes[0].set_xticks(x, [f["name"] for f in folds], rotation=30, ha="right")
        axes[0].set_ylim(0, 1.05)
        axes[0].set_title(f"recall on the held-out family, per {unit}")
        axes[0].legend(fontsize=7, loc="lower left")
        ov = res["overall"]
        fprs = [ov[n]["fpr"]["mean"] or 0 for n in names]
        axes[1].barh(np.arange(len(names)), fprs, xerr=[ov[n]["fpr"]["std"] or 0 for n in names])
        axes[1].axvline(TARGET_FPR, color="k", lw=0.8, ls="--")
        axes[1].set_yticks(np.arange(len(names)), names, fontsize=7)
        axes[1].set_title("FPR, unseen clients")
        fig.tight_layout()
        fig.savefig(out / f"per-family-{unit}.png", dpi=110)
        plt.close(fig)
