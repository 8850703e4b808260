"""Writes random RGB images and Pillow's BICUBIC resizes of them, for test_preprocess.cpp.

Format, little-endian: int32 case count, then per case int32 w, h, tw, th, the w*h*3 source bytes and
the tw*th*3 bytes Pillow produced."""
import random
import struct
import sys

from PIL import Image


def main(out_path):
    rng = random.Random(1234)
    sizes = [(97, 61, 56, 56), (800, 533, 56, 56), (1, 1, 56, 56), (3, 200, 56, 56), (640, 480, 1120, 1120),
             (2000, 37, 224, 224), (56, 56, 56, 56), (56, 80, 56, 56), (80, 56, 56, 56), (5, 5, 7, 3)]
    sizes += [(rng.randint(1, 300), rng.randint(1, 300), rng.randint(1, 120), rng.randint(1, 120)) for _ in range(20)]
    with open(out_path, "wb") as out:
        out.write(struct.pack("<i", len(sizes)))
        for w, h, tw, th in sizes:
            # Smooth gradients plus noise: both flat areas and edges, so rounding and clipping both matter.
            src = bytes(min(255, max(0, (x * 255 // max(w, 1) + y * 97 // max(h, 1) + c * 40 + rng.randint(-60, 60)) % 300))
                        for y in range(h) for x in range(w) for c in range(3))
            dst = Image.frombytes("RGB", (w, h), src).resize((tw, th), Image.Resampling.BICUBIC).tobytes()
            out.write(struct.pack("<iiii", w, h, tw, th))
            out.write(src)
            out.write(dst)


if __name__ == "__main__":
    main(sys.argv[1])
