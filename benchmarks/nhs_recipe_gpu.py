"""Recipe study of transformer.v1 on NHS comments, on a GPU (issue 24): one row per candidate recipe.

Two steps, so the GPU machine needs neither this package nor its dependencies (only torch, transformers,
scikit-learn, numpy):

    python benchmarks/nhs_recipe_gpu.py prepare --out .device          # here: split, folds, encoder (fp16 copy)
    python benchmarks/nhs_recipe_gpu.py study --prepared .device --out gpu_study.json   # on the GPU machine

``prepare`` reproduces benchmarks/nhs_quality.py's split with the package itself (respondent-grouped, 20% of
respondents held out, seed 0; codes with >= 20 training quotes; text "FFT question: <question> | <comment>") and
also fixes the respondent-grouped inner 2-fold CV of the training side and every 10%-validation split, so the
study only trains. ``study`` re-implements transformer.v1's recipe in plain PyTorch (MiniLM, mean pooling + linear
head, dropout 0.1, AdamW lr 1e-4 encoder / 2e-3 head, linear warm-up 10% and decay, BCE with positive weights
capped at 10, batch 16, bucketed batches, gradient clipping 1.0, bf16 autocast, early stopping on tuned macro-F1).

Each candidate is rated on the inner folds: out-of-fold scores, thresholds tuned on one inner fold's scores and
applied to the other's (and back), macro-F1 over the codes. The held-out respondents are scored once per
candidate, for reference only. Fit seconds: the baseline's held-out fit runs alone; the rest run as concurrent
worker processes on the one GPU (``--workers``), so their seconds are per-fit wall time under that sharing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared/datasets/nhs_patient_experience/v6framework_train.csv"
GROUP = "Respondent ID"
GRID = np.linspace(0.05, 0.95, 19)

#: Candidate recipes: one change at a time from the baseline (transformer.v1 as nhs_quality.py runs it).
#: scheme "val": 10% respondent-grouped validation for early stopping and thresholds (v1);
#: scheme "oof": all quotes train, epochs and thresholds chosen on the inner folds' out-of-fold scores.
BASE = {"scheme": "val", "epochs": 6, "patience": 2, "loss": "bce", "lr_encoder": 1e-4, "lr_head": 2e-3, "seeds": [0],
        "dapt": False}
CANDIDATES = {
    "baseline (v1: 6 ep, patience 2, 10% val)": {},
    "all data, epochs+thresholds from inner folds": {"scheme": "oof"},
    "focal loss (gamma 2)": {"loss": "focal"},
    "asymmetric loss (Ridnik 2021)": {"loss": "asl"},
    "10 epochs": {"epochs": 10},
    "15 epochs": {"epochs": 15},
    "head lr 1e-2": {"lr_head": 1e-2},
    "3 seeds averaged": {"seeds": [0, 1, 2]},
    "domain-adaptive MLM (2 ep) first": {"dapt": True},
}


# ----- prepare (here, with the package) ----------------------------------------------------------------
def prepare(args: argparse.Namespace) -> int:
    """Split, folds and validation splits made by the package; encoder copied in fp16 (the device transfer limit)."""
    sys.path.insert(0, str(REPO / "src"))
    sys.path.insert(0, str(REPO / "benchmarks"))
    from nhs_quality import load_nhs_file, respondent_split

    from lived_themes.coders._context import with_context
    from lived_themes.coders.transformer import inner_validation_split
    from lived_themes.splits import group_kfold

    corpus = load_nhs_file(args.data)
    y_all = corpus.label_matrix("nhs", corpus.codes)
    train_idx, test_idx = respondent_split(corpus, seed=0)
    codes = [c for j, c in enumerate(corpus.codes) if y_all[train_idx, j].sum() >= 20]
    y = np.nan_to_num(corpus.label_matrix("nhs", codes)).astype(int)
    meta = corpus.quotes.reset_index(drop=True)
    texts = with_context(corpus.texts, meta, ["FFT question"])
    groups = meta[GROUP].astype(str).to_numpy()

    def val_split(idx: np.ndarray) -> list[list[int]]:  # positions into idx, as transformer.v1 makes them (seed 0)
        tr, va = inner_validation_split(y[idx], meta.iloc[idx].reset_index(drop=True), fraction=0.1, group=GROUP, seed=0)
        return [tr.tolist(), va.tolist()]

    folds = group_kfold(y[train_idx], groups[train_idx], n_splits=2, seed=0)
    inner = [{"train": f.train_idx.tolist(), "test": f.test_idx.tolist(), "val": val_split(train_idx[f.train_idx])} for f in folds]
    out = {"codes": codes, "texts": list(texts), "labels": y.tolist(), "groups": groups.tolist(),
           "train_idx": train_idx.tolist(), "test_idx": test_idx.tolist(), "inner": inner, "val": val_split(train_idx)}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "nhs_study.json").write_text(json.dumps(out), encoding="utf-8")
    if args.encoder:
        _copy_encoder_fp16(Path(args.encoder), args.out / "encoder")
    print(f"prepared {len(train_idx)} train / {len(test_idx)} test quotes, {len(codes)} codes, "
          f"inner folds {[len(f['test']) for f in inner]} -> {args.out}")
    return 0


def _copy_encoder_fp16(src: Path, dst: Path) -> None:
    import shutil

    from safetensors.torch import load_file, save_file

    dst.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        if (src / name).exists():
            shutil.copy(src / name, dst / name)
    tensors = load_file(str(src / "model.safetensors"))
    save_file({k: v.half().contiguous() for k, v in tensors.items()}, str(dst / "model.safetensors"))


# ----- metrics -------------------------------------------------------------------------------------------
def tune_thresholds(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Per-code F1-maximising threshold on a 0.05 grid; codes without positives keep 0.5 (as the package does)."""
    yb = y.astype(bool)
    th = np.full(y.shape[1], 0.5)
    for j in range(y.shape[1]):
        if not yb[:, j].any():
            continue
        pred = s[:, j][:, None] >= GRID[None, :]
        tp = (pred & yb[:, j][:, None]).sum(0)
        fp = (pred & ~yb[:, j][:, None]).sum(0)
        fn = (~pred & yb[:, j][:, None]).sum(0)
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)
        th[j] = GRID[int(np.argmax(f1))]
    return th


