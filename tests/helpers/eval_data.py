"""The tiny evaluation dataset both eval test files use, with metrics computable by hand.

16x16 ground truth: background in columns 0-5, a ramp 0.2 .. 0.8 in columns 6-9 (the
transition), foreground in columns 10-15. The prediction (a model's red channel) equals it except
4 pixels off by 51/255 = 0.2 inside the transition (rows 0-3, column 7) and 2 pixels off by 1.0
in the background (rows 0-1, column 0). The trimap's unknown region (128) is rows 0-7 of columns
0-1: 16 pixels, the two 1.0 errors inside.
"""
import numpy as np

GT8 = np.zeros((16, 16), np.uint8)
GT8[:, 6:10] = [51, 102, 153, 204]
GT8[:, 10:] = 255
PRED8 = GT8.copy()
PRED8[0:4, 7] = 153
PRED8[0:2, 0] = 255
TRIMAP = np.where(np.arange(16)[None, :] < 8, 0, 255).astype(np.uint8).repeat(16, axis=0)
TRIMAP[0:8, 0:2] = 128
