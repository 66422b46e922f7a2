"""Fine-tune the fast-plate-ocr model on small, degraded plates: `make train-ocr`.

    python -m pipeline.plates.training.train --out models/plate_ocr_finetuned.onnx

Starts from `cct_xs_v2_global` (converted by `model.py`), trains on crops of the tune half of the
photo sets (`dataset.py`) with AdamW at a low learning rate, warm-up then cosine decay, and after
each epoch reads a held-back sixth of the tune plates (`evaluate.Ladder`): the best epoch is kept
and training stops when two epochs in a row bring nothing. The result is written into the base
model's ONNX graph (`export.py`). Only then is the validation half read, by the base model and the
fine-tuned one through `FastPlateOCR`, and the figures printed; they never steer the training.

Every random draw comes from `TrainSettings.seed`; on one machine with the same thread count a
run gives the same weights.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import typer

from pipeline.models import PROJECT_ROOT, resolve_model
from pipeline.plates.ocr import FastPlateOCR
from pipeline.plates.training.dataset import (
    ALPHABET,
    PAD,
    PLATE_SETS,
    Plate,
    clean_crop,
    load_plates,
    make_batch,
    split_held_back,
)
from pipeline.plates.training.evaluate import DRAWS, Ladder, Score, region_agreement
from pipeline.plates.training.export import export
from pipeline.plates.training.model import TrainableOCR, loss_fn

OUT = PROJECT_ROOT / "models" / "plate_ocr_finetuned.onnx"


@dataclass(frozen=True)
class TrainSettings:
    epochs: int = 8
    samples_per_plate: int = 24  # per epoch, each a fresh width, degradation and box jitter
    batch_size: int = 48
    learning_rate: float = 2e-4
    weight_decay: float = 0.01
    warmup_steps: int = 20
    patience: int = 2  # epochs without a better held-back score before stopping
    seed: int = 14
    threads: int = 2


@dataclass(frozen=True)
class Epoch:
    epoch: int  # 0: the base model, before any step
    loss: float  # mean training loss over the epoch (nan for epoch 0)
    held_back: Score
    seconds: float


@dataclass(frozen=True)
class TrainResult:
    model: TrainableOCR  # the best epoch's weights
    best_epoch: int
    epochs: tuple[Epoch, ...]


def train(
    base: Path, train_plates: Sequence[Plate], held_back: Sequence[Plate], settings: TrainSettings = TrainSettings()
) -> TrainResult:
    torch.manual_seed(settings.seed)
    torch.set_num_threads(settings.threads)
    rng = np.random.default_rng(settings.seed)
    model = TrainableOCR.from_onnx(base)
    regions = base_regions(model, train_plates)
    optimiser = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], settings.learning_rate, weight_decay=settings.weight_decay
    )
    order = np.repeat(np.arange(len(train_plates)), settings.samples_per_plate)
    steps_per_epoch = math.ceil(len(order) / settings.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, _warmup_cosine(settings.warmup_steps, steps_per_epoch * settings.epochs)
    )
    ladder = Ladder.of(held_back)
    start = time.perf_counter()
    history = [Epoch(0, float("nan"), ladder.score(torch_reader(model)), time.perf_counter() - start)]
    _log(history[-1])
    best, best_state = history[0], copy.deepcopy(model.state_dict())
    for epoch in range(1, settings.epochs + 1):
        losses = []
        for batch in np.array_split(rng.permutation(order), steps_per_epoch):
            losses.append(step(model, optimiser, [train_plates[i] for i in batch], rng, regions[torch.from_numpy(batch)]))
            schedule.step()
        history.append(Epoch(epoch, float(np.mean(losses)), ladder.score(torch_reader(model)), time.perf_counter() - start))
        _log(history[-1])
        if history[-1].held_back.mean > best.held_back.mean:
            best, best_state = history[-1], copy.deepcopy(model.state_dict())
        elif epoch - best.epoch >= settings.patience:
            break
    model.load_state_dict(best_state)
    return TrainResult(model, best.epoch, tuple(history))


def step(
    model: TrainableOCR,
    optimiser: torch.optim.Optimizer,
    plates: Sequence[Plate],
    rng: np.random.Generator,
    region_targets: torch.Tensor | None = None,
) -> float:
    """One optimiser step on one batch made from `plates` (region targets: one row per plate,
    from `base_regions`); returns the loss."""
    images, targets = make_batch(plates, rng)
    plate_logits, region_logits = model(torch.from_numpy(images))
    loss = loss_fn(plate_logits, torch.from_numpy(targets), region_logits, region_targets)
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    return loss.item()


def base_regions(model: TrainableOCR, plates: Sequence[Plate]) -> torch.Tensor:
    """The model's region log-probabilities for each plate's sharp, full-size crop."""
    with torch.no_grad():
        return model(torch.from_numpy(np.stack([clean_crop(p) for p in plates])))[1].log_softmax(-1)


def torch_reader(model: TrainableOCR, batch_size: int = 128):
    """The model as an `evaluate.ReadTexts`: crops already at 64x128, best character per slot."""

    def read(crops: Sequence[np.ndarray]) -> list[str]:
        texts = []
        with torch.no_grad():
            for i in range(0, len(crops), batch_size):
                slots = model(torch.from_numpy(np.stack(crops[i : i + batch_size])))[0].argmax(-1)
                texts += ["".join(ALPHABET[c] for c in row if ALPHABET[c] != PAD) for row in slots.tolist()]
        return texts

    return read


def _warmup_cosine(warmup: int, total: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * min((step - warmup) / max(total - warmup, 1), 1.0)))

    return factor


def _log(epoch: Epoch) -> None:
    print(f"epoch {epoch.epoch}  loss {epoch.loss:.4f}  held back {epoch.held_back.mean:6.1%}: "
          f"{epoch.held_back.summary()}  [{epoch.seconds / 60:.1f} min]", flush=True)


def main(
    base_model: str = typer.Option("plate_ocr_v2", help="fast-plate-ocr ONNX model to start from: manifest name or path."),
    base_config: str = typer.Option("plate_ocr_v2_config", help="Its plate config (the fine-tuned model's too): name or path."),
    data: Path = typer.Option(PLATE_SETS, help="Folder of photo sets, each with labels.csv."),
    out: Path = typer.Option(OUT, help="Where to write the fine-tuned ONNX model."),
    epochs: int = typer.Option(TrainSettings.epochs, help="Most epochs (early stopping may end sooner)."),
    samples_per_plate: int = typer.Option(TrainSettings.samples_per_plate, help="Crops of each plate per epoch."),
) -> None:
    """Fine-tune the plate OCR on the tune half, export it, and compare it with the base model on
    the validation half."""
    settings = TrainSettings(epochs=epochs, samples_per_plate=samples_per_plate)
    base, config = resolve_model(base_model), resolve_model(base_config)  # sha256 checked
    start = time.perf_counter()
    train_plates, held_back = split_held_back(load_plates(data, "tune"))
    print(f"{len(train_plates)} tune plates trained on, {len(held_back)} held back; {settings}", flush=True)
    result = train(base, train_plates, held_back, settings)
    export(result.model.trained_weights(), base, out)
    print(f"best epoch {result.best_epoch}; wrote {out} [{(time.perf_counter() - start) / 60:.1f} min]", flush=True)
    validation = Ladder.of(load_plates(data, "validation"))
    print(f"validation half ({len(validation.texts)} plates), OCR alone on the labelled box, % read exactly "
          f"(range across {DRAWS} degradation draws):")
    for name, model in (("base", base), ("fine-tuned", out)):
        ocr = FastPlateOCR(model, config)
        score = validation.score(lambda crops: [r.text for r in ocr.read(crops)])
        print(f"  {name:<11} mean {score.mean:6.1%}  {score.summary()}", flush=True)
    print("country (region head) read as the base model reads the plate sharp and full size:")
    for name, model in (("base", base), ("fine-tuned", out)):
        agree = region_agreement(model, base, validation)
        print(f"  {name:<11} " + "  ".join(f"{width} px {share:6.1%}" for width, share in agree.items()), flush=True)


if __name__ == "__main__":
    typer.run(main)
