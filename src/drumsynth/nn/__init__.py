"""Layers shared by the model families (equalised learning rate, pixel norm, minibatch stddev)."""

from drumsynth.nn.layers import EqualConv2d, EqualLinear, PixelNorm, minibatch_stddev

__all__ = ["EqualConv2d", "EqualLinear", "PixelNorm", "minibatch_stddev"]
