"""Convert face-api's quantised weights to one float32 safetensors file.

Run once by a maintainer (not at run time):

    cd /tmp && npm pack @vladmandic/face-api@1.7.15
    python scripts/convert_faceapi.py /tmp/vladmandic-face-api-1.7.15.tgz

Each net ships as `model/<net>-weights_manifest.json` plus `.bin` shards: the
tensors back to back, uint8 where the manifest gives a quantization (value =
byte * scale + min, as tfjs decodes it), else raw little-endian float32. The
tensors are written unchanged in TensorFlow layout (HWIO filters), named
`<net>/<tensor name>`; the PyTorch modules transpose them when they load.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tarfile
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

VERSION = "1.7.15"
NETS = (
    "face_landmark_68_model",
    "face_expression_model",
    "age_gender_model",
    "face_recognition_model",
    "tiny_face_detector_model",
)


def dequantise(manifest: list[dict], shards: dict[str, bytes], net: str) -> dict[str, np.ndarray]:
    tensors: dict[str, np.ndarray] = {}
    for group in manifest:
        data = b"".join(shards[path] for path in group["paths"])
        offset = 0
        for entry in group["weights"]:
            count = int(np.prod(entry["shape"], dtype=np.int64))
            quant = entry.get("quantization")
            if entry["dtype"] != "float32":
                raise SystemExit(f"{net}/{entry['name']}: unexpected dtype {entry['dtype']}")
            if quant is not None:
                if quant["dtype"] != "uint8":
                    raise SystemExit(f"{net}/{entry['name']}: unexpected {quant['dtype']}")
                raw = np.frombuffer(data, np.uint8, count, offset)
                # tfjs computes byte * scale + min in double precision, then stores float32.
                values = (raw.astype(np.float64) * quant["scale"] + quant["min"]).astype(np.float32)
                offset += count
            else:
                values = np.frombuffer(data, "<f4", count, offset).copy()
                offset += 4 * count
            tensors[f"{net}/{entry['name']}"] = values.reshape(entry["shape"])
        if offset != len(data):
            raise SystemExit(f"{net}: {len(data) - offset} bytes left over in its shards")
    return tensors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tarball", type=Path)
    parser.add_argument("-o", "--output", type=Path,
                        default=Path(f"models/faceapi-{VERSION}.safetensors"))
    args = parser.parse_args()
    tar_bytes = args.tarball.read_bytes()
    tensors: dict[str, np.ndarray] = {}
    sums: dict[str, str] = {}
    with tarfile.open(args.tarball) as tar:
        version = json.load(tar.extractfile("package/package.json"))["version"]  # type: ignore[arg-type]
        if version != VERSION:
            raise SystemExit(f"expected face-api {VERSION}, the tarball holds {version}")
        for net in NETS:
            manifest = json.load(tar.extractfile(f"package/model/{net}-weights_manifest.json"))  # type: ignore[arg-type]
            shards: dict[str, bytes] = {}
            for group in manifest:
                for path in group["paths"]:
                    shards[path] = tar.extractfile(f"package/model/{path}").read()  # type: ignore[union-attr]
                    sums[path] = hashlib.sha256(shards[path]).hexdigest()
            tensors.update(dequantise(manifest, shards, net))
    metadata = {
        "format": "tlgan-faceapi-weights",
        "source": f"npm @vladmandic/face-api@{VERSION}, package/model/",
        "license": "MIT",
        "nets": ",".join(NETS),
        "source_tarball_sha256": hashlib.sha256(tar_bytes).hexdigest(),
        **{f"sha256:{path}": digest for path, digest in sums.items()},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(args.output), metadata=metadata)
    size_mb = args.output.stat().st_size / 1e6
    print(f"wrote {args.output} ({size_mb:.1f} MB, {len(tensors)} tensors)")
    print(f"  tarball sha256: {metadata['source_tarball_sha256']}")
    for path, digest in sums.items():
        print(f"  {path} sha256: {digest}")
    print(f"  output sha256: {hashlib.sha256(args.output.read_bytes()).hexdigest()}")


if __name__ == "__main__":
    main()
