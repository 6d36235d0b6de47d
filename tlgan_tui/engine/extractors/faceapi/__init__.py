"""Our own PyTorch ports of face-api's nets (@vladmandic/face-api 1.7.15, MIT).

Weights come from `models/faceapi-1.7.15.safetensors` (scripts/convert_faceapi.py).
Every net takes float32 NCHW batches of RGB values in 0..255 and matches
face-api's tfjs outputs within 1e-4 (tests/test_faceapi_conformance.py).
"""
