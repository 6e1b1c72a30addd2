"""CLI smoke tests: `wattlens analyze` (table, --json, --by-layer, --plot, config.json, file.py:builder) and
`wattlens hardware`."""

from __future__ import annotations

import json

import pytest

from wattlens.cli.main import main


def _json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_analyze_preset_json(capsys):
    d = _json(
        capsys,
        [
            "analyze",
            "gpt2",
            "--hardware",
            "a100",
            "--phase",
            "decode",
            "--batch",
            "8",
            "--prompt",
            "512",
            "--new-tokens",
            "128",
            "--json",
            "--no-levers",
        ],
    )
    assert d["model"] == "gpt2" and d["hardware"] == "a100-sxm-80gb" and d["phase"] == "decode"
    assert d["new_tokens"] == 128 and d["capture"]["decode_exact"]
    assert d["energy_j_per_output_token"]["mid"] > 0


def test_analyze_table_by_layer_and_plot(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    assert (
        main(
            [
                "analyze",
                "distilgpt2",
                "--hardware",
                "l4",
                "--phase",
                "prefill",
                "--seq",
                "128",
                "--by-layer",
                "--plot",
                str(tmp_path),
                "--no-levers",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "dense_gemm" in out and "by layer" in out and "assumptions" in out
    assert (tmp_path / "energy_by_role.png").stat().st_size > 1000
    assert (tmp_path / "energy_roofline.png").stat().st_size > 1000


def test_analyze_config_json_and_builder(capsys, tmp_path):
    cfg = {
        "model_type": "llama",
        "architectures": ["LlamaForCausalLM"],
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "vocab_size": 128,
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    d = _json(
        capsys,
        ["analyze", str(path), "--hardware", "h100", "--phase", "prefill", "--seq", "64", "--json", "--no-levers"],
    )
    assert d["phase"] == "prefill" and d["flops"] > 0
    builder = tmp_path / "model.py"
    builder.write_text(
        "import torch\n"
        "def build_model():\n"
        "    m = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(),\n"
        "                            torch.nn.Linear(8 * 30 * 30, 10))\n"
        "    return m, (torch.zeros(2, 3, 32, 32),)\n"
    )
    d = _json(capsys, ["analyze", f"{builder}:build_model", "--hardware", "this-machine", "--json", "--no-levers"])
    roles = {r["role"] for r in d["by_role"]}
    assert {"convolution", "dense_gemm"} <= roles


@pytest.mark.slow
def test_analyze_train_70b_shape(capsys):
    d = _json(
        capsys,
        [
            "analyze",
            "llama-70b",
            "--hardware",
            "h200",
            "--phase",
            "train",
            "--batch",
            "1",
            "--seq",
            "64",
            "--json",
            "--no-levers",
        ],
    )
    assert d["bytes"]["by_category"]["optimizer"]["high"] > 0
    # forward + backward ~ 6 x params x tokens
    assert d["flops_detail"]["matrix_dense"] == pytest.approx(6 * 68.98e9 * 64, rel=0.05)


def test_hardware_list_and_detail(capsys):
    assert main(["hardware"]) == 0
    out = capsys.readouterr().out
    assert "h100-sxm" in out and "this-machine" in out and "aliases" in out
    d = _json(capsys, ["hardware", "a100", "--json"])
    assert d["name"] == "a100-sxm-80gb" and d["pj_per_byte"]["dram"]["source"]
    assert main(["hardware", "no-such"]) == 2


def test_unknown_model_is_a_clean_error(capsys):
    assert main(["analyze", "no-such-model", "--no-levers"]) == 2
    assert "unknown architecture" in capsys.readouterr().err


def test_list_presets(capsys):
    assert main(["analyze", "--list-presets"]) == 0
    out = capsys.readouterr().out
    assert "llama-2-70b" in out and "sd-1.5-unet" in out


def test_calibrate_flag_end_to_end(capsys, tmp_path):
    builder = tmp_path / "mlp.py"
    builder.write_text(
        "import torch\n"
        "def build_model():\n"
        "    return torch.nn.Sequential(torch.nn.Linear(256, 256), torch.nn.ReLU(),\n"
        "                               torch.nn.Linear(256, 8))\n"
    )
    assert (
        main(
            [
                "analyze",
                f"{builder}:build_model",
                "--hardware",
                "this-machine",
                "--calibrate",
                "--calibrate-seconds",
                "0.1",
                "--no-levers",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "(calibrated)" in out and "predicted vs measured" in out and "gemm_1024" in out
    assert "input guessed from the first layer" in out
