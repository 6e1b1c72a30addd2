"""Suite TOML: the shipped suites validate; errors name the file, the line, what is wrong, what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from wattlens.bench.suites import Cell, Suite, SuiteError, load_suite, suite_from_args, suite_models


def _write(tmp_path: Path, text: str) -> str:
    p = tmp_path / "my_suite.toml"
    p.write_text(text, encoding="utf-8")
    return str(p)


GOOD = """\
[suite]
name = "mine"
queries = 4
repeats = 5

[[task]]
name = "text-generation"
models = ["distilgpt2@tiny", "gpt2@tiny"]
batch = [1, 4]

[[task]]
name = "text-to-image"
models = ["tiny-sd-unet"]
options = { steps = 2 }
"""


def test_shipped_suites_validate() -> None:
    quick, php = load_suite("quick"), load_suite("php")
    tasks = {c.task for c in quick.cells}
    assert {
        "text-classification",
        "token-classification",
        "question-answering",
        "fill-mask",
        "text-generation",
        "summarization",
        "image-classification",
        "object-detection",
        "image-to-text",
        "text-to-image",
    } <= tasks
    assert all(c.repeats >= 5 for c in quick.cells + php.cells)
    assert all(c.queries == 1000 and c.batch == 1 for c in php.cells)
    php_models = {c.model for c in php.cells}
    assert {
        "bert-base-uncased",
        "distilbert-base-uncased",
        "gpt2",
        "distilgpt2",
        "gpt2-xl",
        "bart-large-cnn",
        "distilbart-cnn-12-6",
        "resnet-50",
        "vit-base-patch16-224",
        "detr-resnet-50",
        "yolos-tiny",
        "blip-image-captioning-base",
        "git-base",
        "tiny-sd-unet",
        "sd-1.5-unet",
    } <= php_models


def test_grid_expansion_and_stable_keys(tmp_path: Path) -> None:
    s = load_suite(_write(tmp_path, GOOD))
    assert len(s.cells) == 5
    keys = [c.key for c in s.cells]
    assert "text-generation|gpt2@tiny|batch=4|fp32|threads=0|pytorch" in keys
    assert "text-to-image|tiny-sd-unet|batch=1|fp32|threads=0|pytorch|steps=2" in keys
    again = Suite.from_dict(s.to_dict())  # what a resumed run rebuilds from the store
    assert [c.key for c in again.cells] == keys and isinstance(again.cells[0], Cell)


@pytest.mark.parametrize(
    ("text", "line", "problem", "allowed"),
    [
        (GOOD.replace("repeats = 5", "repeats = 5\nrepeat = 3"), 5, "unknown key 'repeat'", "repeats"),
        (
            GOOD.replace("batch = [1, 4]", 'batch = [1, 4]\nprecision = ["fp32", "int4"]'),
            10,
            "bad value for 'precision'",
            "fp32, bf16, fp16",
        ),
        (GOOD.replace("batch = [1, 4]", "batch = [0]"), 9, "bad value for 'batch'", "integers >= 1"),
        (
            GOOD.replace('name = "text-to-image"', 'name = "text-to-imagez"'),
            12,
            "unknown task 'text-to-imagez'",
            "text-classification",
        ),
        (GOOD.replace("queries = 4", "queries = -4"), 3, "bad value for 'queries'", "an integer >= 1"),
        (GOOD.replace("[suite]", "[suit]"), 1, "unknown top-level key or table 'suit'", "[suite] and [[task]]"),
        (
            GOOD.replace('models = ["tiny-sd-unet"]', 'models = ["tiny-sd-unet"]\nengine = ["tensorrt"]'),
            14,
            "bad value for 'engine'",
            "pytorch, onnxruntime",
        ),
        (
            GOOD.replace("repeats = 5", 'repeats = 5\ndevice = "gpu"'),
            5,
            "bad value for 'device'",
            "auto (cuda when available, else cpu), cpu, cuda, cuda:N, mps",
        ),
        (
            GOOD.replace("batch = [1, 4]", 'batch = [1, 4]\ndevice = ["cpu", "cuda:x"]'),
            10,
            "bad value for 'device'",
            "cuda:N",
        ),
    ],
)
def test_errors_name_file_line_problem_and_allowed(
    tmp_path: Path, text: str, line: int, problem: str, allowed: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(SuiteError) as err:
        load_suite(path)
    e = err.value
    assert e.file == path and e.line == line, str(e)
    assert problem in e.problem and allowed in e.allowed
    assert str(e).startswith(f"{path}:{line}: ")


def test_toml_syntax_error_has_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace('models = ["distilgpt2@tiny", "gpt2@tiny"]', 'models = ["distilgpt2@tiny",'))
    with pytest.raises(SuiteError) as err:
        load_suite(path)
    assert "not valid TOML" in str(err.value) and err.value.line is not None


def test_missing_tasks_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="no \\[\\[task\\]\\] table"):
        load_suite(_write(tmp_path, '[suite]\nname = "x"\n'))
    with pytest.raises(SuiteError, match="no such suite file"):
        load_suite(str(tmp_path / "nope.toml"))


def test_duplicate_cells_are_rejected(tmp_path: Path) -> None:
    text = GOOD.replace('models = ["distilgpt2@tiny", "gpt2@tiny"]', 'models = ["gpt2@tiny", "gpt2@tiny"]')
    with pytest.raises(SuiteError, match="duplicate cell"):
        load_suite(_write(tmp_path, text))


def test_the_shipped_suites_are_the_only_list_of_their_models() -> None:
    """A [[task]] without models (or ``wattlens bench --task T``) runs exactly what the suite file lists."""
    from wattlens.workloads import available_models

    for size in ("quick", "php"):
        suite = load_suite(size)
        for task in {c.task for c in suite.cells}:
            listed = suite_models(task, size)
            assert listed == list(dict.fromkeys(c.model for c in suite.cells if c.task == task)), (size, task)
            catalogue = {m.name for m in available_models(task)}
            assert set(listed) <= catalogue, (size, task, set(listed) - catalogue)
            defaulted = suite_from_args(task, [], size=size)
            assert [c.model for c in defaulted.cells] == listed
    # the quick file's options travel with its models (10 denoising steps instead of the pipeline's 50)
    (unet,) = suite_from_args("text-to-image", []).cells
    assert dict(unet.options) == {"steps": 10}
    assert suite_models("sentiment", "php") == suite_models("text-classification", "php")  # aliases resolve
    with pytest.raises(SuiteError, match="unknown suite size"):
        suite_models("fill-mask", "huge")


def test_command_line_suite_is_validated_the_same_way() -> None:
    s = suite_from_args("text-generation", ["gpt2", "distilgpt2"], queries=200, batch=[1, 8])
    assert len(s.cells) == 4 and {c.queries for c in s.cells} == {200}
    with pytest.raises(SuiteError, match=r"<command line>.*batch"):
        suite_from_args("text-generation", ["gpt2"], batch=[0])
    default = suite_from_args("text-generation", [])
    assert [c.model for c in default.cells] == ["distilgpt2@tiny", "gpt2@tiny"]  # the quick defaults


def test_device_key_expands_the_grid_and_keeps_cpu_keys(tmp_path: Path) -> None:
    s = load_suite(_write(tmp_path, GOOD.replace("repeats = 5", 'repeats = 5\ndevice = ["cpu", "CUDA:1"]')))
    assert len(s.cells) == 10 and {c.device for c in s.cells} == {"cpu", "cuda:1"}
    keys = [c.key for c in s.cells]
    assert "text-generation|gpt2@tiny|batch=4|fp32|threads=0|pytorch" in keys  # cpu: the key it always had
    assert "text-generation|gpt2@tiny|batch=4|fp32|threads=0|pytorch|device=cuda:1" in keys
    assert Suite.from_dict(s.to_dict()).cells == s.cells
    cell = next(c for c in s.cells if c.device == "cuda:1")
    assert cell.config["device"] == "cuda:1"
    # a run stored before devices existed resumes as cpu cells with unchanged keys
    old = s.to_dict()
    for c in old["cells"]:
        c.pop("device")
    assert {c.device for c in Suite.from_dict(old).cells} == {"cpu"}
    # default: cpu; one string works too; the command line validates the same way
    assert {c.device for c in load_suite(_write(tmp_path, GOOD)).cells} == {"cpu"}
    assert {c.device for c in suite_from_args("text-generation", ["gpt2"], device=["auto"]).cells} == {"auto"}
    with pytest.raises(SuiteError, match=r"<command line>.*'device'"):
        suite_from_args("text-generation", ["gpt2"], device=["gpu"])


def test_php_suite_runs_on_cuda_when_available_else_cpu() -> None:
    php = load_suite("php")
    assert php.settings["device"] == "auto" and {c.device for c in php.cells} == {"auto"}
    assert {c.device for c in load_suite("quick").cells} == {"cpu"}
