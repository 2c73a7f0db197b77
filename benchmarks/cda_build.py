"""CDA build time and peak RSS for 100 KB, 5 MB and 50 MB PDFs; prints one JSON document.

    .venv/bin/python benchmarks/cda_build.py [--sizes 100000,5000000,50000000] [--apis bytes,file]

Each (size, API) pair runs in its own subprocess so that its peak RSS (getrusage ru_maxrss) is its own:
- ``bytes``: the PDF is read into memory and `cda.build_cda` returns the CDA as bytes (what the delivery
  does before the ITI-41 call);
- ``file``: `cda.write_cda` reads the PDF from its path and streams the CDA into a file.
``baseline_rss`` is the process after imports, before the PDF is read; ``peak_over_baseline`` is the
memory the build itself needed, PDF included; both are also given as multiples of the PDF size.
The PDF/A inspection (pikepdf open + SHA-256) is timed separately, after the RSS reading.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPEATS = {100_000: 30, 5_000_000: 8, 50_000_000: 3}


def _rss_peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def _rss_now() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child(pdf_path: Path, api: str, repeats: int) -> dict[str, object]:
    from dmp_gateway.cda.builder import build_cda, write_cda
    from dmp_gateway.cda.examples import example_inputs
    from dmp_gateway.cda.pdf import inspect_pdf

    build_cda(example_inputs())  # warm imports and value sets with a tiny PDF
    baseline = _rss_now()
    size = pdf_path.stat().st_size
    times = []
    with tempfile.TemporaryDirectory() as out_dir:
        out_path = Path(out_dir, "cda.xml")
        for _ in range(repeats):
            start = time.perf_counter()
            if api == "bytes":
                inputs = example_inputs(pdf=pdf_path.read_bytes())
                cda_size = len(build_cda(inputs))
                del inputs
            else:
                with open(out_path, "wb") as out:
                    cda_size = write_cda(example_inputs(pdf=pdf_path), out)
            times.append(time.perf_counter() - start)
        peak = _rss_peak()
    start = time.perf_counter()
    inspect_pdf(pdf_path)
    inspect_seconds = time.perf_counter() - start
    return {
        "api": api, "pdf_bytes": size, "cda_bytes": cda_size, "repeats": repeats,
        "build_seconds_p50": round(statistics.median(times), 4), "build_seconds_max": round(max(times), 4),
        "throughput_mb_s": round(size / statistics.median(times) / 1e6, 1),
        "baseline_rss": baseline, "peak_rss": peak, "peak_over_baseline": peak - baseline,
        "peak_rss_x_pdf": round(peak / size, 2), "peak_over_baseline_x_pdf": round((peak - baseline) / size, 2),
        "inspect_seconds": round(inspect_seconds, 4),
    }


def make_pdf_file(size: int, directory: Path) -> Path:
    """A valid PDF of about `size` bytes, made in a throwaway process so the parent stays small."""
    path = directory / f"bench-{size}.pdf"
    code = ("import sys; from dmp_gateway.cda.examples import example_pdf; "
            "open(sys.argv[2], 'wb').write(example_pdf(max(0, int(sys.argv[1]) - 1500)))")
    subprocess.run([sys.executable, "-c", code, str(size), str(path)], check=True)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,5000000,50000000")
    parser.add_argument("--apis", default="bytes,file")
    parser.add_argument("--child", nargs=3, metavar=("PDF", "API", "REPEATS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.child[0]), args.child[1], int(args.child[2]))))
        return 0
    results = []
    with tempfile.TemporaryDirectory(prefix="dmpgw-bench-") as work:
        for size in (int(s) for s in args.sizes.split(",")):
            pdf = make_pdf_file(size, Path(work))
            for api in args.apis.split(","):
                repeats = REPEATS.get(size, 3)
                run = subprocess.run([sys.executable, __file__, "--child", str(pdf), api, str(repeats)],
                                     check=True, capture_output=True, text=True)
                results.append(json.loads(run.stdout))
            pdf.unlink()
    print(json.dumps({"benchmark": "cda_build", "python": platform.python_version(), "cpus": os.cpu_count(),
                      "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
