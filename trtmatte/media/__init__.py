"""Media in and out: ``image`` is the one decoder of photos, alphas and trimaps (path or bytes, one
pixel limit, EXIF orientation, 16-bit) and writes images atomically; ``video`` probes videos,
chooses their encoding and writes them (PyAV). Neither imports a model or a session: the matting
jobs that use them are in :mod:`trtmatte.jobs`."""
