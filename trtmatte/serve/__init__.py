"""Serving on Triton Inference Server.

* ``service``: what the model does with a list of requests (checks, same-shape batches, errors);
* ``python_backend``: that service as a Triton Python-backend model;
* ``model_config`` / ``repository``: config.pbtxt and model repositories (python, tensorrt_plan,
  onnxruntime_onnx) -- ``trtmatte triton-repo``;
* ``tritonserver``: finding and launching the tritonserver binary;
* ``node``: ``trtmatte serve`` -- a repository in a workspace, the server, the startup banner.
"""