def macro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, pred.astype(int), average="macro", zero_division=0))


def crossfit_f1(ys: list[np.ndarray], ss: list[np.ndarray]) -> float:
    """Two inner folds: thresholds tuned on one fold's out-of-fold scores, applied to the other's, and back."""
    y = np.concatenate(ys)
    pred = np.concatenate([ss[i] >= tune_thresholds(ys[1 - i], ss[1 - i])[None, :] for i in range(2)])
    return macro_f1(y, pred)


# ----- training (on the device: torch + transformers only) ------------------------------------------------
_W: dict = {}


def _init_worker(prepared: str, threads: int) -> None:
    import torch
    from transformers import AutoTokenizer

    torch.set_num_threads(threads)
    data = json.loads((Path(prepared) / "nhs_study.json").read_text(encoding="utf-8"))
    enc = str(Path(prepared) / "encoder")
    tok = AutoTokenizer.from_pretrained(enc)
    _W.update(data=data, encoder=enc, tok=tok, pad=int(tok.pad_token_id or 0),
              ids=list(tok(data["texts"], truncation=True, max_length=128, padding=False)["input_ids"]),
              y=np.array(data["labels"], dtype=np.float32))


def _net(encoder_path: str, n_codes: int, device: str):  # noqa: ANN202
    from torch import nn
    from transformers import AutoModel

    class MeanPool(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(encoder_path).float()  # the copy is fp16; train in fp32 + bf16 autocast
            self.dropout = nn.Dropout(0.1)
            self.head = nn.Linear(int(self.encoder.config.hidden_size), n_codes)

        def forward(self, ids, mask):  # noqa: ANN001, ANN202
            h = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).to(h.dtype)
            return self.head(self.dropout((h * m).sum(1) / m.sum(1).clamp(min=1e-9)))

    return MeanPool().to(device)


def _pad(rows: list[list[int]], pad: int, device: str):  # noqa: ANN202
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
    return ids.to(device, non_blocking=True), mask.to(device, non_blocking=True)


def _loss(logits, targets, kind: str, pos_weight):  # noqa: ANN001, ANN202
    import torch
    from torch import nn

    logits = logits.float()
    if kind == "asl":  # Ridnik et al. 2021: gamma- 4, gamma+ 0, probability margin 0.05, no positive weights
        p = torch.sigmoid(logits)
        p_neg = (p - 0.05).clamp(min=0)
        loss = targets * torch.log(p.clamp(min=1e-8)) + (1 - targets) * (p_neg ** 4) * torch.log((1 - p_neg).clamp(min=1e-8))
        return -loss.mean()
    bce = nn.functional.binary_cross_entropy_with_logits(logits, targets, pos_weight=pos_weight, reduction="none")
    if kind == "focal":
        p = torch.sigmoid(logits)
        pt = p * targets + (1 - p) * (1 - targets)
        return (((1 - pt) ** 2.0) * bce).mean()
    return bce.mean()


