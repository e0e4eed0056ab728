#!/usr/bin/env python3
"""A random-weight BLIP-2 retrieval checkpoint with the real model's embedding shape
(32 queries x 256-d) but tiny towers, for bench/serve.sh: the HTTP load test measures the
server, the text encoder's tokenizer path and the 32 x 256 vector scan, not ViT-g.

    .venv/bin/python bench/make_serve_model.py bench/out/serve-model
"""
import shutil
import sys
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

import make_fixtures  # noqa: E402
from blip2_reference import image_processor  # noqa: E402


def main() -> None:
    out = Path(sys.argv[1])
    spec = dict(make_fixtures.TINY_CONFIGS["tiny-a"], image_text_hidden_size=256)
    make_fixtures.TINY_CONFIGS["serve-256"] = spec
    model = make_fixtures.build_model("serve-256")
    if out.exists():
        shutil.rmtree(out)
    model.save_pretrained(out, safe_serialization=True)
    shutil.copy(make_fixtures.FIXTURES / "vocab.txt", out / "vocab.txt")
    image_processor(spec["vision_config"]["image_size"]).save_pretrained(out)
    print(out)


if __name__ == "__main__":
    main()
