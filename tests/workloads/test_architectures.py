"""The architecture presets are data files with a source per preset, loaded and checked like the other tables."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from wattlens.workloads import architectures as A
from wattlens.workloads import extra_architectures as E
from wattlens.workloads.errors import WorkloadError


def test_every_preset_is_data_with_its_hub_source() -> None:
    cat = A.load_catalogue()
    assert len([a for a in cat.presets if a.kind == "base"]) == 29
    assert len([a for a in cat.presets if a.kind == "task-head"]) == 5
    for a in cat.presets:
        assert a.source.startswith("https://huggingface.co/") and a.source.endswith("config.json"), a.name
        assert a.hub_id.split(" ")[0] in a.source, a.name  # the source is the preset's own checkpoint
    assert A.get_architecture("gpt2").source == "https://huggingface.co/openai-community/gpt2/blob/main/config.json"
    assert A.get_architecture("sd-1.5-unet").source.endswith("stable-diffusion-v1-5/blob/main/unet/config.json")


def test_files_are_one_per_family_and_ship_as_package_data() -> None:
    files = sorted(p.stem for p in A.DATA_DIR.glob("*.json"))
    assert files == sorted({a.family for a in A.catalogue().presets})
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '"*.json"' in pyproject  # package-data glob that ships them in the wheel


def test_companions_and_tiny_recipes_come_from_the_tables() -> None:
    assert set(E.CLIP_TEXT) == set(E.VAE) == {"sd-1.5-unet", "tiny-sd-unet"}
    assert E.CLIP_TEXT["sd-1.5-unet"]["hidden_size"] == 768 and E.VAE["sd-1.5-unet"]["latent_channels"] == 4
    tiny = E.resolve("gpt2-xl@tiny")
    assert tiny.config_kwargs["n_embd"] == 128 and tiny.config_kwargs["n_layer"] == 48 // E.TINY_DEPTH_DIVISOR
    assert tiny.extra["tiny"] == "d=128, 2 heads, 1/3 of the layers" and "not the paper size" in tiny.description
    assert E.resolve("roberta-base@tiny").config_kwargs["hidden_size"] == 128  # per config class within bert
    assert E.resolve("distilbert-sst2@tiny").config_kwargs["dim"] == 128
    assert E.resolve("sd-1.5-unet@tiny").config_kwargs == A.ARCHITECTURES["tiny-sd-unet"].config_kwargs
    with pytest.raises(KeyError, match="no @tiny recipe for whisper-small"):
        E.resolve("whisper-small@tiny")


def test_task_heads_keep_their_labels() -> None:
    transformers = pytest.importorskip("transformers")
    cfg = A.build_config(E.resolve("distilbert-sst2"))
    assert isinstance(cfg, transformers.DistilBertConfig)
    assert cfg.id2label == {0: "NEGATIVE", 1: "POSITIVE"} and cfg.num_labels == 2


def test_every_config_and_model_class_exists() -> None:
    transformers = pytest.importorskip("transformers")
    for a in A.catalogue().presets:
        if a.config_class.startswith("diffusers:"):
            continue
        assert hasattr(transformers, a.config_class) and hasattr(transformers, a.model_class), a.name


# --- validation: a broken table fails on load, naming the file and the preset ----------------------------


@pytest.fixture
def tables(tmp_path: Path) -> Path:
    shutil.copytree(A.DATA_DIR, tmp_path / "t")
    return tmp_path / "t"


def _edit(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def test_copied_tables_load(tables: Path) -> None:
    assert len(A.load_catalogue(tables).presets) == 34


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["presets"][0].pop("source"), r"gpt2.json: preset 'gpt2': missing field 'source'"),
        (lambda d: d["presets"][0].update(source="my memory"), r"must name the hub config.json"),
        (lambda d: d["presets"][0].update(params_approx="124M"), r"field 'params_approx' has type str"),
        (lambda d: d["presets"][0].update(params_approx=0), r"params_approx must be > 0"),
        (lambda d: d["presets"][0].update(kind="fancy"), r"kind 'fancy' \(allowed: base, task-head\)"),
        (lambda d: d["presets"][0].update(modality="smell"), r"modality 'smell'"),
        (lambda d: d["presets"][0].update(colour="red"), r"unknown field 'colour'"),
        (lambda d: d["presets"][1].update(name="gpt2"), r"'gpt2' names both 'gpt2' and 'gpt2'"),
        (lambda d: d["presets"][1].update(aliases=["GPT2"]), r"'gpt2' names both"),
        (lambda d: d.update(family="gpt3"), r"family 'gpt3' differs from the file name 'gpt2'"),
        (lambda d: d["tiny"][0].pop("what"), r"tiny recipe"),
    ],
)
def test_broken_table_is_refused_with_the_place_named(tables: Path, change, message: str) -> None:
    _edit(tables / "gpt2.json", change)
    with pytest.raises(WorkloadError, match=message):
        A.load_catalogue(tables)


def test_companion_without_source_is_refused(tables: Path) -> None:
    _edit(tables / "unet.json", lambda d: d["companions"]["sd-1.5-unet"]["vae"].pop("source"))
    with pytest.raises(WorkloadError, match=r"companion sd-1\.5-unet/vae"):
        A.load_catalogue(tables)
