"""deage.arrays: the fast channel reductions give numpy's own answers."""

import numpy as np
import pytest

from deage.arrays import any_channel_differs, channel_max, largest_difference


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_reductions_match_numpy(dtype):
    rng = np.random.default_rng(0)
    a = (rng.random((37, 53, 3)) * 255).astype(dtype)
    b = a.copy()
    b[5:9, 10:20, 1] += dtype(3)  # one channel changed in a small box
    b[30, 50, 2] = 0
    assert np.array_equal(channel_max(a), a.max(axis=2))
    assert channel_max(a).dtype == a.dtype
    assert np.array_equal(any_channel_differs(a, b), np.any(a != b, axis=2))
    want = np.abs(a.astype(np.float64) - b.astype(np.float64)).max(axis=2)
    got = largest_difference(a, b)
    assert np.allclose(got, want)
    assert got.dtype == (np.uint8 if dtype == np.uint8 else np.float32)


def test_uint8_difference_does_not_wrap():
    a = np.zeros((2, 2, 3), np.uint8)
    b = np.full((2, 2, 3), 250, np.uint8)
    assert (largest_difference(a, b) == 250).all() and (largest_difference(b, a) == 250).all()


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="H, W, C"):
        channel_max(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="differ"):
        largest_difference(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8))
