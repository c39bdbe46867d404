"""Learned age editors: user-supplied ONNX models behind the ``deage.edit.base.Editor`` protocol.

- ``fran``: a FRAN-style re-aging U-Net (RGB + input-age and target-age planes -> RGB delta or image).
- ``stylegan_onnx``: a StyleGAN-family encoder/generator exported to ONNX with an age/direction input.

Their model files are listed in ``weights/manifest.toml`` (kind "age-editor") with the exact
input/output signature each loader expects; nothing is downloaded.
"""
