"""The notice as a scanned copy (notice_scan.pdf): its PDF rendered at 150 dpi in grey, each page turned
a little (alternating), greyed, with noise and specks from a seeded generator, saved as an image-only
PDF, which must have no text layer."""
from __future__ import annotations

import subprocess
from pathlib import Path

from .common import norm

# scan noise: (seed, rotation in degrees)
SCAN = {"a": (37, 0.5), "b": (45, -0.7), "c": (53, 0.3), "d": (61, -0.4), "e": (67, 0.6)}


def make_scan(pdf: Path, out: Path, workdir: Path, seed: int, angle: float) -> int:
    import numpy as np
    from PIL import Image

    prefix = workdir / "scan"
    subprocess.run(["pdftoppm", "-r", "150", "-gray", "-png", str(pdf), str(prefix)], check=True)
    files = sorted(workdir.glob("scan-*.png"), key=lambda p: int(p.stem.split("-")[-1]))
    rng = np.random.default_rng(seed)
    images = []
    for k, f in enumerate(files):
        im = Image.open(f).convert("L")
        im = im.rotate(angle * (1 if k % 2 == 0 else -0.6), resample=Image.BICUBIC, expand=False, fillcolor=255)
        a = np.asarray(im, dtype=np.float32)
        a = a * 0.93 + 12  # slightly grey paper, toner not quite black
        a += rng.normal(0, 6, a.shape)
        specks = rng.random(a.shape) < 0.0004
        a[specks] = rng.uniform(40, 140, int(specks.sum()))
        images.append(Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "L"))
    images[0].save(str(out), "PDF", save_all=True, append_images=images[1:], resolution=150.0)
    return len(images)


def make_notice_scan(out: Path, tmp: Path, variant: str) -> None:
    """out/notice_scan.pdf from out/notice.pdf with the variant's noise seed and rotation (pages rendered
    under tmp); checked for no text layer."""
    scan_dir = tmp / "scan"
    scan_dir.mkdir()
    make_scan(out / "notice.pdf", out / "notice_scan.pdf", scan_dir, seed=SCAN[variant][0], angle=SCAN[variant][1])
    scan_text = subprocess.run(["pdftotext", str(out / "notice_scan.pdf"), "-"], capture_output=True, text=True).stdout
    if norm(scan_text.replace("\f", "")):
        raise RuntimeError("notice_scan.pdf has a text layer")
