"""Fine-tuning the plate OCR for CCTV-size plates (issue 14): `make train-ocr`.

| module | its one job |
|---|---|
| `dataset.py` | tune-half plates and their degraded, jittered 128x64 training crops |
| `model.py` | the ONNX model as a trainable PyTorch module (onnx2torch), the loss |
| `evaluate.py` | the OCR alone on a fixed small-plate ladder, per width |
| `train.py` | the training loop with early stopping, and its command line |
| `export.py` | the trained weights written back into the base model's ONNX graph |
"""
