#!/usr/bin/env bash
# The main job end to end: compile TFLite Micro's person-detection model into C for the default board
# (an emulated Cortex-M7, QEMU mps2-an500), build the firmware, flash it, run the reference images through
# it over the serial link, and profile it; then the same model built for this computer.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
MODELS=${MCUTRAIN_MODELS:-../shared/models}
mcutrain() { node bin/mcutrain.js "$@"; }

# The emulated board runs on between commands, as a board would, until `mcutrain stop`: end it however the demo ends.
trap 'mcutrain stop build/person_detect-mps2-an500 >/dev/null 2>&1 || true' EXIT

for target in mps2-an500 host; do
  OUT=build/person_detect-$target
  echo "=== target $target"
  mcutrain compile "$MODELS/person_detect_int8.tflite" --target "$target" -o "$OUT"
  mcutrain build "$OUT"
  [ "$target" = host ] || mcutrain flash "$OUT"
  # --pixels bytes feeds the images exactly as TFLite Micro's person-detection test does.
  for img in person no_person; do
    echo "--- $img.bmp"
    mcutrain infer "$OUT" --input "$MODELS/$img.bmp" --pixels bytes --labels no_person,person
  done
  mcutrain profile "$OUT" --runs 3 | tail -5
  [ "$target" = host ] || mcutrain stop "$OUT"
done