def _score(net, rows: list[list[int]], pad: int, device: str) -> np.ndarray:  # noqa: ANN001
    import torch

    net.eval()
    order = np.argsort([-len(r) for r in rows], kind="stable")
    out = np.zeros((len(rows), net.head.out_features), dtype=np.float32)
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda")):
        for b in range(0, len(rows), 64):
            idx = order[b : b + 64]
            ids, mask = _pad([rows[i] for i in idx], pad, device)
            out[idx] = torch.sigmoid(net(ids, mask).float()).cpu().numpy()
    return out


def fit_job(job: dict) -> dict:
    """One fit: train on ``train`` (positions in the data), early-stop on ``val`` if given, score ``evals`` each epoch.

    Returns the scores of the best epoch (scheme val) or of every epoch (scheme oof), and the fit seconds.
    """
    import torch
    from torch import nn

    if not _W:
        _init_worker(job["prepared"], job.get("threads", 2))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    ids, y, pad = _W["ids"], _W["y"], _W["pad"]
    cfg, seed = job["cfg"], job["seed"]
    train, val, evals = np.array(job["train"]), np.array(job.get("val", [])), np.array(job["evals"])
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    started = time.perf_counter()
    net = _net(job.get("encoder") or _W["encoder"], y.shape[1], device)
    pos = y[train].sum(0)
    pw = torch.tensor(np.clip(np.divide(len(train) - pos, pos, out=np.ones_like(pos), where=pos > 0), 1.0, 10.0)).to(device)
    groups = []
    for module, lr in ((net.encoder, cfg["lr_encoder"]), (net.head, cfg["lr_head"])):
        groups.append({"params": [p for p in module.parameters() if p.ndim > 1], "lr": lr, "weight_decay": 0.01})
        groups.append({"params": [p for p in module.parameters() if p.ndim <= 1], "lr": lr, "weight_decay": 0.0})
    opt = torch.optim.AdamW(groups, fused=device.startswith("cuda"))
    epochs = int(job.get("epochs", cfg["epochs"]))
    total = math.ceil(len(train) / 16) * epochs
    if job.get("max_steps"):
        total = min(total, int(job["max_steps"]))
    warm = max(1, math.ceil(total * 0.1))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: (s + 1) / warm if s < warm else max(0.0, (total - s) / max(1, total - warm)))
    rng = np.random.default_rng(seed)
    lengths = np.array([len(ids[i]) for i in train])
    targets = torch.tensor(y)
    best, best_state, best_epoch, stale, step, per_epoch = -1.0, None, 0, 0, 0, []
    for epoch in range(epochs):
        net.train()
        order = rng.permutation(len(train))
        batches = []
        for c in range(0, len(order), 16 * 50):
            part = order[c : c + 16 * 50]
            part = part[np.argsort(lengths[part], kind="stable")]
            batches.extend(part[i : i + 16] for i in range(0, len(part), 16))
        rng.shuffle(batches)
        for b in batches:
            rows = train[b]
            tid, mask = _pad([ids[i] for i in rows], pad, device)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda")):
                logits = net(tid, mask)
            loss = _loss(logits, targets[rows].to(device), cfg["loss"], pw if cfg["loss"] != "asl" else None)
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            sched.step()
            step += 1
            if step >= total:
                break
        if cfg["scheme"] == "oof":  # all quotes train; the caller picks the epoch from these scores
            per_epoch.append(_score(net, [ids[i] for i in evals], pad, device))
        else:
            sv = _score(net, [ids[i] for i in val], pad, device)
            f1 = macro_f1(y[val], sv >= tune_thresholds(y[val], sv)[None, :])
            if f1 > best:
                best, best_epoch, stale = f1, epoch + 1, 0
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
                best_val = sv
            else:
                stale += 1
            if stale >= max(1, cfg["patience"]):
                break
        if step >= total:
            break
    out = {"name": job["name"], "part": job["part"], "seed": seed}
    if cfg["scheme"] == "oof":
        out["per_epoch"] = per_epoch
    else:
        net.load_state_dict(best_state)
        out.update(scores=_score(net, [ids[i] for i in evals], pad, device), val_scores=best_val, best_epoch=best_epoch)
    torch.cuda.synchronize() if device.startswith("cuda") else None
    out["fit_s"] = time.perf_counter() - started
    out["epochs_run"] = epoch + 1
    return out


