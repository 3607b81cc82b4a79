"""Test helpers shared across tests/<subpackage>/ folders: tiny stand-in networks, a fake CUDA
runtime, the plugin build, weight randomisation. Imported as ``helpers.<module>``; tests/conftest.py
puts tests/ on sys.path."""
