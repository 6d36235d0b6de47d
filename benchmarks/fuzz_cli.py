"""Fuzz every input `tlgan` reads: malformed files and argument sets (issue 13's target).

    python benchmarks/fuzz_cli.py [--cases 370] [--seed 0] [--out benchmarks/results/fuzz_cli.txt]

Each case runs `tlgan ...` in-process in a worker process (a fresh worker per
batch, so peak RSS is measured per batch); counted: tracebacks (any exception
that is not the one-line exit 2), hangs (over 20 s of CPU time, stopped by
SIGPROF), peak RSS (every input is under 2 MB) and non-regular files
(FIFOs, dangling symlinks given as outputs) replaced.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

HANG_CPU_S = 20
MAX_INPUT = 2 << 20
BATCH = 40


# --- inputs ------------------------------------------------------------------------------

def _mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    kind = rng.choice(("truncate", "flip", "span", "insert"))
    if kind == "truncate" or not out:
        return bytes(out[: rng.randrange(0, max(len(out), 1))])
    for _ in range(rng.randint(1, 8)):
        at = rng.randrange(len(out))
        if kind == "flip":
            out[at] ^= 1 << rng.randrange(8)
        elif kind == "span":
            n = rng.randint(1, 64)
            out[at:at + n] = rng.randbytes(n)
        else:
            out[at:at] = rng.randbytes(rng.randint(1, 16))
    return bytes(out)


WEIRD_VALUES: list[Any] = [None, True, -1, 0, 1e300, -5, 100000, 2**70, "x", "[/]", "\x1b]0;t\x07",
                           [], {}, [1, 2], {"a": 1}, "AAAA", "A" * 5000, 0.5]


def _weird_json(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict) and value:
        key = rng.choice(list(value))
        value = dict(value)
        value[key] = _weird_json(value[key], rng) if rng.random() < 0.5 else \
            rng.choice(WEIRD_VALUES)
        return value
    if isinstance(value, list) and value:
        value = list(value)
        value[rng.randrange(len(value))] = rng.choice(WEIRD_VALUES)
        return value
    return rng.choice(WEIRD_VALUES)


def _json_variant(document: Any, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.1:
        return "[" * rng.choice((40, 5000, 100000)) + "]" * 10
    if roll < 0.2:
        return json.dumps(document).replace("0.0", rng.choice(("NaN", "Infinity", "-Infinity")), 1)
    return json.dumps(_weird_json(document, rng))


def make_cases(work: Path, count: int, seed: int) -> list[dict[str, Any]]:
    """Files under `work` and the argument sets that read them."""
    import generators_fixtures as fx
    import hostile
    import numpy as np
    import torch
    from PIL import Image

    from tlgan_tui.cli import main
    from tlgan_tui.engine.session import Session

    rng = random.Random(seed)
    out = work / "out"
    out.mkdir()
    fifo = work / "fifo.png"
    os.mkfifo(fifo)
    dangling = work / "dangling.png"
    dangling.symlink_to(work / "nowhere.png")

    # Valid seeds for mutation.
    seeds: dict[str, Path] = {}
    seeds["pggan"] = hostile.tlgan_safetensors(work / "pggan.safetensors", "pggan",
                                               hostile.PGGAN_CONFIG, hostile.pggan_tensors())
    fx.write_ada_pickle(work / "ada.pkl", fx.make_ada_generator(resolution=16, w_dim=16))
    seeds["ada"] = work / "ada.pkl"
    fx.write_gan_zoo_checkpoint(work / "zoo.pth", fx.ZooGNet(8, 8, (8,)), fx.ZooGNet(8, 8, (8,)))
    seeds["zoo"] = work / "zoo.pth"
    seeds["tf"] = hostile.tf_pggan_pickle(work / "tf.pkl",
                                          fx.make_tf_pggan_variables(8, (16, 8)))
    with contextlib.redirect_stdout(io.StringIO()):
        main(["render", "--seed", "3", "--set", "Male=1", "--lock", "Age", "-o",
              str(work / "face.png")])
    with Image.open(work / "face.png") as image:
        face_meta = json.loads(image.text["tlgan"])
    from tlgan_tui.engine.paths import default_axes_path

    axes_bytes = default_axes_path().read_bytes()
    from tlgan_tui.engine.edit_state import EditState
    from tlgan_tui.engine.session import History

    state = EditState.fresh(np.zeros(100, np.float32), 7, seed=1).set_offset(0, 1.0)
    session_doc = json.loads(Session(History([state, state.set_offset(1, 2.0)]),
                                     {"sha256": "x", "name": "g"},
                                     {"names": [f"F{i}" for i in range(7)]}).to_json())
    fixed = [
        hostile.shared_tree_pickle(work / "shared.pkl", 40),
        hostile.deep_chain_pickle(work / "deep.pkl", 100),
        hostile.bytearray_bomb(work / "bytearray.pkl"),
        hostile.bytearray8_bomb(work / "bytearray8.pkl"),
        hostile.wide_dcgan(work / "wide.safetensors"),
        hostile.zip_bomb(work / "zipbomb.pt", 200 if count >= 100 else 32),
        hostile.tlgan_safetensors(work / "nan.safetensors", "pggan", hostile.PGGAN_CONFIG,
                                  hostile.pggan_tensors(fill=float("nan"))),
    ]
    cases: list[dict[str, Any]] = []

    def output() -> str:
        roll = rng.random()
        if roll < 0.1:
            return str(fifo)
        if roll < 0.15:
            return str(dangling)
        return str(out / f"o{len(cases)}.png")

    for path in fixed:
        cases.append({"argv": ["render", "--generator", str(path), "-o", output()]})
        cases.append({"argv": ["info", "--generator", str(path)]})
    n = 0
    while len(cases) < count:
        n += 1
        group = n % 6
        if group == 0:  # generator files
            name = rng.choice(list(seeds))
            path = work / f"gen{n}{seeds[name].suffix}"
            path.write_bytes(_mutate(seeds[name].read_bytes(), rng))
            cases.append({"argv": [rng.choice(("render", "info")), "--generator", str(path)]
                          + (["-o", output()] if rng.random() < 0.7 else [])})
        elif group == 1:  # generator config metadata
            config = _json_variant(hostile.PGGAN_CONFIG, rng)
            path = hostile.tlgan_safetensors(work / f"cfg{n}.safetensors",
                                             rng.choice(("pggan", "stylegan2")), config,
                                             hostile.pggan_tensors())
            cases.append({"argv": ["render", "--generator", str(path), "-o", output()]})
        elif group == 2:  # axes
            path = work / f"axes{n}.safetensors"
            if rng.random() < 0.5:
                path.write_bytes(_mutate(axes_bytes, rng))
            else:
                info = {"names": ["Male", "Age"], "kinds": ["probability", "continuous"],
                        "generator": {"sha256": "0" * 64, "name": "g"}, "method": "m"}
                hostile_info = _json_variant(info, rng)
                directions = torch.nn.functional.normalize(torch.randn(2, 100), dim=1)
                from safetensors.torch import save_file

                save_file({"directions": directions, "sigmas": torch.ones(2)}, str(path),
                          metadata={"format": "tlgan-axes", "version": "1",
                                    "info": hostile_info})
            cases.append({"argv": [rng.choice(("render", "info")), "--axes", str(path)]
                          + (["--set", "Male=1", "-o", output()] if rng.random() < 0.8
                             else [])})
        elif group == 3:  # PNG metadata
            path = hostile.png_with_chunk(work / f"snap{n}.png", _json_variant(face_meta, rng))
            extra = ["--set", "Age=1"] if rng.random() < 0.4 else []
            cases.append({"argv": ["render", "--from", str(path), *extra, "-o", output()]})
        elif group == 4:  # sessions (loaded as --resume would)
            path = work / f"session{n}.json"
            path.write_text(_json_variant(session_doc, rng))
            cases.append({"session": str(path)})
        else:  # argument sets
            cases.append({"argv": _arguments(rng, output())})
    bomb = hostile.huge_png(work / "bomb.png")
    cases += [{"argv": ["render", "--from", str(bomb), "-o", output()]},
              {"argv": ["measure", str(bomb)]}, {"argv": ["measure", str(work)]},
              {"argv": ["render", "--generator", str(work), "-o", output()]}]
    too_big = [p for p in work.iterdir() if p.is_file() and p.stat().st_size > MAX_INPUT]
    assert not too_big, f"inputs over 2 MB: {too_big}"
    return cases


def _arguments(rng: random.Random, output: str) -> list[str]:
    numbers = ["-1", "0", "1", "nan", "inf", "-inf", "1e300", "99999999999999999999", "x",
               "", "-5-5", "3-1", "1,,2", "0.5", "-0"]
    command = rng.choice(("render", "sweep", "fit", "measure", "info", "train-extractor"))
    argv = [command]
    if command == "render":
        choice = rng.choice(("--seed", "--seeds", "--size", "--psi", "--set", "--lock"))
        value = rng.choice(numbers)
        if choice == "--set":
            value = rng.choice(("Male", "male", "Nope", "Male=", "=1", "Male=1", "Age")) + \
                "=" + rng.choice(numbers)
        elif choice == "--lock":
            value = rng.choice(("Male", "Nope", "[/]"))
        argv += [f"{choice}={value}", "-o", output]
        if rng.random() < 0.3:
            argv += ["--set", "Male=1"]
        if rng.random() < 0.2:
            argv += ["--force"]
    elif command == "sweep":
        argv += ["--feature", rng.choice(("Male", "Age", "x")),
                 f"--{rng.choice(('seeds', 'steps', 'cell'))}={rng.choice(numbers)}",
                 "-o", output]
    elif command == "fit":
        argv += [f"--{rng.choice(('samples', 'rescore-faces', 'sefa', 'svm-fraction'))}="
                 f"{rng.choice(numbers)}", "-o", output.replace(".png", ".safetensors")]
    elif command == "measure":
        argv += [output]
    elif command == "train-extractor":
        argv += ["--celeba", "/nonexistent", f"--{rng.choice(('lr', 'epochs', 'width'))}="
                 f"{rng.choice(numbers)}", "-o", output, "--metrics-json", output]
    else:
        argv += [f"--psi={rng.choice(numbers)}"]
    return argv


# --- running -------------------------------------------------------------------------------

def run_case(case: dict[str, Any]) -> dict[str, Any]:
    from tlgan_tui.cli import main
    from tlgan_tui.engine.errors import TlganError

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError("over the CPU limit")

    signal.signal(signal.SIGPROF, expire)
    signal.setitimer(signal.ITIMER_PROF, HANG_CPU_S)
    started = time.process_time()
    result: dict[str, Any] = {"case": case}
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(stderr):
            if "session" in case:
                from tlgan_tui.engine.session import load_session

                try:
                    load_session(Path(case["session"]))
                    result["code"] = 0
                except TlganError:
                    result["code"] = 2
            else:
                result["code"] = main(case["argv"])
    except SystemExit as error:  # argparse's own usage errors
        result["code"] = error.code
    except TimeoutError:
        result["hang"] = True
    except BaseException as error:
        result["traceback"] = f"{type(error).__name__}: {str(error)[:200]}"
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
    lines = [line for line in stderr.getvalue().splitlines() if line.strip()]
    result["stderr_lines"] = len(lines)
    result["cpu_s"] = round(time.process_time() - started, 3)
    if result.get("code") == 2 and len(lines) > 1:
        result["multiline"] = lines[:3]
    return result


def worker(cases_file: Path) -> None:
    cases = json.loads(cases_file.read_text())
    import torch

    torch.set_num_threads(1)
    results = [run_case(case) for case in cases]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"results": results, "peak_mb": peak_mb}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=370)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return 0
    with tempfile.TemporaryDirectory(prefix="tlgan-fuzz-") as tmp:
        work = Path(tmp)
        os.environ["TLGAN_CACHE_DIR"] = str(work / "cache")
        cases = make_cases(work, args.cases, args.seed)
        results: list[dict[str, Any]] = []
        peak = 0.0
        started = time.perf_counter()
        for start in range(0, len(cases), BATCH):
            batch = work / "batch.json"
            batch.write_text(json.dumps(cases[start:start + BATCH]))
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
            done = subprocess.run([sys.executable, __file__, "--worker", str(batch)],
                                  capture_output=True, text=True, env=env, cwd=work)
            if done.returncode != 0:
                print(done.stderr[-2000:], file=sys.stderr)
                return 1
            report = json.loads(done.stdout.strip().splitlines()[-1])
            results += report["results"]
            peak = max(peak, report["peak_mb"])
        fifo_ok = (work / "fifo.png").is_fifo()
        link_ok = (work / "dangling.png").is_symlink()
        elapsed = time.perf_counter() - started
    tracebacks = [r for r in results if "traceback" in r]
    hangs = [r for r in results if r.get("hang")]
    multiline = [r for r in results if "multiline" in r]
    codes: dict[str, int] = {}
    for r in results:
        codes[str(r.get("code"))] = codes.get(str(r.get("code")), 0) + 1
    lines = [
        f"tlgan fuzz: {len(results)} cases (seed {args.seed}) in {elapsed:.0f} s",
        f"exit codes: {dict(sorted(codes.items()))}",
        f"tracebacks: {len(tracebacks)}",
        f"hangs (> {HANG_CPU_S} s CPU): {len(hangs)}",
        f"slowest case: {max(r['cpu_s'] for r in results):.2f} s CPU",
        f"peak RSS of a worker: {peak:.0f} MB (inputs < 2 MB)",
        f"errors longer than one line: {len(multiline)}",
        f"non-regular files replaced: {int(not fifo_ok) + int(not link_ok)}",
    ]
    lines += [f"  traceback: {r['case']} -> {r['traceback']}" for r in tracebacks[:20]]
    lines += [f"  hang: {r['case']}" for r in hangs[:20]]
    lines += [f"  multiline: {r['case']} -> {r['multiline']}" for r in multiline[:20]]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    bad = tracebacks or hangs or not (fifo_ok and link_ok) or peak > 1024
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