def dapt_job(job: dict) -> dict:
    """Masked-language-model training of the encoder on the training side's texts (no labels), saved for the fits."""
    import torch
    from transformers import AutoModelForMaskedLM, DataCollatorForLanguageModeling

    if not _W:
        _init_worker(job["prepared"], job.get("threads", 2))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    started = time.perf_counter()
    model = AutoModelForMaskedLM.from_pretrained(_W["encoder"]).float().to(device)
    collate = DataCollatorForLanguageModeling(_W["tok"], mlm_probability=0.15)
    rows = [_W["ids"][i] for i in _W["data"]["train_idx"]]
    opt = torch.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=0.01)
    rng = np.random.default_rng(0)
    steps = 0
    for _ in range(job["epochs"]):
        model.train()
        order = rng.permutation(len(rows))
        for b in range(0, len(order), 32):
            batch = collate([{"input_ids": rows[i]} for i in order[b : b + 32]])
            batch = {k: v.to(device) for k, v in batch.items()}
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda")):
                loss = model(**batch).loss
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            steps += 1
            if job.get("max_steps") and steps >= job["max_steps"]:
                break
    model.base_model.save_pretrained(job["save_to"])
    _W["tok"].save_pretrained(job["save_to"])
    return {"name": "dapt", "part": "mlm", "fit_s": time.perf_counter() - started, "steps": steps, "loss": float(loss)}


