#!/usr/bin/env bash
# The mission end to end, from a bare clone: a board that learns. The project's own pretrained model
# (models/mnist04_int8.tflite: MNIST digits 0-4, made by scripts/make_pretrained.ts) is compiled with a
# sparse training scheme for the emulated Cortex-M7 (QEMU mps2-an500), built and flashed; its five
# outputs are retargeted to digits 5-9, which it has never seen: accuracy before, fine-tuning on the
# board over the serial link, accuracy after, the learned weights read back into a .tflite (and checked
# on a host build), one inference and one training step profiled; then TensorFlow Lite Micro's
# person-detection model (inference only) on the same emulated board; the HTML report (build/demo/report.html)
# and a summary (build/demo/summary.json).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
started=$SECONDS

OUT=build/demo
BOARD=$OUT/mnist-m7
PERSON=$OUT/person-m7
DIGITS=$OUT/digits
# The biases of the last 4 weighted layers, the weights of the classifier and the 32-channel head conv.
SCHEME='bias:last=4,weights:layers=-1,-2@1,lr=0.1'
mcutrain() { echo "\$ mcutrain $*" >&2; node bin/mcutrain.js "$@"; }
stage() { echo; echo "=== $* ($((SECONDS - started)) s)"; }
accuracy() { node -e 'const r = require(process.argv[1]); console.log(`accuracy ${(100 * r.accuracy).toFixed(1)}% (${r.correct} of ${r.samples}), loss ${r.loss.toFixed(3)}`)' "$PWD/$1"; }
mkdir -p "$OUT"

# An emulated board runs on between commands, as a board would, until `mcutrain stop`: end them however the demo ends.
running=()
person_build=
trap '[ -z "$person_build" ] || kill "$person_build" 2>/dev/null; for p in "${running[@]}"; do node bin/mcutrain.js stop "$p" >/dev/null 2>&1 || true; done' EXIT

stage "digits 5-9 the model never saw, as labelled folders of BMPs ($DIGITS/{train,test}/digit5..digit9)"
node --import tsx scripts/demo_data.ts "$DIGITS" --train 300 --test 200

stage "compile models/mnist04_int8.tflite with a sparse training scheme for the emulated Cortex-M7, build, flash"
mcutrain compile models/mnist04_int8.tflite --target mps2-an500 --train "$SCHEME" -o "$BOARD"
mcutrain build "$BOARD"
running=("$BOARD")
mcutrain flash "$BOARD"

stage "before: the pretrained model on 200 test digits 5-9"
mcutrain eval "$BOARD" --data "$DIGITS/test" --json > "$OUT/before.json"
accuracy "$OUT/before.json"

# The person-detection firmware builds on the other core while the board trains (its log is shown later).
( mcutrain compile models/person_detect_int8.tflite --target mps2-an500 -o "$PERSON" && mcutrain build "$PERSON" ) > "$OUT/person-build.log" 2>&1 &
person_build=$!

stage "fine-tune on the board: 2 epochs over 300 digits, one SGD step per sample over the link"
mcutrain train "$BOARD" --data "$DIGITS/train" --epochs 2 --lr 0.1 --json-out "$OUT/train.json"

stage "after: the same 200 test digits"
mcutrain eval "$BOARD" --data "$DIGITS/test" --json > "$OUT/after.json"
accuracy "$OUT/after.json"

stage "the learned weights back into a .tflite, and that model rebuilt for this computer scores the same"
mcutrain weights "$BOARD" -o "$OUT/mnist59_tuned.tflite"
mcutrain compile "$OUT/mnist59_tuned.tflite" --target host -o "$OUT/tuned-host" > /dev/null
mcutrain build "$OUT/tuned-host"
mcutrain eval "$OUT/tuned-host" --data "$DIGITS/test" --json > "$OUT/tuned-host.json"
accuracy "$OUT/tuned-host.json"

stage "profile one inference on the board (the training step's cost is in train.json)"
sample=$(find "$DIGITS/test/digit5" -name '*.bmp' | sort | head -1)
mcutrain profile "$BOARD" --runs 1 --input "$sample" --json > "$OUT/profile.json"
mcutrain stop "$BOARD"
running=()

stage "TensorFlow Lite Micro's person-detection model on the same emulated board: inference only"
wait "$person_build" || { cat "$OUT/person-build.log"; exit 1; }
person_build=
grep -E '^\$|^compiled|^built' "$OUT/person-build.log"
running=("$PERSON")
mcutrain flash "$PERSON" > /dev/null
# --pixels bytes feeds the images exactly as TFLite Micro's person-detection test does.
for img in person no_person; do
  mcutrain infer "$PERSON" --input "models/$img.bmp" --pixels bytes --json > "$OUT/$img.json"
  node -e 'const s = require(process.argv[1])[0].values; console.log(`${process.argv[2]}.bmp: no_person ${s[0]}, person ${s[1]} -> ${s[1] > s[0] ? "person" : "no_person"}`)' "$PWD/$OUT/$img.json" "$img"
done
mcutrain stop "$PERSON"
running=()

stage "the HTML report: memory timeline, per-operator latency, loss and accuracy, Flash/SRAM"
mcutrain report "$BOARD" --history "$OUT/train.json" --profile "$OUT/profile.json" -o "$OUT/report.html"

stage "summary"
node --import tsx scripts/demo_summary.ts "$OUT" "$BOARD" "$((SECONDS - started))"
