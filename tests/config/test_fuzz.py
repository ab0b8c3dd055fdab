"""Mutated config files: load_config returns a config or raises ConfigError, nothing else."""

import random
from pathlib import Path

import pytest

from agent.config import load_config
from agent.errors import ConfigError

ROOT = Path(__file__).parents[2]
SEEDS = sorted((ROOT / "config" / "examples").glob("*.yaml")) + sorted((ROOT / "tests" / "config" / "bad").glob("*.yaml"))
# YAML syntax that tends to reach unusual code paths when spliced into a file.
TOKENS = [
    b":", b"-", b"[", b"]", b"{", b"}", b"&a", b"*a", b"!!str", b"!!int", b"!!float", b"!!binary aGk=", b"!!set {a}",
    b"\n", b"  ", b"\t", b"'", b'"', b"~", b"1e400", b".nan", b"-1", b"0x10", b"2024-01-01", b"yes", b"? ", b"|",
    b"%YAML 1.1\n", b"---\n", b"\xff", b"\x00", b"<<: {}",
]


def mutate(data, rng):
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        position = rng.randint(0, len(data))
        choice = rng.random()
        if choice < 0.4:
            data[position:position] = rng.choice(TOKENS)
        elif choice < 0.7:
            del data[position:position + rng.randint(1, 8)]
        else:
            data[position:position + rng.randint(0, 3)] = bytes([rng.randint(0, 255)])
    return bytes(data)


@pytest.mark.parametrize("seed", range(4))
def test_mutated_files_raise_config_error_only(tmp_path, seed):
    rng = random.Random(seed)
    path = tmp_path / "agent.yaml"
    for _ in range(150):
        text = mutate(rng.choice(SEEDS).read_bytes(), rng)
        path.write_bytes(text)
        try:
            load_config(path)
        except ConfigError:
            pass
        except Exception as error:  # noqa: BLE001 - the point is to catch any other error
            pytest.fail(f"{type(error).__name__}: {error} for the file {text!r}")