# ----- the study ---------------------------------------------------------------------------------------------
def study(args: argparse.Namespace) -> int:
    import concurrent.futures as cf
    import multiprocessing as mp

    t0 = time.perf_counter()
    prepared = str(args.prepared)
    data = json.loads((args.prepared / "nhs_study.json").read_text(encoding="utf-8"))
    y = np.array(data["labels"], dtype=np.float32)
    tr, te = np.array(data["train_idx"]), np.array(data["test_idx"])
    names = [n for n in CANDIDATES if not args.only or any(o in n for o in args.only.split(","))]
    cfgs = {n: {**BASE, **CANDIDATES[n]} for n in names}
    common = {"prepared": prepared, "threads": args.threads, "max_steps": args.max_steps}
    if args.epochs:
        for c in cfgs.values():
            c["epochs"] = min(c["epochs"], args.epochs)
    dapt_dir = "/tmp/dapt_encoder"

    def jobs_for(name: str, part: str) -> list[dict]:
        cfg = cfgs[name]
        enc = dapt_dir if cfg["dapt"] else None
        out = []
        for seed in cfg["seeds"]:
            if part == "heldout":
                if cfg["scheme"] == "oof":
                    continue  # submitted once the inner folds chose the epoch count
                train = tr[data["val"][0]]
                job = {"train": train.tolist(), "val": tr[data["val"][1]].tolist(), "evals": te.tolist()}
            else:
                k = int(part[-1])
                f = data["inner"][k]
                itr, ite = tr[f["train"]], tr[f["test"]]
                if cfg["scheme"] == "oof":
                    job = {"train": itr.tolist(), "evals": ite.tolist()}
                else:
                    job = {"train": itr[f["val"][0]].tolist(), "val": itr[f["val"][1]].tolist(), "evals": ite.tolist()}
            out.append({**common, **job, "name": name, "part": part, "seed": seed, "cfg": cfg, "encoder": enc})
        return out

    results: dict[str, dict] = {n: {"config": cfgs[n], "fits": []} for n in names}
    extra: dict = {}

    def write() -> None:
        rows = {n: {k: v for k, v in r.items() if k not in ("_inner", "_held")} for n, r in results.items()}
        payload = {"device": _device_name(), "n_train": len(tr), "n_test": len(te), "codes": data["codes"], "workers": args.workers,
                   "wall_s": time.perf_counter() - t0, "results": rows, **extra}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, indent=1, default=float), encoding="utf-8")
        os.replace(tmp, args.out)

    # 1. the baseline's held-out fit alone: the figure beside the CPU's fit seconds
    base = names[0]
    _init_worker(prepared, args.threads)
    alone = fit_job(jobs_for(base, "heldout")[0])
    print(f"[{time.perf_counter() - t0:5.0f}s] {base} held-out fit alone: {alone['fit_s']:.1f} s, best epoch {alone['best_epoch']}", flush=True)
    collected: dict[str, dict[str, list[dict]]] = {n: {} for n in names}
    collected[base]["heldout"] = [alone]
    results[base]["fit_s_alone"] = alone["fit_s"]

    ctx = mp.get_context("spawn")
    pool = cf.ProcessPoolExecutor(args.workers, mp_context=ctx, initializer=_init_worker, initargs=(prepared, args.threads))
    pending: set = set()

    def submit(job: dict, fn=fit_job) -> None:  # noqa: ANN001
        pending.add(pool.submit(fn, job))

    if any(cfgs[n]["dapt"] for n in names):
        submit({**common, "epochs": args.dapt_epochs, "save_to": dapt_dir, "max_steps": args.max_steps}, dapt_job)
    for part in ("inner0", "inner1", "heldout"):
        for n in names:
            if not cfgs[n]["dapt"] and not (n == base and part == "heldout"):
                for j in jobs_for(n, part):
                    submit(j)

    def expected(n: str, part: str) -> int:
        return 0 if (part == "heldout" and cfgs[n]["scheme"] == "oof" and "chosen_epochs" not in results[n]) else len(cfgs[n]["seeds"])

    while pending:
        if time.perf_counter() - t0 > args.budget_s:
            for f in pending:
                f.cancel()
            extra["stopped"] = f"budget of {args.budget_s} s reached; unfinished candidates left out"
            print(extra["stopped"], flush=True)
            break
        done, pending = cf.wait(pending, timeout=5, return_when=cf.FIRST_COMPLETED)
        for fut in done:
            r = fut.result()
            if r["name"] == "dapt":
                extra["dapt"] = r
                print(f"[{time.perf_counter() - t0:5.0f}s] MLM pretraining: {r['steps']} steps, {r['fit_s']:.1f} s, last loss {r['loss']:.3f}", flush=True)
                for part in ("inner0", "inner1", "heldout"):
                    for n in names:
                        if cfgs[n]["dapt"]:
                            for j in jobs_for(n, part):
                                submit(j)
                continue
            n = r["name"]
            collected[n].setdefault(r["part"], []).append(r)
            print(f"[{time.perf_counter() - t0:5.0f}s] {n} {r['part']} seed {r['seed']}: {r['fit_s']:.1f} s, "
                  f"{r['epochs_run']} epochs", flush=True)
            c = collected[n]
            inner_done = all(len(c.get(p, [])) == len(cfgs[n]["seeds"]) for p in ("inner0", "inner1"))
            if inner_done and "inner_macro_f1" not in results[n]:
                _rate_inner(n, cfgs[n], c, data, y, tr, results[n])
                if cfgs[n]["scheme"] == "oof":
                    for seed in cfgs[n]["seeds"]:
                        submit({**common, "train": tr.tolist(), "evals": te.tolist(), "name": n, "part": "heldout", "seed": seed,
                                "cfg": {**cfgs[n], "epochs": results[n]["chosen_epochs"]}, "encoder": dapt_dir if cfgs[n]["dapt"] else None})
            if inner_done and len(c.get("heldout", [])) == expected(n, "heldout") and expected(n, "heldout") and "heldout_macro_f1" not in results[n]:
                _rate_heldout(n, cfgs[n], c, data, y, tr, te, results[n])
                print(f"  -> {n}: inner {results[n]['inner_macro_f1']:.3f}, held-out {results[n]['heldout_macro_f1']:.3f}", flush=True)
            results[n]["fits"] = [{"part": f["part"], "seed": f["seed"], "fit_s": round(f["fit_s"], 1), "epochs_run": f["epochs_run"],
                                   **({"best_epoch": f["best_epoch"]} if "best_epoch" in f else {})}
                                  for p in ("inner0", "inner1", "heldout") for f in c.get(p, [])]
            write()
    write()
    print_table(results, extra, time.perf_counter() - t0)
    sys.stdout.flush()
    if extra.get("stopped"):
        os._exit(0)  # fits still running in the workers are abandoned, not waited for
    pool.shutdown(wait=True)
    return 0


