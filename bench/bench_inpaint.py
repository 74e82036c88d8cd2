"""Inpainting benchmark: quality inside the hole and time, ours against the usual peers.

    python bench/bench_inpaint.py [--quick] [--no-4k]

Photographs that ship with scikit-image (resized to 512 px on the long side) get holes of
three kinds (thin scratches, blobs, a 56 px square; 1-10 % of the picture). Each method
fills them; we report PSNR and SSIM over the hole pixels (sRGB-encoded RGB, the values a
viewer sees) and the time per fill (median of 3 runs). Peers: OpenCV cv2.inpaint (TELEA,
NS; radius 5), scikit-image inpaint_biharmonic, and pypatchmatch (compiled PatchMatch, patch radius 3)
when installed. Our nodes run through the node's compute with grow 0 and blend 0 on
linear premultiplied RGBA (conversion included in the time), exactly as a graph runs them.

Structure: a straight edge and a disc's rim crossing holes in a textured picture
(tests/nodes/test_inpaint_structure.py): the edge position error inside the holes, ours
against OpenCV Telea and pypatchmatch.

Outpainting seams: six photos widened on both sides; the gradient across each seam
against the gradient of the picture's own content beside it.

Then: telea on a 4K (3840x2160) frame with a 5 % mask against cv2's INPAINT_TELEA, and the
cold compile time of the inpaint kernels (measured in a fresh process with an empty numba
cache). Writes bench/results/inpaint.md (the tables) and bench/results/inpaint_grid.png
(before/after crops). No assertions on time.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from skimage import data as skdata  # noqa: E402
from skimage.metrics import structural_similarity  # noqa: E402
from skimage.restoration import inpaint_biharmonic  # noqa: E402

from nodes.inpaint import inpaint  # noqa: E402

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "immunohistochemistry")
RESULTS = os.path.join(ROOT, "bench", "results")


# ---------------------------------------------------------------- inputs

def load_photo(name, long_side=512):
    """An sRGB uint8 (H, W, 3) photo from skimage.data, resized to `long_side`."""
    picture = getattr(skdata, name)()
    if picture.ndim == 2:
        picture = np.dstack([picture] * 3)
    picture = picture[..., :3]
    height, width = picture.shape[:2]
    scale = long_side / max(height, width)
    size = (round(width * scale), round(height * scale))
    return np.ascontiguousarray(cv2.resize(picture, size, interpolation=cv2.INTER_AREA))


def scratch_hole(shape, rng):
    """Six straight scratches, 2-4 px wide."""
    canvas = np.zeros(shape, np.uint8)
    for _ in range(6):
        ends = rng.integers(0, [shape[1], shape[0]], size=(2, 2))
        cv2.line(canvas, tuple(map(int, ends[0])), tuple(map(int, ends[1])), 1,
                 int(rng.integers(2, 5)))
    return canvas > 0


def blob_hole(shape, rng):
    """Four ellipses, 8-24 px semi-axes."""
    canvas = np.zeros(shape, np.uint8)
    for _ in range(4):
        centre = rng.integers([30, 30], [shape[1] - 30, shape[0] - 30])
        axes = rng.integers(8, 25, size=2)
        cv2.ellipse(canvas, tuple(map(int, centre)), tuple(map(int, axes)),
                    float(rng.integers(0, 180)), 0, 360, 1, -1)
    return canvas > 0


def square_hole(shape, rng, side=56):
    """One side x side square, away from the border."""
    hole = np.zeros(shape, bool)
    top = int(rng.integers(side, shape[0] - 2 * side))
    left = int(rng.integers(side, shape[1] - 2 * side))
    hole[top:top + side, left:left + side] = True
    return hole


HOLES = {"scratches": scratch_hole, "blobs": blob_hole, "square": square_hole}


def cases(photos=PHOTOS, seed=0):
    """(photo name, hole kind, sRGB uint8 photo, hole) for every photo and hole kind;
    `seed` moves every hole (a second set of holes checks that a method is not tuned
    to the first)."""
    for photo_index, name in enumerate(photos):
        photo = load_photo(name)
        for kind_index, (kind, make) in enumerate(HOLES.items()):
            rng = np.random.default_rng(100 * photo_index + kind_index + seed)
            yield name, kind, photo, make(photo.shape[:2], rng)


# ---------------------------------------------------------------- methods (uint8 sRGB in/out)

def srgb_to_linear(values):
    return np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(values):
    values = np.clip(values, 0.0, 1.0)
    return np.where(values <= 0.0031308, values * 12.92, 1.055 * values ** (1 / 2.4) - 0.055)


def ours(method):
    def fill(photo, hole):
        linear = srgb_to_linear(photo.astype(np.float64) / 255.0)
        image = np.dstack([linear, np.ones(hole.shape)]).astype(np.float32)
        started = time.perf_counter()
        out = inpaint.compute(image, hole.astype(np.float32), method=method, grow=0.0,
                              blend=0.0, radius=5)
        elapsed = time.perf_counter() - started
        return linear_to_srgb(out[..., :3].astype(np.float64)), elapsed
    return fill


def opencv(flag):
    def fill(photo, hole):
        started = time.perf_counter()
        out = cv2.inpaint(photo, hole.astype(np.uint8) * 255, 5, flag)
        return out / 255.0, time.perf_counter() - started
    return fill


def biharmonic(photo, hole):
    image = photo / 255.0
    started = time.perf_counter()
    out = inpaint_biharmonic(image, hole, channel_axis=-1)
    return out, time.perf_counter() - started


def pypatchmatch():
    try:
        from patchmatch import patch_match
    except ImportError:
        print("pypatchmatch is not installed (pip install pypatchmatch): left out")
        return None
    if not patch_match.patchmatch_available:
        return None

    def fill(photo, hole):
        started = time.perf_counter()
        out = patch_match.inpaint(photo, hole.astype(np.uint8), patch_size=3)
        return out / 255.0, time.perf_counter() - started
    return fill


def methods():
    found = {"ours auto": ours("auto"), "ours telea": ours("telea"),
             "ours smooth": ours("smooth"), "ours patch": ours("patch"),
             "cv2 TELEA": opencv(cv2.INPAINT_TELEA), "cv2 NS": opencv(cv2.INPAINT_NS),
             "skimage biharmonic": biharmonic}
    patchmatch_fill = pypatchmatch()
    if patchmatch_fill is not None:
        found["pypatchmatch"] = patchmatch_fill
    return found


# ---------------------------------------------------------------- measures

def hole_psnr(result, truth, hole):
    error = np.mean((result[hole] - truth[hole]) ** 2)
    return 10 * np.log10(1.0 / max(error, 1e-12))


def hole_ssim(result, truth, hole):
    _, ssim_map = structural_similarity(truth, result, channel_axis=-1, data_range=1.0,
                                        full=True)
    return float(ssim_map[hole].mean())


def quality_table(quick, repeats, seed=0):
    """PSNR, SSIM and the median time of `repeats` runs for every method and case."""
    fills = methods()
    photos = PHOTOS[:2] if quick else PHOTOS
    warm = next(cases(photos[:1]))
    for fill in fills.values():  # compile / warm every method once before timing
        fill(warm[2], warm[3])
    rows = {name: {kind: [] for kind in HOLES} for name in fills}
    grid = []
    for photo_name, kind, photo, hole in cases(photos, seed):
        truth = photo / 255.0
        shown = {}
        for name, fill in fills.items():
            runs = [fill(photo, hole) for _ in range(repeats)]
            result, elapsed = runs[0][0], float(np.median([run[1] for run in runs]))
            rows[name][kind].append((hole_psnr(result, truth, hole),
                                     hole_ssim(result, truth, hole), elapsed))
            shown[name] = result
        print(f"  {photo_name:22s} {kind:10s} hole {hole.mean():5.1%}  " + "  ".join(
            f"{name.split()[-1]} {rows[name][kind][-1][0]:.1f}" for name in fills))
        grid.append((photo_name, kind, truth, hole, shown))
    return rows, grid


def format_quality(rows):
    kinds = list(HOLES)
    head = ("| method | " + " | ".join(f"PSNR {k}" for k in kinds)
            + " | mean PSNR | mean SSIM | " + " | ".join(f"ms {k}" for k in kinds)
            + " | median ms | total s |")
    lines = [head, "|" + "---|" * (2 * len(kinds) + 5)]
    for name, by_kind in rows.items():
        everything = [entry for kind in kinds for entry in by_kind[kind]]
        psnr_by_kind = [np.mean([entry[0] for entry in by_kind[kind]]) for kind in kinds]
        times = [entry[2] for entry in everything]
        lines.append(f"| {name} | " + " | ".join(f"{value:.2f}" for value in psnr_by_kind)
                     + f" | {np.mean([e[0] for e in everything]):.2f}"
                     + f" | {np.mean([e[1] for e in everything]):.3f} | "
                     + " | ".join(f"{1000 * np.median([e[2] for e in by_kind[kind]]):.0f}"
                                  for kind in kinds)
                     + f" | {1000 * np.median(times):.1f} | {np.sum(times):.2f} |")
    return "\n".join(lines)


def goal_lines(rows):
    """The issue's targets from one run: auto against the best classical fill (mean PSNR,
    mean SSIM, total time against biharmonic), patch's speed-up over pypatchmatch."""
    def summary(name):
        everything = [entry for entries in rows[name].values() for entry in entries]
        return (np.mean([e[0] for e in everything]), np.mean([e[1] for e in everything]),
                np.sum([e[2] for e in everything]))
    classical = max(("cv2 TELEA", "cv2 NS", "skimage biharmonic"), key=lambda n: summary(n)[0])
    auto, best, biharmonic = summary("ours auto"), summary(classical), summary("skimage biharmonic")
    lines = [f"auto vs the best classical fill ({classical}): {auto[0] - best[0]:+.2f} dB mean "
             f"PSNR, SSIM {auto[1] - best[1]:+.3f}; auto's total time / biharmonic's: "
             f"{auto[2] / biharmonic[2]:.2f}"]
    if "pypatchmatch" in rows:
        patch, theirs = summary("ours patch"), summary("pypatchmatch")
        lines.append(f"patch vs pypatchmatch: {patch[0] - theirs[0]:+.2f} dB, SSIM "
                     f"{patch[1] - theirs[1]:+.3f}, {theirs[2] / patch[2]:.2f}x faster "
                     "(total time)")
    return lines


