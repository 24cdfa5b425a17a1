#!/usr/bin/env bash
# Copies the reference-corpus cases the test suite uses into fixtures/corpus/ (run from the repo
# root with the shared corpus beside it). The copies are committed: tests never read ../shared.
set -euo pipefail
corpus=${1:-../shared/reference-corpus}
cases=(
  cpu/pt-cpu-bn2d-f32-classic-train cpu/pt-cpu-bn2d-f32-classic-eval cpu/pt-cpu-bn1d-f32-nc-train
  cpu/pt-cpu-bn1d-f32-ncl-eval cpu/pt-cpu-bn3d-f32-train cpu/pt-cpu-bn2d-f64-train
  cpu/pt-cpu-bn2d-bf16in-f32param-train cpu/pt-cpu-bn2d-f32-noaffine-train cpu/pt-cpu-bn2d-f32-notrack-eval
  cpu/pt-cpu-bn2d-f32-momNone-train cpu/pt-cpu-bn2d-f32-nan-train cpu/pt-cpu-bn2d-f32-constchan-train
  cpu/pt-cpu-bn2d-f32-largemean-train cpu/pt-cpu-bn2d-f32-mom0.3-train cpu/pt-cpu-functional-f32-nostats-train
  gpu/pt-cuda-bn2d-f16-classic-train gpu/pt-cuda-bn2d-f32-channels-last-train gpu/pt-cuda-bn2d-bf16-rand-a-train
  gpu/pt-cpu-bn2d-f16-half-module-train
  gpu/flax-bn-nhwc-f32-classic-train gpu/flax-bn-nc-f32-eval gpu/flax-bn-nhwc-f32-largemean-train gpu/flax-bn-nhwc-f16-train
  gpu/flax-bn-nhwc-f32-mom0.9-eps1e-3-train gpu/flax-bn-nhwc-f64in-train
  gpu/ort-bn-nchw-f32-classic-train gpu/ort-bn-nchw-f32-8x16x7x7-train-mom0.8 gpu/ort-bn-nchw-f16-eval gpu/ort-bn-ncdhw-f32-eval
  tfjs/tfjs-tfnn-nhwc-f32-train tfjs/tfjs-tfnn-nlc-f32-scaleonly-train tfjs/tfjs-tfnn-nhwc-f32-eval tfjs/tfjs-tfnn-ndhwc-f32-train
  tfjs/tfjs-k3-nhwc-f32-train tfjs/tfjs-k3-nc-f32-eval tfjs/tfjs-k3-nhwc-f32-noaffine-eval tfjs/tfjs-k3-nlc-f32-train
  tfjs/fault-tfjs-k3-wrong-eps tfjs/fault-tfjs-tfnn-ulp64
  cpu/pt-cpu-bn2d-f32-momNone-steps3 cpu/pt-cpu-bn2d-f32-mom0.1-steps5 gpu/flax-bn-nhwc-f32-steps5-train
  tfjs/tfjs-k3-nhwc-f32-mom0.9-steps3-train
  cpu/fault-channel-shift cpu/fault-momentum-flipped cpu/fault-nhwc-declared-nchw cpu/fault-nhwc-declared-nchw-shape
  cpu/fault-running-var-biased cpu/fault-ulp64 cpu/fault-unbiased-normalization cpu/fault-wrong-eps
  cpu/pt-cpu-bn2d-f32-largemean-eval gpu/flax-bn-nhwc-f32-largemean-slowvar-train gpu/pt-cuda-bn2d-f32-largemean-train
  gpu/flax-bn-nhwc-f32-constchan-train tfjs/tfjs-tfnn-nhwc-f32-hard-train
  illcond/pt-cpu-train-mixed-8x12x7x7-float32 illcond/pt-cpu-eval-mixed-8x12x7x7-float32
  illcond/pt-cpu-train-offset5-8x12x7x7-float32 illcond/pt-cpu-train-offset3-256x24-float32
  illcond/pt-cpu-train-tinyvar-8x12x7x7-float32 illcond/pt-cpu-eval-nearconst-8x12x7x7-float32
  illcond/pt-cpu-train-bigmag-8x12x7x7-float32 illcond/pt-cpu-train-mixed-8x12x7x7-bfloat16
  illcond/pt-cpu-eval-offset5-8x12x7x7-float64
  illcond/fault-chanshift-best-train-mixed-8x12x7x7-float32 illcond/fault-chanscale-worst-train-offset5-8x12x7x7-float32
  illcond/fault-chanscale-worst-eval-offset4-8x12x7x7-float32 illcond/fault-scatter3-train-offset4-8x12x7x7-float32
  illcond/fault-wrong-eps-train-tinyvar-8x12x7x7-float32 illcond/fault-wrong-eps-train-offset3-8x12x7x7-float64
  illcond/fault-chanshift-best-eval-offset3-256x24-float32 illcond/fault-scatter3-eval-nearconst-8x12x7x7-float32
  grad-cpu/pt-cpu-grad-train-normal-16x8x20-float32 grad-cpu/pt-cpu-grad-eval-normal-16x8x20-float32
  grad-cpu/pt-cpu-grad-eval-normal-8x16x7x7-float32-notrack grad-cpu/pt-cpu-grad-train-offset3-8x16x7x7-float32
  grad-cpu/pt-cpu-grad-eval-offset3-8x16x7x7-float32 grad-cpu/pt-cpu-grad-train-tinyvar-8x16x7x7-float32
  grad-cpu/pt-cpu-grad-train-constchan-8x16x7x7-float32 grad-cpu/pt-cpu-grad-train-normal-8x16x7x7-bfloat16
  grad-cpu/pt-cpu-grad-train-normal-8x16x7x7-float32-noaffine grad-cpu/pt-cpu-grad-train-normal-8x16x7x7-float64
  grad-cpu/pt-cpu-grad-train-normal-2x4x3x5x5-float32
  grad-cpu/fault-grad-dbeta-mean-train-normal-16x8x20-float32 grad-cpu/fault-grad-dgamma-unbiased-train-normal-16x8x20-float32
  grad-cpu/fault-grad-dx-wrong-eps-train-normal-16x8x20-float32 grad-cpu/fault-grad-missing-xhat-term-train-normal-16x8x20-float32
  grad-cpu/fault-grad-wrong-statistics-train-normal-16x8x20-float32 grad-cpu/fault-grad-wrong-statistics-eval-normal-16x8x20-float32
  grad-cpu/fault-grad-dgamma-unbiased-eval-normal-16x8x20-float32 grad-cpu/fault-grad-dx-wrong-eps-eval-normal-16x8x20-float32
  grad-tfjs/tfjs-grad-tf-nn-train-normal-16x20x8-eps0.001 grad-tfjs/tfjs-grad-tf-nn-eval-normal-16x20x8-eps0.001
  grad-tfjs/tfjs-grad-keras3-train-normal-16x20x8-eps0.001 grad-tfjs/tfjs-grad-keras3-eval-normal-16x20x8-eps0.001
  grad-tfjs/tfjs-grad-keras3-train-offset3-8x7x7x16-eps0.001
  grad-tfjs/fault-tfjs-grad-stats-keras3-train-normal-8x7x7x16-eps0.001 grad-tfjs/fault-tfjs-grad-stats-tf-nn-eval-normal-8x7x7x16-eps0.001
)
for c in "${cases[@]}"; do
  mkdir -p "fixtures/corpus/$c"
  cp "$corpus/$c"/*.npy "$corpus/$c/case.json" "fixtures/corpus/$c/"
done
echo "copied ${#cases[@]} cases"