def _rate_inner(n: str, cfg: dict, c: dict, data: dict, y: np.ndarray, tr: np.ndarray, res: dict) -> None:
    ys = [y[tr[data["inner"][k]["test"]]] for k in range(2)]
    if cfg["scheme"] == "oof":  # epoch chosen on pooled out-of-fold scores (optimistic by the choice among epochs)
        n_ep = min(len(f["per_epoch"]) for k in (0, 1) for f in c[f"inner{k}"])
        by_epoch = [crossfit_f1(ys, [np.mean([f["per_epoch"][e] for f in c[f"inner{k}"]], 0) for k in range(2)]) for e in range(n_ep)]
        e = int(np.argmax(by_epoch))
        res.update(inner_macro_f1=by_epoch[e], inner_by_epoch=[round(v, 4) for v in by_epoch], chosen_epochs=e + 1)
        ss = [np.mean([f["per_epoch"][e] for f in c[f"inner{k}"]], 0) for k in range(2)]
    else:
        ss = [np.mean([f["scores"] for f in c[f"inner{k}"]], 0) for k in range(2)]
        res["inner_macro_f1"] = crossfit_f1(ys, ss)
    res["_inner"] = (np.concatenate(ys), np.concatenate(ss))


def _rate_heldout(n: str, cfg: dict, c: dict, data: dict, y: np.ndarray, tr: np.ndarray, te: np.ndarray, res: dict) -> None:
    fits = c["heldout"]
    if cfg["scheme"] == "oof":  # thresholds from the inner folds' out-of-fold scores at the chosen epoch
        s = np.mean([f["per_epoch"][-1] for f in fits], 0)
        th = tune_thresholds(*res["_inner"])
    else:  # thresholds from the 10% validation scores (mean over seeds), as transformer.v1 does
        s = np.mean([f["scores"] for f in fits], 0)
        th = tune_thresholds(y[tr[data["val"][1]]], np.mean([f["val_scores"] for f in fits], 0))
    res["heldout_macro_f1"] = macro_f1(y[te], s >= th[None, :])
    res["heldout_macro_f1_at_0_5"] = macro_f1(y[te], s >= 0.5)
    res["fit_s_heldout_mean"] = float(np.mean([f["fit_s"] for f in fits]))


def _device_name() -> str:
    try:
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    except Exception:  # noqa: BLE001
        return "unknown"


def print_table(results: dict, extra: dict, wall: float) -> None:
    print("\n| candidate | inner macro-F1 (2-fold, grouped) | held-out macro-F1 | held-out fit s | all fits s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    base = next(iter(results.values())).get("inner_macro_f1")
    for n, r in results.items():
        inner = r.get("inner_macro_f1")
        gain = f" ({inner - base:+.3f})" if inner is not None and base is not None else ""
        held = r.get("heldout_macro_f1")
        fs = r.get("fit_s_alone", r.get("fit_s_heldout_mean"))
        total = sum(f["fit_s"] for f in r.get("fits", []))
        print(f"| {n} | {inner if inner is None else f'{inner:.3f}'}{gain} | {held if held is None else f'{held:.3f}'} | "
              f"{fs if fs is None else f'{fs:.0f}'} | {total:.0f} |")
    if "dapt" in extra:
        print(f"MLM pretraining: {extra['dapt']['fit_s']:.0f} s")
    print(f"wall time {wall:.0f} s")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("prepare")
    pp.add_argument("--data", type=Path, default=DEFAULT_DATA)
    pp.add_argument("--encoder", default=None, help="encoder folder to copy in fp16 (default: none copied)")
    pp.add_argument("--out", type=Path, required=True)
    ps = sub.add_parser("study")
    ps.add_argument("--prepared", type=Path, required=True)
    ps.add_argument("--out", type=Path, required=True)
    ps.add_argument("--workers", type=int, default=8)
    ps.add_argument("--threads", type=int, default=2)
    ps.add_argument("--budget-s", type=float, default=400, help="stop starting fits after this many seconds")
    ps.add_argument("--dapt-epochs", type=int, default=2)
    ps.add_argument("--epochs", type=int, default=None, help="cap every candidate's epochs (smoke tests)")
    ps.add_argument("--max-steps", type=int, default=None, help="cap every fit's optimizer steps (smoke tests)")
    ps.add_argument("--only", default=None, help="comma-separated substrings of candidate names")
    args = p.parse_args(argv)
    return prepare(args) if args.cmd == "prepare" else study(args)


if __name__ == "__main__":
    sys.exit(main())
