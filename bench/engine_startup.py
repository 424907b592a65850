"""CPU engine start-up: from a fresh Python process to the first correction.

    .venv/bin/python bench/engine_startup.py

For each of three languages (de and nl have the largest vocabularies), a fresh process imports
the engine, builds it and corrects one typical text with a typo in it. Figure: the time from
before the import to after the first correction, measured inside the child, median of 5 runs;
target <= 0.3 s, judged on CPU time (wall time is printed too: on a shared machine it also
counts waiting for a core). Floors, same run: ``python -c pass`` (interpreter start) and
a bare ``import offbatch.engines.base`` (the package import every engine pays), as process wall
times, next to the engine's own process wall time.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

TARGET_S = 0.3
RUNS = 5
TEXTS = {
    "fr": "Farine de blé, sucre, huile de colza, léci - thine de soja, sel, ail deshydraté.",
    "de": "Zucker, Weizenmehl, Kakaobutter, Emulgator: Sojalecithin, Magermilchpulvr, Salz.",
    "en": "Sugar, wheat flour, palm oil, cocoa, soy lecthin (emulsifier), salt, natural flavor.",
}
CHILD = """
import time
t0, c0 = time.perf_counter(), time.process_time()
from offbatch.engines import load_engine
from offbatch.engines.base import SpellcheckInput
engine = load_engine("cpu")
[out] = engine.correct([SpellcheckInput({text!r}, {lang!r})])
print(time.perf_counter() - t0, time.process_time() - c0, out.correction != {text!r})
"""


def wall(args: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, *args], check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - started, out


def main() -> None:
    floor = statistics.median(wall(["-c", "pass"])[0] for _ in range(RUNS))
    bare = statistics.median(wall(["-c", "import offbatch.engines.base"])[0] for _ in range(RUNS))
    print(f"floor: python -c pass {floor:.3f} s; bare import of offbatch.engines.base {bare:.3f} s (process wall)")
    ok = True
    for lang, text in TEXTS.items():
        runs = [wall(["-c", CHILD.format(text=text, lang=lang)]) for _ in range(RUNS)]
        inside = [tuple(out.split()) for _, out in runs]
        ready = statistics.median(float(w) for w, _, _ in inside)
        ready_cpu = statistics.median(float(c) for _, c, _ in inside)
        process = statistics.median(w for w, _ in runs)
        changed = all(flag == "True" for _, _, flag in inside)
        met = ready_cpu <= TARGET_S and changed
        ok &= met
        print(f"{lang}: first correction {ready_cpu:.3f} s CPU after start of import ({ready:.3f} s wall); "
              f"process {process:.3f} s = floor + {process - floor:.3f} s; text corrected: {changed}; "
              f"target <= {TARGET_S} s: {'met' if met else 'NOT met'}")
    # Like every bench: a missed target is printed, not an error (make bench goes on).
    print("engine start-up: " + ("met for every language" if ok else "NOT met"))


if __name__ == "__main__":
    main()
