"""lib.machine: the machine record a study stores beside its headline."""

from __future__ import annotations

import json

import pytest

from lib import machine

EPYC = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model name\t: AMD EPYC 9654 96-Core Processor
flags\t\t: fpu vme sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 avx512f avx512dq avx512cd \
avx512bw avx512vl avx512_bf16 avx512vbmi avx512_vnni
bugs\t\t: sysret_ss_attrs

processor\t: 1
model name\t: SHOULD NOT BE READ
flags\t\t: fpu amx_tile
"""

SAPPHIRE_RAPIDS = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: sse4_2 avx avx2 fma avx512f avx512bw avx512vl avx512_fp16 avx_vnni amx_bf16 \
amx_tile amx_int8
"""

HASWELL = """processor\t: 0
model name\t: Intel(R) Xeon(R) CPU E5-2680 v3 @ 2.50GHz
flags\t\t: fpu sse4_2 avx fma avx2 avx512_fake_flag_not_f
"""

GRAVITON = """processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics sve
CPU implementer\t: 0x41
"""


def test_avx512_flags_of_the_first_processor_only():
    flags = machine.cpu_flags(EPYC)
    assert flags == [
        "avx",
        "avx2",
        "fma",
        "avx512f",
        "avx512dq",
        "avx512cd",
        "avx512bw",
        "avx512vl",
        "avx512_vnni",
        "avx512_bf16",
    ]
    assert "amx_tile" not in flags  # the second processor's block is not read
    assert machine.isa_level(flags) == "AVX-512"
    assert machine.cpu_model(EPYC) == "AMD EPYC 9654 96-Core Processor"


def test_amx_outranks_avx512():
    flags = machine.cpu_flags(SAPPHIRE_RAPIDS)
    assert {"amx_tile", "amx_bf16", "amx_int8", "avx512_fp16", "avx_vnni"} <= set(flags)
    assert machine.isa_level(flags) == "AMX"


def test_avx2_only_machine_is_not_taken_for_avx512():
    flags = machine.cpu_flags(HASWELL)
    assert flags == ["avx", "avx2", "fma"]  # a flag that merely starts with avx512 is not avx512f
    assert machine.isa_level(flags) == "AVX2"


def test_arm_features_line_and_model_fallback():
    flags = machine.cpu_flags(GRAVITON)
    assert flags == ["asimd", "sve"]
    assert machine.isa_level(flags) == "SVE"
    assert machine.cpu_model(GRAVITON) != "0"  # "processor: 0" is an index, never the name


def test_nothing_readable_is_unknown():
    assert machine.cpu_flags("") == []
    assert machine.isa_level([]) == "unknown"


def test_without_cpuinfo_the_portable_fallback_is_used(monkeypatch):
    monkeypatch.setattr(machine, "_read_cpuinfo", lambda: None)
    answers = {
        "machdep.cpu.features": "FPU SSE4.2 AVX1.0 FMA",
        "machdep.cpu.leaf7_features": "AVX2 AVX512F AVX512VNNI",
        "machdep.cpu.brand_string": "Intel(R) Core(TM) i9",
    }
    monkeypatch.setattr(machine, "_sysctl", lambda *names: " ".join(answers[n] for n in names))
    assert machine.cpu_flags() == ["avx", "avx2", "fma", "avx512f", "avx512_vnni"]
    assert machine.cpu_model() == "Intel(R) Core(TM) i9"


def test_record_is_json_ready_and_reports_the_environment(monkeypatch):
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    record = machine.machine_record(cpuinfo=EPYC)
    assert json.loads(json.dumps(record)) == record
    assert record["cpu_model"] == "AMD EPYC 9654 96-Core Processor"
    assert record["isa"] == "AVX-512"
    assert record["TF_ENABLE_ONEDNN_OPTS"] == "0"
    assert record["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    assert record["tensorflow"] and record["keras"]  # installed in the project's environment
    assert record["cores"] >= 1
    for key in ("onednn_enabled", "intra_op_threads", "inter_op_threads", "op_determinism"):
        assert key in record


def test_record_unset_variables_are_none(monkeypatch):
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    record = machine.machine_record(cpuinfo=HASWELL)
    assert record["TF_ENABLE_ONEDNN_OPTS"] is None and record["ONEDNN_MAX_CPU_ISA"] is None
    assert record["isa"] == "AVX2"


@pytest.mark.skipif(not machine._CPUINFO.exists(), reason="no /proc/cpuinfo here")
def test_this_machine_is_described():
    record = machine.machine_record()
    assert record["cpu_model"] != "unknown"
    assert record["isa"] != "unknown" or record["architecture"] not in ("x86_64", "AMD64")
