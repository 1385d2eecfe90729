"""Media in and out. Images (Pillow) are uint8 arrays (H, W, C), C = 1 (grey) or 3 (RGB).
Audio (AUDIO_EXTS) is to be added here later.

What happens to each kind of image input, on purpose:
  * RGB and L (grey): kept as they are; grey stays grey (C = 1).
  * 1-bit: to L (0 / 255), C = 1.
  * Alpha (RGBA, RGBa, LA, La, PA, palette with transparency): the codec stores no alpha, so the
    image is composited onto white (what a viewer shows on a page): RGB-ish -> C = 3, grey -> C = 1.
    A MediaWarning ("alpha channel dropped") is given only when some pixel is actually
    transparent: an all-opaque alpha channel loses nothing.
  * Palette (P): to RGB (C = 3) even when every palette colour is grey; with transparency, as above.
  * CMYK: to RGB with a MediaWarning (Pillow's conversion is approximate, ICC profiles are not
    used). YCbCr, LAB, HSV, RGBX: to RGB silently (exact enough / nothing is lost).
  * 16-bit and 32-bit integer grey (I;16, I;16L, I;16B, I): clipped to 0..65535 and reduced with
    rounding, (v * 255 + 32767) // 65535, MediaWarning, C = 1. 32-bit float (F): values in [0, 1]
    are scaled by 255, anything else is taken as 0..255 and clipped; NaN -> 0; MediaWarning.
    16-bit RGB(A) PNGs and TIFFs are opened by Pillow as "RGB"/"RGBA", reduced to 8 bits as they
    are decoded; their raw mode gives them away, and they get the same MediaWarning.
  * ICC profiles are ignored: pixel values are kept as they are (no colour management).
  * EXIF orientation is applied, so the array is upright.
  * Animated / multi-page images: the first frame only, MediaWarning (not for MPO, where the
    extra frames are camera previews or a second stereo view, not part of the photo).
  * Decompression bombs: width * height from the header is checked against max_pixels
    (limits.max_pixels(), 2^26 by default) before decoding, and a PNG's compressed data must be
    able to back it (bombs.py). Pillow's own hard limit (2 * Image.MAX_IMAGE_PIXELS, ~179 Mpx)
    applies as well; its softer warning is silenced: max_pixels is the limit that counts here.
  * Only common raster formats are decoded (_READ_FORMATS): no EPS (Ghostscript) or rarely used,
    little-tested decoders for files from strangers.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from . import limits
from .bombs import BombError, check_png
from .errors import one_line
from .files import atomic_path

IMAGE_EXTS: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"})
AUDIO_EXTS: frozenset[str] = frozenset({".wav", ".flac", ".ogg"})
MAX_PIXELS = limits.DEFAULT_MAX_PIXELS  # the default; limits.max_pixels() is what counts

# "JPEG" also opens MPO (multi-picture JPEGs from cameras).
_READ_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "DIB", "TIFF", "GIF", "PPM", "TGA")
_SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP",
                 ".tif": "TIFF", ".tiff": "TIFF"}
# JPEG at 95 with 4:4:4 chroma keeps decoded colour edges; WebP is written lossless.
_SAVE_OPTIONS: dict[str, dict[str, object]] = {"JPEG": {"quality": 95, "subsampling": 0},
                                               "WEBP": {"lossless": True}}
_ALPHA_MODES = {"RGBA": "RGBA", "RGBa": "RGBA", "PA": "RGBA", "LA": "LA", "La": "LA"}
_INT16_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I"}


class MediaError(ValueError):
    """An input or output media file that cannot be used; the message is one line for the user."""


class MediaWarning(UserWarning):
    """A conversion the user should know about (alpha dropped, bits reduced, frames skipped)."""


def modality_of(path: Path) -> str | None:
    """"image" or "audio" from the extension (case-insensitive), else None."""
    ext = Path(path).suffix.lower()
    if ext in IMAGE_EXTS:
        return "image"
    if ext in AUDIO_EXTS:
        return "audio"
    return None


# -- images in -----------------------------------------------------------------------------------
def _flatten_alpha(img: Image.Image, notes: list[str]) -> np.ndarray:
    """Composite onto white in integers (exact, platform independent); (H, W, 3) or (H, W, 1)."""
    img = img.convert(_ALPHA_MODES.get(img.mode, "RGBA"))  # also unpremultiplies RGBa / La
    a = np.array(img, dtype=np.uint32)
    colour, alpha = a[:, :, :-1], a[:, :, -1:]
    if (alpha < 255).any():
        notes.append("alpha channel dropped (composited onto white)")
    out = (colour * alpha + 255 * (255 - alpha) + 127) // 255
    return out.astype(np.uint8)


def _reduce_bits(img: Image.Image, notes: list[str]) -> np.ndarray:
    """I;16 / I / F grey to uint8 (H, W, 1) with rounding."""
    if img.mode == "F":
        f = np.nan_to_num(np.array(img, dtype=np.float64), nan=0.0)
        in_unit = f.size > 0 and f.min() >= 0.0 and f.max() <= 1.0
        out = np.clip(np.floor(f * (255.0 if in_unit else 1.0) + 0.5), 0, 255)
        notes.append("32-bit float image reduced to 8 bits")
    else:
        v = np.clip(np.array(img, dtype=np.int64), 0, 65535)
        out = (v * 255 + 32767) // 65535
        notes.append("16-bit image reduced to 8 bits")
    return out.astype(np.uint8)[:, :, None]


def _to_array(img: Image.Image, notes: list[str]) -> np.ndarray:
    """Any Pillow mode to uint8 (H, W, 1|3); see the module docstring for each case."""
    mode = img.mode
    if mode == "P":
        # Transparent palette entries become alpha; otherwise plain RGB.
        return _flatten_alpha(img, notes) if img.has_transparency_data else _to_array(
            img.convert("RGB"), notes)
    if mode in _ALPHA_MODES:
        return _flatten_alpha(img, notes)
    if mode in _INT16_MODES or mode == "F":
        return _reduce_bits(img, notes)
    if mode == "1":
        img = img.convert("L")
    elif mode not in ("L", "RGB"):
        if mode == "CMYK":
            notes.append("CMYK image converted to RGB (approximate colours)")
        try:
            img = img.convert("RGB")
        except ValueError:
            raise MediaError(f"unsupported image mode {mode}") from None
    a = np.array(img, dtype=np.uint8)  # a writable copy, independent of the Pillow image
    return a[:, :, None] if a.ndim == 2 else a


def _sixteen_bit_as_rgb(img: Image.Image) -> bool:
    """True for 16-bit colour (RGB, RGBA) that Pillow opens as 8-bit modes, reducing it as it
    decodes: its raw mode ("RGB;16B", ...) says what the file holds."""
    if img.mode in _INT16_MODES:
        return False  # reduced by _reduce_bits, which gives its own note
    for tile in getattr(img, "tile", None) or []:
        args = tile[3] if len(tile) > 3 else None
        raw = args if isinstance(args, str) else args[0] if isinstance(args, tuple) and args else ""
        if isinstance(raw, str) and ";16" in raw:
            return True
    return False


def check_regular_file(path: Path, what: str) -> None:
    """MediaError unless path is an existing regular file; `what` names the expected kind."""
    if not path.exists():
        if path.is_symlink():  # exists() follows links: a dangling one or a loop lands here
            raise MediaError(f"broken symbolic link or symlink loop: {path}")
        raise MediaError(f"no such file: {path}")
    if path.is_dir():
        raise MediaError(f"not {what} (a directory): {path}")
    if not path.is_file():  # a FIFO or device could block or never end
        raise MediaError(f"not a regular file: {path}")


def load_image(path: Path, max_pixels: int | None = None) -> np.ndarray:
    """Read an image file as a C-contiguous uint8 array (H, W, C), C in {1, 3}.

    Raises MediaError (one line) for a missing, unreadable, truncated or too large file (more
    than max_pixels, default limits.max_pixels(), or more than its data can hold: bombs.py);
    gives a MediaWarning for each lossy conversion (see the module docstring)."""
    path = Path(path)
    check_regular_file(path, "an image")
    if max_pixels is None:
        max_pixels = limits.max_pixels()
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path, formats=_READ_FORMATS)
        with img:
            w, h = img.size  # from the header; nothing is decoded yet
            if w * h > max_pixels:
                raise MediaError(f"image too large: {path} is {w}x{h} pixels (limit {max_pixels})")
            if getattr(img, "is_animated", False) and img.format != "MPO":
                notes.append("animated or multi-page image, only the first frame is used")
            if img.format == "PNG":
                check_png(path, w, h)  # before decoding: Pillow pads a short stream silently
            if _sixteen_bit_as_rgb(img):
                notes.append("16-bit image reduced to 8 bits")
            img.load()  # full decode here, so truncated files fail inside this try
            upright = ImageOps.exif_transpose(img)
            arr = _to_array(upright, notes)
    except MediaError:
        raise
    except BombError as e:
        raise MediaError(f"image data too short for its size: {one_line(e)}") from None
    except Image.DecompressionBombError as e:
        raise MediaError(f"image too large: {path} ({one_line(e)})") from None
    except UnidentifiedImageError:
        raise MediaError(f"not a readable image: {path} (cannot identify image file)") from None
    except OSError as e:
        if e.errno is not None:  # the file itself could not be read (permissions, I/O)
            raise MediaError(f"cannot read {path}: {e.strerror}") from None
        raise MediaError(f"not a readable image: {path} ({one_line(e)})") from None
    except Exception as e:  # Pillow decoders raise many types (struct.error, ...) on corrupt data
        raise MediaError(f"not a readable image: {path} ({one_line(e)})") from None
    for note in notes:
        warnings.warn(f"{path.name}: {note}", MediaWarning, stacklevel=2)
    return np.ascontiguousarray(arr)


# -- images out ----------------------------------------------------------------------------------
# Largest side each output format can store (JPEG: 16-bit sizes; WebP: 14-bit sizes).
_MAX_SIDE = {"JPEG": 65535, "WEBP": 16383, "PNG": (1 << 31) - 1, "BMP": (1 << 31) - 1,
             "TIFF": (1 << 32) - 1}


def check_image_target(path: Path, width: int, height: int) -> None:
    """MediaError unless an image of width x height can be written to path's format: called
    before decoding, so that nothing is spent (or touched on disk) for an output that must fail."""
    fmt = _SAVE_FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise MediaError(f"unsupported output format {Path(path).suffix or '(none)'!r} "
                         f"(use {', '.join(sorted(_SAVE_FORMATS))})")
    if max(width, height) > _MAX_SIDE[fmt]:
        raise MediaError(f"a {width}x{height} image cannot be written as {fmt} (at most "
                         f"{_MAX_SIDE[fmt]} px a side); choose another output format")


def save_image(arr: np.ndarray, path: Path) -> None:
    """Write uint8 (H, W), (H, W, 1) or (H, W, 3) atomically; the format follows the extension.

    Grey stays grey on disk except in WebP, which has no grey mode (it is read back as RGB)."""
    path = Path(path)
    fmt = _SAVE_FORMATS.get(path.suffix.lower())
    arr = np.asarray(arr)
    check_image_target(path, arr.shape[1] if arr.ndim > 1 else 0, arr.shape[0])
    if arr.dtype != np.uint8:
        raise MediaError(f"cannot save a {arr.dtype} image: expected uint8")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3)) or 0 in arr.shape:
        raise MediaError(f"cannot save an image of shape {arr.shape}: expected (H, W[, 1 or 3])")
    img = Image.fromarray(np.ascontiguousarray(arr))
    with atomic_path(path) as tmp:
        # format= given explicitly: the temporary name must not decide the format.
        img.save(tmp, format=fmt, **_SAVE_OPTIONS.get(fmt, {}))


# -- shapes --------------------------------------------------------------------------------------
def pad_to_multiple(arr: np.ndarray, multiple: int) -> np.ndarray:
    """Edge-replicate pad (H, W[, C]) on the bottom and right so H and W are multiples of
    `multiple`; returns arr itself when nothing is needed. Undo with crop()."""
    if multiple < 1:
        raise ValueError(f"multiple must be >= 1, got {multiple}")
    h, w = arr.shape[:2]
    ph, pw = -h % multiple, -w % multiple
    if not ph and not pw:
        return arr
    widths = ((0, ph), (0, pw)) + ((0, 0),) * (arr.ndim - 2)
    return np.pad(arr, widths, mode="edge")


def crop(arr: np.ndarray, height: int, width: int) -> np.ndarray:
    """The top-left height x width part (a view), undoing pad_to_multiple."""
    if height > arr.shape[0] or width > arr.shape[1]:
        raise ValueError(f"cannot crop {arr.shape[:2]} to {(height, width)}")
    return arr[:height, :width]
