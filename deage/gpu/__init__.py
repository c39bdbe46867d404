"""The GPU path: alignment and compositing on torch tensors, onnxruntime with I/O binding.

- ``deage.gpu.ops``: OpenCV's warps, remap, Gaussian blur, pyramids and resize on torch tensors.
- ``deage.gpu.composite.composite_torch``: ``deage.blend.composite`` with its per-pixel work on the
  tensor's device.
- ``deage.gpu.render.render_faces_torch``: what ``FrameRenderer(device="cuda").render`` runs.
- ``deage.gpu.onnx_io``: batched onnxruntime runs with inputs and outputs bound to device memory.

The CPU (numpy / OpenCV) path is the default. The torch path is written for any torch device and
is tested on torch's CPU device against the CPU path: output frames within 2 levels of 255 (max
abs difference) and 0.5 on average. Select it with ``FrameRenderer(device="cuda")``,
``render_clip(..., device="cuda")`` or ``DEAGE_DEVICE=cuda``; without CUDA it warns and falls back
to the CPU path.
"""
