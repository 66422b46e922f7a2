"""The plate OCR's fine-tuning code (`make train-ocr`) and the fine-tuned model it committed."""

from __future__ import annotations

import cv2
import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from pipeline.models import PROJECT_ROOT, ModelError, resolve_model
from pipeline.plates import PlateReader
from pipeline.plates.ocr import FastPlateOCR
from pipeline.plates.split import split_of
from pipeline.plates.training.dataset import HEIGHT, WIDTH, encode, load_plates, make_batch
from pipeline.plates.training.export import export
from pipeline.plates.training.model import TrainableOCR
from pipeline.plates.training.train import step

SAMPLES = PROJECT_ROOT.parent / "shared" / "models" / "samples"
SAMPLE_CROPS = ("AD799KB", "KRW301")


def _crops() -> np.ndarray:
    """The sample plate crops at the OCR's input size, RGB, as fast-plate-ocr resizes them."""
    return np.stack([
        cv2.resize(cv2.cvtColor(cv2.imread(str(SAMPLES / f"plate_crop_{t}.png")), cv2.COLOR_BGR2RGB), (WIDTH, HEIGHT))
        for t in SAMPLE_CROPS
    ])


def _onnx_outputs(path, images: np.ndarray) -> list[np.ndarray]:
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(["plate", "region"], {"input": images})


@pytest.fixture(scope="module")
def base() -> TrainableOCR:
    return TrainableOCR.from_onnx(resolve_model("plate_ocr_v2"))


@pytest.fixture(scope="module")
def tune_plates():
    return load_plates()


def test_converted_model_computes_what_onnx_runtime_does(base):
    images = _crops()
    plate, region = base(torch.from_numpy(images))
    want_plate, want_region = _onnx_outputs(resolve_model("plate_ocr_v2"), images)
    np.testing.assert_allclose(plate.softmax(-1).detach().numpy(), want_plate, atol=1e-5)
    np.testing.assert_allclose(region.softmax(-1).detach().numpy(), want_region, atol=1e-5)


def test_training_uses_tune_plates_only_with_their_corrected_labels(tune_plates):
    assert tune_plates and all(split_of(p.text) == "tune" for p in tune_plates)
    texts = {p.name: p.text for p in tune_plates}
    assert texts["mixed_uk_eu/RLO4XVM.jpg"] == "RL04XVM"  # bench.LABEL_FIXES: digit zero, not O
    assert "openalpr_eu/eu5.jpg" not in texts  # OY09FEU, a UK plate of the validation half
    assert list(encode("AB12")) == [10, 11, 1, 2] + [36] * 6  # pad `_` in the empty slots
    with pytest.raises(ValueError, match="AB-12"):
        encode("AB-12")


def test_one_training_step_on_real_crops_changes_the_weights(tune_plates):
    model = TrainableOCR.from_onnx(resolve_model("plate_ocr_v2"))
    before = {name: value.clone() for name, value in model.state_dict().items()}
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], 1e-4)
    loss = step(model, optimiser, tune_plates[:6], np.random.default_rng(0))
    assert np.isfinite(loss) and loss > 0
    after = model.state_dict()
    changed = {name for name, value in before.items() if not torch.equal(value, after[name])}
    assert any("patch_extractor" in n for n in changed)  # the trunk learns
    [region_head] = [n for n, v in before.items() if tuple(v.shape) == (96, 66)]  # the country classifier
    assert region_head not in changed
    assert not any("blur" in n for n in changed)  # fixed anti-aliasing kernels


def test_export_writes_the_trained_weights_into_v2s_graph(base, tmp_path):
    weights = {name: value * 1.01 for name, value in base.trained_weights().items()}
    out = export(weights, resolve_model("plate_ocr_v2"), tmp_path / "out.onnx")
    model, v2 = onnx.load(str(out)), onnx.load(str(resolve_model("plate_ocr_v2")))
    assert [str(v.type) for v in model.graph.input] == [str(v.type) for v in v2.graph.input]
    assert [(v.name, str(v.type)) for v in model.graph.output] == [(v.name, str(v.type)) for v in v2.graph.output]
    moved = TrainableOCR.from_onnx(out)
    np.testing.assert_allclose(
        moved(torch.from_numpy(_crops()))[0].softmax(-1).detach().numpy(), _onnx_outputs(out, _crops())[0], atol=1e-5
    )
    with pytest.raises(ValueError, match="no initializer named 'nope'"):
        export({"nope": np.zeros(1)}, resolve_model("plate_ocr_v2"), tmp_path / "bad.onnx")


def test_a_batch_is_uint8_rgb_at_the_ocr_input_size(tune_plates):
    images, targets = make_batch(tune_plates[:3], np.random.default_rng(1))
    assert images.shape == (3, HEIGHT, WIDTH, 3) and images.dtype == np.uint8
    assert targets.shape == (3, 10)


def test_finetuned_model_loads_through_the_manifest_and_reads_the_samples():
    model, config = resolve_model("plate_ocr_finetuned"), resolve_model("plate_ocr_finetuned_config")
    assert model.parent == PROJECT_ROOT / "models"  # committed with the project
    reads = FastPlateOCR(model, config).read(list(_crops()))
    assert [r.text for r in reads] == list(SAMPLE_CROPS)
    reader = PlateReader.from_models(plate_ocr="plate_ocr_finetuned", plate_ocr_config="plate_ocr_finetuned_config")
    for photo, plates in (("uk_golf_OY09FEU.jpg", {"OY09FEU"}), ("uk_porsche_BIG918_LF64FUT.jpg", {"BIG918", "LF64FUT"})):
        assert plates <= {r.text for r in reader.read_image(cv2.imread(str(SAMPLES / photo)))}, photo


def test_a_corrupt_finetuned_model_is_refused_by_name(tmp_path):
    (tmp_path / "plate_ocr_finetuned.onnx").write_bytes(resolve_model("plate_ocr_finetuned").read_bytes()[:-10])
    with pytest.raises(ModelError, match="plate_ocr_finetuned.onnx: corrupt"):
        resolve_model("plate_ocr_finetuned", [tmp_path])
