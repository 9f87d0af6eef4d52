#!/usr/bin/env bash
# The main job on the built-in default: sets up, builds, writes a tiny
# random-weight Emu3.5 model (once), then runs a t2i and an x2i generation.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
build=${EMU35_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target emu35
emu35="$build/emu35"
models=models/tiny
if [[ ! -f $models/model/config.json || ! -f $models/vq/config.json ]]; then
  "$emu35" init-random --preset tiny --out "$models" --force
fi
out=outputs/demo
# 256x256 pictures (16x16 tokens) keep the CPU demo to a few seconds.
"$emu35" generate --model $models/model --vq $models/vq --task t2i \
  --prompt "a red fox in the snow" --image-area 65536 --start-image \
  --max-new-tokens 300 --seed 1 --output $out/t2i --overwrite
"$emu35" generate --model $models/model --vq $models/vq --task x2i \
  --prompt "make it snowy" --image $out/t2i/image_00.png --image-area 65536 --start-image \
  --max-new-tokens 300 --seed 2 --output $out/x2i --overwrite
cat <<MSG

Done: pictures in $out/t2i and $out/x2i (result.json beside each holds ids, seed, timings).
These come from RANDOM weights, so they are coloured noise: that is expected.
For real pictures, download BAAI/Emu3.5-Image and BAAI/Emu3.5-VisionTokenizer and run e.g.
  $emu35 generate --model Emu3.5-Image --vq Emu3.5-VisionTokenizer --task t2i --prompt "a red fox in the snow"
MSG
