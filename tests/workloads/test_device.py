"""``load_workload(device=...)``: spelling and availability errors, explicit cpu, ``auto``, ONNX and callables.

No GPU here: CUDA itself cannot run, so these tests pin the validation path, what gets recorded, and (with
the device resolved to a non-default torch spelling of the CPU) that every model path takes its
device-moving code without breaking.
"""

from __future__ import annotations

import pytest

from wattlens.workloads import WorkloadError, get_task, load_workload
from wattlens.workloads import device as D


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _mps() -> bool:
    import torch

    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


@pytest.mark.parametrize(
    ("given", "canonical"),
    [(None, "cpu"), ("cpu", "cpu"), (" CUDA ", "cuda"), ("cuda:1", "cuda:1"), ("mps", "mps"), ("auto", "auto")],
)
def test_device_spellings(given, canonical) -> None:
    assert D.parse_device(given) == canonical


@pytest.mark.parametrize("bad", ["gpu", "cuda:", "cuda:x", "cuda1", "tpu", "", "cpu:0"])
def test_unknown_device_names_what_is_allowed(bad) -> None:
    with pytest.raises(WorkloadError) as err:
        load_workload(task="text-classification", model="distilbert-sst2@tiny", device=bad)
    msg = str(err.value)
    assert f"unknown device {bad!r}" in msg
    for allowed in ("auto", "cpu", "cuda", "cuda:N", "mps"):
        assert allowed in msg


@pytest.mark.parametrize("dev", ["cuda", "cuda:0", "cuda:3"])
def test_cuda_without_a_gpu_says_why(dev) -> None:
    if _cuda():
        pytest.skip("CUDA is available here")
    with pytest.raises(WorkloadError) as err:
        load_workload(task="text-generation", model="distilgpt2@tiny", device=dev)
    msg = str(err.value)
    assert f"device {dev!r} requested but torch.cuda.is_available() is False on this machine" in msg
    assert "allowed here: cpu, auto" in msg
    import torch

    if torch.version.cuda is None:
        assert "CPU-only build" in msg


def test_mps_unavailable_says_why() -> None:
    if _mps():
        pytest.skip("MPS is available here")
    with pytest.raises(WorkloadError, match=r"torch.backends.mps.is_available\(\) is False"):
        D.resolve_device("mps")


def test_explicit_cpu_runs_and_is_recorded() -> None:
    w = load_workload(task="text-classification", model="distilbert-sst2@tiny", device="cpu", threads=1)
    assert w.device == "cpu" and w.info["device"] == "cpu" and w.info["device_kind"] == "cpu"
    assert "device_requested" not in w.info
    assert len(w.run(get_task("text-classification").inputs(2))) == 2
    w.synchronize()  # a no-op on the CPU


def test_auto_resolves_to_cpu_here_and_keeps_the_request() -> None:
    if _cuda():
        pytest.skip("CUDA is available: auto resolves to cuda here")
    w = load_workload(task="text-generation", model="distilgpt2@tiny", device="auto", threads=1)
    assert w.device == "cpu" and w.info["device"] == "cpu" and w.info["device_requested"] == "auto"
    assert D.resolve_device("auto") == "cpu"


MOVED = [
    ("text-classification", "distilbert-sst2@tiny", {}),
    ("token-classification", "distilbert-ner@tiny", {}),
    ("question-answering", "distilbert-squad@tiny", {}),
    ("fill-mask", "distilbert-base-uncased@tiny", {}),
    ("text-generation", "distilgpt2@tiny", {}),
    ("summarization", "distilbart-cnn-12-6@tiny", {}),
    ("image-classification", "digits-mlp", {}),
    ("object-detection", "yolos-tiny@tiny", {}),
    ("image-to-text", "blip-image-captioning-base@tiny", {}),
    ("text-to-image", "tiny-sd-unet", {"steps": 1, "unet_impl": "torch"}),
    ("sentence-similarity", "bert-base-uncased@tiny", {}),
]


@pytest.mark.parametrize(("task", "model", "opts"), MOVED)
def test_every_model_path_takes_its_device_moving_code(monkeypatch, task, model, opts) -> None:
    """The device resolved to "cpu:0" (torch's CPU, but not the string "cpu"): every model and input tensor
    goes through .to(device) and the outputs come back to the host, as on a GPU."""
    monkeypatch.setattr(D, "resolve_device", lambda d: "cpu:0")
    w = load_workload(task=task, model=model, device="cuda", threads=1, **opts)
    assert w.device == "cpu:0" and w.info["device"] == "cpu:0" and w.info["device_requested"] == "cuda"
    xs = get_task(task).inputs(2, seed=0)
    out = w.run(xs)
    assert len(out) == 2
    if w.generative:
        assert w.decode(w.prefill(xs)) == out


def test_onnx_needs_the_cuda_execution_provider() -> None:
    ort = pytest.importorskip("onnxruntime")

    assert D.onnx_providers("cpu") == ("cpu", ["CPUExecutionProvider"])
    with pytest.raises(WorkloadError, match="cannot run an ONNX model"):
        D.onnx_providers("mps")
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    assert D.onnx_providers("auto") == ("cpu", ["CPUExecutionProvider"])
    with pytest.raises(WorkloadError) as err:  # checked before the file is even opened
        load_workload(task="text-classification", model="no-such-file.onnx", device="cuda")
    assert "CUDAExecutionProvider" in str(err.value) and "onnxruntime-gpu" in str(err.value)


def test_callables_place_their_own_tensors() -> None:
    def fn(xs):
        return ["x" for _ in xs]

    with pytest.raises(WorkloadError, match="cannot be applied to a callable"):
        load_workload(task="text-classification", model=fn, engine="callable", device="cuda")
    w = load_workload(task="text-classification", model=fn, engine="callable", device="auto")
    assert w.device == D.CALLABLE_DEVICE and w.info["device_kind"] == "unknown"
    assert w.info["device_requested"] == "auto"


def test_device_kinds() -> None:
    assert [D.device_kind(d) for d in ("cpu", "cuda:0", "mps", D.CALLABLE_DEVICE, None)] == [
        "cpu",
        "gpu",
        "soc",
        "unknown",
        "unknown",
    ]