# ---------------------------------------------------------------- the before/after grid

GRID_METHODS = ("cv2 TELEA", "skimage biharmonic", "pypatchmatch", "ours patch", "ours auto")
GRID_SQUARES = ("astronaut", "chelsea", "camera")  # wide holes show smearing; these vary most


def save_grid(grid, path, crop=160):
    """Rows cropped around the hole: the first photo's scratches and blobs, and the
    square hole of each GRID_SQUARES photo."""
    rows, picked = [], set()
    for photo_name, kind, truth, hole, shown in grid:
        wanted = photo_name in GRID_SQUARES if kind == "square" else kind not in picked
        if not wanted:
            continue
        picked.add(kind)
        ys, xs = np.nonzero(hole)
        centre_y = int(np.clip(np.median(ys), crop // 2, truth.shape[0] - crop // 2))
        centre_x = int(np.clip(np.median(xs), crop // 2, truth.shape[1] - crop // 2))
        window = (slice(centre_y - crop // 2, centre_y + crop // 2),
                  slice(centre_x - crop // 2, centre_x + crop // 2))
        holed = truth.copy()
        holed[hole] = (1.0, 0.0, 1.0)
        tiles = [truth[window], holed[window]]
        tiles += [shown[name][window] for name in GRID_METHODS if name in shown]
        rows.append(np.hstack([np.pad(tile, ((2, 2), (2, 2), (0, 0)), constant_values=1.0)
                               for tile in tiles]))
    picture = (np.clip(np.vstack(rows), 0, 1) * 255).astype(np.uint8)
    cv2.imwrite(path, picture[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 9])
    names = ["original", "hole"] + [name for name in GRID_METHODS if name in grid[0][4]]
    return names


# ---------------------------------------------------------------- structure

def structure_table():
    """Edge position error (px) of the straight edge and the disc rim inside the holes."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "nodes"))
    import test_inpaint_structure as structure
    picture, hole = structure.scene()
    photo = (picture * 255).round().astype(np.uint8)
    fills = {name: methods()[name] for name in ("ours patch", "ours auto", "cv2 TELEA",
                                                "skimage biharmonic")}
    patchmatch_fill = pypatchmatch()
    if patchmatch_fill is not None:
        fills["pypatchmatch"] = patchmatch_fill
    lines = ["## Structure: edge position error inside the holes (px; lower is better)", "",
             "| method | straight edge | disc rim |", "|---|---|---|"]
    for name, fill in fills.items():
        result = np.asarray(fill(photo, hole)[0], np.float64)
        lines.append(f"| {name} | {structure.straight_error(result):.2f} | "
                     f"{structure.rim_error(result, hole):.2f} |")
    return lines


# ---------------------------------------------------------------- outpainting seams

def _seam_photo(photo, height):
    scale = height / photo.shape[0]
    return cv2.resize(photo, (round(photo.shape[1] * scale), height),
                      interpolation=cv2.INTER_AREA)


def _gradient_ratios(shown, left, right):
    """For the seams at columns `left` and `right` of `shown` (H, W, 3) sRGB: the mean
    horizontal gradient of the grey over the 12 columns around each seam over that of
    the content 8-20 px inside it."""
    steps = np.abs(np.diff(shown.mean(axis=2), axis=1))
    ratios = []
    for seam, inside in ((left, 1), (right, -1)):
        content = (steps[:, seam + 8:seam + 20] if inside > 0 else steps[:, seam - 20:seam - 8])
        ratios.append(float(steps[:, seam - 6:seam + 6].mean() / content.mean()))
    return ratios


def seam_ratios(photo, margin=40, width=140, height=160):
    """Outpaint the centre `width` px of `photo` by `margin` px on both sides (the
    `outpaint` template's fill: patch, 11x11 patches, grow 4, blend 3, on a mirrored
    canvas); returns, for each seam, the mean horizontal gradient (sRGB grey) over the
    12 columns around the seam over that of the picture's own content 8-20 px inside it
    (1 or less: no visible seam), and the result (sRGB)."""
    photo = _seam_photo(photo, height)
    left = (photo.shape[1] - width) // 2
    plate = srgb_to_linear(photo[:, left:left + width] / 255.0)
    image = np.dstack([plate, np.ones(plate.shape[:2])]).astype(np.float32)
    canvas = np.ascontiguousarray(np.pad(image, ((0, 0), (margin, margin), (0, 0)),
                                         mode="reflect"))
    added = np.zeros(canvas.shape[:2], np.float32)
    added[:, :margin] = added[:, -margin:] = 1.0
    out = inpaint.compute(canvas, added, method="patch", grow=4.0, blend=3.0, radius=5,
                          patch_radius=5)
    shown = linear_to_srgb(out[..., :3].astype(np.float64))
    return _gradient_ratios(shown, margin, margin + width), shown


def photo_seam_ratios(photo, width=140, height=160):
    """The same measure on the whole photo at the same two lines: what the real
    picture beyond the crop gives there (above 1 where the photo has an edge of its own
    within 6 px of the line: the astronaut's flag)."""
    photo = _seam_photo(photo, height)
    left = (photo.shape[1] - width) // 2
    return _gradient_ratios(photo / 255.0, left, left + width)


def seam_table():
    lines = ["## Outpainting seams: gradient across the seam / in the picture near it", "",
             "| photo | left seam | right seam | the real photo there: left | right |",
             "|---|---|---|---|---|"]
    ratios, truths = [], []
    for name in PHOTOS:
        pair, _ = seam_ratios(load_photo(name))
        truth = photo_seam_ratios(load_photo(name))
        ratios += pair
        truths += truth
        lines.append(f"| {name} | {pair[0]:.2f} | {pair[1]:.2f} | {truth[0]:.2f} | {truth[1]:.2f} |")
    lines += ["", f"{sum(r <= 1.0 for r in ratios)} of {len(ratios)} seams at or below 1 "
              f"(median {np.median(ratios):.2f}, max {max(ratios):.2f}); "
              f"{sum(r <= max(t, 1.0) for r, t in zip(ratios, truths))} of {len(ratios)} at or "
              "below the larger of 1 and the real photo's ratio at that line"]
    return lines


# ---------------------------------------------------------------- 4K telea and compile time

def telea_4k(repeats):
    base = load_photo("astronaut", long_side=3840)
    photo = np.ascontiguousarray(cv2.resize(base, (3840, 2160), interpolation=cv2.INTER_LINEAR))
    rng = np.random.default_rng(7)
    hole = np.zeros(photo.shape[:2], np.uint8)
    while hole.mean() < 0.05:
        centre = tuple(map(int, rng.integers([0, 0], [3840, 2160])))
        if rng.random() < 0.5:
            cv2.circle(hole, centre, int(rng.integers(8, 40)), 1, -1)
        else:
            end = tuple(map(int, np.add(centre, rng.integers(-300, 300, size=2))))
            cv2.line(hole, centre, end, 1, int(rng.integers(3, 9)))
    linear = srgb_to_linear(photo / 255.0)
    image = np.dstack([linear, np.ones(hole.shape)]).astype(np.float32)
    mask = hole.astype(np.float32)
    timings = {"ours telea (float RGBA, node)": [], "cv2 INPAINT_TELEA (uint8 RGB)": []}
    for _ in range(repeats):
        started = time.perf_counter()
        inpaint.compute(image, mask, method="telea", grow=0.0, blend=0.0, radius=5)
        timings["ours telea (float RGBA, node)"].append(time.perf_counter() - started)
        started = time.perf_counter()
        cv2.inpaint(photo, hole * 255, 5, cv2.INPAINT_TELEA)
        timings["cv2 INPAINT_TELEA (uint8 RGB)"].append(time.perf_counter() - started)
    return hole.mean(), {name: float(np.median(values)) for name, values in timings.items()}


COLD_SCRIPT = """
import time, numpy as np
started = time.perf_counter()
from nodes.inpaint import inpaint
imported = time.perf_counter()
image = np.random.default_rng(0).random((96, 96, 4), dtype=np.float32)
mask = np.zeros((96, 96), np.float32); mask[30:70, 30:70] = 1; mask[10, :] = 1
for method in ("telea", "smooth", "patch", "auto"):
    begun = time.perf_counter()
    inpaint.compute(image, mask, method=method, grow=4.0, blend=2.0, radius=5)
    print(method, round(time.perf_counter() - begun, 2))
print("import", round(imported - started, 2))
"""


def cold_compile():
    """First-call times per method in fresh processes: empty numba cache, then cached."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=ROOT)
        runs = [subprocess.run([sys.executable, "-c", COLD_SCRIPT], env=env, cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout
                for _ in range(2)]
    parse = [dict(line.split() for line in run.split("\n") if line) for run in runs]
    return parse[0], parse[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="two photos, one 4K repeat")
    parser.add_argument("--no-4k", action="store_true", help="skip the 4K telea timing")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per fill")
    parser.add_argument("--seed", type=int, default=0,
                        help="move the holes (not 0: only the quality table, written to "
                             "bench/results/inpaint_seed<N>.md)")
    args = parser.parse_args()
    os.makedirs(RESULTS, exist_ok=True)
    report = ["## Inpainting quality (holes in 512 px photos from skimage.data)", ""]
    rows, grid = quality_table(args.quick, 1 if args.quick else args.repeats, args.seed)
    table = format_quality(rows)
    goals = goal_lines(rows)
    print(table + "\n\n" + "\n".join(goals))
    report += [table, ""] + goals + [""]
    if args.seed:
        with open(os.path.join(RESULTS, f"inpaint_seed{args.seed}.md"), "w") as handle:
            handle.write(f"Holes moved (--seed {args.seed})\n\n" + "\n".join(report) + "\n")
        return
    names = save_grid(grid, os.path.join(RESULTS, "inpaint_grid.png"))
    report += ["Grid columns (bench/results/inpaint_grid.png): " + ", ".join(names), ""]
    for table in (structure_table, seam_table):
        lines = table()
        print("\n".join(lines))
        report += lines + [""]
    if not args.no_4k:
        coverage, timings = telea_4k(1 if args.quick else 5)
        lines = [f"## Telea on 3840x2160, {coverage:.1%} mask (median)", "",
                 "| method | time ms | ratio to cv2 |", "|---|---|---|"]
        for name, value in timings.items():
            ratio = value / timings["cv2 INPAINT_TELEA (uint8 RGB)"]
            lines.append(f"| {name} | {1000 * value:.0f} | {ratio:.2f} |")
        print("\n".join(lines))
        report += lines + [""]
    cold, cached = cold_compile()
    lines = ["## First call in a fresh process (96 px image), seconds", "",
             "| method | empty numba cache (compile) | cache filled |", "|---|---|---|"]
    for method in ("telea", "smooth", "patch", "auto"):
        lines.append(f"| {method} | {cold[method]} | {cached[method]} |")
    lines.append(f"| import nodes.inpaint | {cold['import']} | {cached['import']} |")
    print("\n".join(lines))
    report += lines
    with open(os.path.join(RESULTS, "inpaint.md"), "w") as handle:
        handle.write("\n".join(report) + "\n")


if __name__ == "__main__":
    main()
