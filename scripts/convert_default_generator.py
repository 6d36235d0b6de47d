"""Convert the DCGAN weights shipped in gan-face-generate==1.1.1 to safetensors.

Run once by a maintainer (not at run time):

    pip download --no-deps gan-face-generate==1.1.1 -d /tmp/gfg
    python scripts/convert_default_generator.py /tmp/gfg/gan_face_generate-1.1.1-py3-none-any.whl

The wheel's `gan_face_generate/weights.tar` is a torch.save zip; it is read with
weights_only=True, so no code in it can run.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import zipfile
from pathlib import Path

import torch
from safetensors.torch import save_file

MEMBER = "gan_face_generate/weights.tar"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path)
    parser.add_argument("-o", "--output", type=Path,
                        default=Path("models/dcgan-digiface-64.safetensors"))
    args = parser.parse_args()
    wheel_bytes = args.wheel.read_bytes()
    with zipfile.ZipFile(io.BytesIO(wheel_bytes)) as wheel:
        raw = wheel.read(MEMBER)
    checkpoint = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    state = {k: v.contiguous() for k, v in checkpoint["netG_state_dict"].items()}
    metadata = {
        "format": "tlgan-generator",
        "architecture": "dcgan64",
        "name": "DCGAN-64 DigiFace-1M",
        "source": "PyPI gan-face-generate==1.1.1, gan_face_generate/weights.tar, netG_state_dict",
        "license": "MIT",
        "source_wheel_sha256": hashlib.sha256(wheel_bytes).hexdigest(),
        "source_weights_sha256": hashlib.sha256(raw).hexdigest(),
    }
    save_file(state, str(args.output), metadata=metadata)
    print(f"wrote {args.output}")
    for key, value in metadata.items():
        print(f"  {key}: {value}")


if __name__ == "__main__":
    main()
