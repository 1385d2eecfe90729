"""Images in and out (Pillow), as uint8 arrays (H, W, C) with C = 1 (grey) or 3 (RGB).

What happens to each kind of input, on purpose:
  * RGB, L (grey): kept as they are; grey comes back grey.
  * Alpha (RGBA, LA, palette with transparency): not stored. The image is composited onto white
    (what a viewer shows on a page) and a MediaWarning says so.
  * 16-bit and 32-bit grey (I;16, I, F): reduced to 8 bits with rounding, MediaWarning. 16-bit
    RGB PNGs are already reduced to 8 bits by Pillow when opened.
  * Palette (P), 1-bit, CMYK, YCbCr, LAB, HSV: converted to RGB or L (CMYK with a warning, since
    the conversion is approximate).
  * EXIF orientation is applied, so the image is stored upright.
  * Animated images: the first frame only, MediaWarning.
  * Decompression bombs: the declared size is checked before decoding.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .files import atomic_path

IMAGE_EXTS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"})
AUDIO_EXTS = frozenset({".wav", ".flac", ".ogg"})
MAX_PIXELS = 1 << 28
_SAVE_FORMAT = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP",
                ".tif": "TIFF", ".tiff": "TIFF"}


class MediaError(ValueError):
    """An input or output media file that cannot be used; one line for the user."""


class MediaWarning(UserWarning):
    """A conversion the user should know about (alpha dropped, bits reduced, ...)."""


def modality_of(path: Path) -> str | None:
    ext = Path(path).suffix.lower()
    return "image" if ext in IMAGE_EXTS else "audio" if ext in AUDIO_EXTS else None


def _flatten_alpha(img: Image.Image, path: Path) -> Image.Image:
    warnings.warn(f"{path.name}: alpha channel dropped (composited onto white)", MediaWarning,
                  stacklevel=3)
    rgba = img.convert("RGBA") if img.mode not in ("LA", "La") else img.convert("LA")
    bg = Image.new(rgba.mode, rgba.size, (255,) * len(rgba.mode))
    bg.alpha_composite(rgba) if rgba.mode == "RGBA" else bg.paste(rgba, mask=rgba.getchannel("A"))
    return bg.convert("RGB" if rgba.mode == "RGBA" else "L")


def _to_array(img: Image.Image, path: Path) -> np.ndarray:
    mode = img.mode
    if mode in ("RGB", "L"):
        pass
    elif mode in ("RGBA", "RGBa", "LA", "La", "PA"):
        img = _flatten_alpha(img, path)
    elif mode == "P":
        img = _flatten_alpha(img, path) if "transparency" in img.info else img.convert("RGB")
    elif mode == "1":
        img = img.convert("L")
    elif mode.startswith("I") or mode == "F":
        a = np.asarray(img).astype(np.float64)
        top = 65535.0 if mode.startswith("I;16") or (mode == "I" and a.max(initial=0) > 255) else 255.0
        if mode == "F":
            top = 1.0 if a.max(initial=0) <= 1.0 else 255.0
        warnings.warn(f"{path.name}: {mode} image reduced to 8 bits", MediaWarning, stacklevel=3)
        a = np.clip(np.round(a * 255.0 / top), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(a[:, :, None])
    else:
        if mode == "CMYK":
            warnings.warn(f"{path.name}: CMYK image converted to RGB", MediaWarning, stacklevel=3)
        img = img.convert("RGB")
    a = np.asarray(img, dtype=np.uint8)
    if a.ndim == 2:
        a = a[:, :, None]
    return np.ascontiguousarray(a)


def load_image(path: Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image file as uint8 (H, W, C), C in {1, 3}; raises MediaError for bad input."""
    path = Path(path)
    if not path.exists():
        raise MediaError(f"no such file: {path}")
    if path.is_dir():
        raise MediaError(f"is a folder, not an image: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                w, h = img.size
                if w * h > max_pixels:
                    raise MediaError(f"image too large: {w}x{h} pixels (limit {max_pixels})")
                if getattr(img, "n_frames", 1) > 1:
                    warnings.warn(f"{path.name}: animated image, only the first frame is used",
                                  MediaWarning, stacklevel=2)
                img.load()
                img = ImageOps.exif_transpose(img)
                return _to_array(img, path)
    except MediaError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise MediaError(f"image too large: {path} ({e})") from None
    except UnidentifiedImageError:
        raise MediaError(f"not a readable image: {path}") from None
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        raise MediaError(f"not a readable image: {path} ({e})") from None


def save_image(arr: np.ndarray, path: Path) -> None:
    """Write uint8 (H, W[, 1|3]) atomically; the format follows the extension."""
    path = Path(path)
    fmt = _SAVE_FORMAT.get(path.suffix.lower())
    if fmt is None:
        raise MediaError(f"unsupported output format {path.suffix!r} "
                         f"(use {', '.join(sorted(_SAVE_FORMAT))})")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    img = Image.fromarray(np.ascontiguousarray(arr, dtype=np.uint8))
    opts = {"JPEG": {"quality": 95}, "WEBP": {"lossless": True}}.get(fmt, {})
    with atomic_path(path) as tmp:
        img.save(tmp, format=fmt, **opts)


def pad_to_multiple(arr: np.ndarray, multiple: int) -> np.ndarray:
    """Edge-replicate pad (H, W, C) on the bottom and right to multiples of `multiple`."""
    h, w = arr.shape[:2]
    ph, pw = -h % multiple, -w % multiple
    if not ph and not pw:
        return arr
    return np.pad(arr, ((0, ph), (0, pw), (0, 0)), mode="edge")


def crop(arr: np.ndarray, height: int, width: int) -> np.ndarray:
    return arr[:height, :width]
