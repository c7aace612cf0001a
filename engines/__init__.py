"""Engines that run a trained dmsil checkpoint fast (ONNX Runtime, TensorRT, compiled CUDA).

Not built yet: the engines stage of the project fills this package. Today ``dmsil.load`` gives the
eager PyTorch reference model.
"""
