"""Weights in and out: trtmatte's safetensors format, torchvision ImageNet DenseNet files, and the
authors' Keras HDF5 (converter in :mod:`.keras`)."""
