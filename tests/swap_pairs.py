"""The swap's test pairs: real source photos onto real target faces (tests/test_swap.py and
benchmarks/swap_identity.py swap the same 21 pairs).

Sources: scikit-image's astronaut, insightface's Tom Hanks crop and t1.jpg group photo, and the
stills in ../shared/media; targets: those and the shared media's selfie and portraits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from deage.types import Face

HANKS = "pkg:insightface/data/images/Tom_Hanks_54745.png"
T1 = "pkg:insightface/data/images/t1.jpg"

PAIRS = [
    ("astronaut", "driving_d19"), ("astronaut", "source_s12"), ("astronaut", "selfie_b"), ("astronaut", "hanks"),
    ("astronaut", "t1_right"),
    ("hanks", "astronaut"), ("hanks", "t1_left"),
    ("t1", "astronaut"), ("t1", "driving_d19"), ("t1", "hanks"), ("t1", "source_s12"),
    ("driving_d19", "astronaut"), ("driving_d19", "source_s2"), ("driving_d19", "t1_right"),
    ("source_s12", "driving_d30"), ("source_s12", "selfie_a"), ("source_s12", "hanks"),
    ("hanks", "source_s2"), ("hanks", "driving_d30"), ("driving_d19", "hanks"), ("source_s12", "t1_left"),
]
"""(source, target) names: sources of ``source_specs``, targets of ``swap_targets``."""


def source_specs(shared_media: Path) -> dict[str, dict[str, Any]]:
    """Swap source entries (without consent) by name."""
    return {"astronaut": {"photo": "pkg:skimage/astronaut"}, "hanks": {"photo": HANKS},
            "t1": {"photo": T1, "face": 2},
            "driving_d19": {"photo": str(shared_media / "driving_d19.jpg")},
            "source_s12": {"photo": str(shared_media / "source_s12.jpg")}}


def swap_targets(detector: Any, shared_media: Path) -> dict[str, tuple[Any, Face]]:
    """Target faces: name -> (frame RGB uint8, face). Tom Hanks' 112 px crop is upscaled and padded
    (as a source photo is) and the group photo doubled, so dlib (``detector``) finds and fits them."""
    from conftest import insightface_image_path, read_rgb
    from skimage import data

    from deage.edit.swap.source import prepare_photo

    astronaut = data.astronaut()
    out = {"astronaut": (astronaut, detector.detect(astronaut)[0])}
    hanks = prepare_photo(read_rgb(insightface_image_path("Tom_Hanks_54745.png")))
    out["hanks"] = (hanks, detector.detect(hanks)[0])
    group = cv2.resize(read_rgb(insightface_image_path("t1.jpg")), None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    faces = sorted(detector.detect(group), key=lambda f: f.center[0])
    out["t1_left"], out["t1_right"] = (group, faces[0]), (group, faces[5])
    for name in ("driving_d19", "source_s12", "source_s2", "driving_d30"):
        image = read_rgb(shared_media / f"{name}.jpg")
        out[name] = (image, max(detector.detect(image), key=lambda f: f.area))
    selfie = read_rgb(shared_media / "fo_selfie_diverse_group.jpg")
    faces = sorted(detector.detect(selfie), key=lambda f: -f.area)
    out["selfie_a"], out["selfie_b"] = (selfie, faces[0]), (selfie, faces[1])
    return out


def nearest(faces: list[Face], face: Face) -> Face:
    """The face of ``faces`` whose centre is nearest ``face``'s (a swapped face found again)."""
    assert faces, "no face found"
    return min(faces, key=lambda f: np.hypot(f.center[0] - face.center[0], f.center[1] - face.center[1]))
