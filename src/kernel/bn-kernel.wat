;; bn-check's WebAssembly SIMD kernel for float32 tensors: the statistics and normalisation passes.
;;
;; Built by scripts/build-wasm.mjs (wabt) into dist/kernel/bn-kernel.wasm. The memory is imported: it
;; is the shared memory of a tensor arena (src/memory/arena.ts), so the tensors, the per-unit
;; partials and the per-channel constants are read and written where they already are, by every
;; worker, without copies. All pointers are byte offsets into that memory.
;;
;; The arithmetic is exactly that of the JavaScript kernel (src/kernel/stats.ts, normalize.ts), so a
;; pass gives the same bits whichever of the two runs it (test/kernel/wasm-kernel.test.ts checks it):
;; - float32 → float64 conversions are exact; no fused multiply-add (neither V8 nor WebAssembly fuses).
;; - Column statistics (one channel, `rows` runs of `len` contiguous values) use eight lanes:
;;   value j of a run (j below len rounded down to 8) goes to lane j mod 8, the rest of the run to a
;;   tail sum, in order; lanes persist across runs and are combined as
;;   ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)) + tail.
;;   Pass one sums values, mean = sum / count; pass two sums d = x − mean and d·d the same way;
;;   M2 = Σd² − (Σd)²/count, clamped at 0 (rounding can leave a hair below zero only when every d ≈ 0).
;; - Row statistics (channels-last, one value per row and channel): one sequential chain per channel
;;   over the rows; SIMD runs four channels side by side, which changes no chain's order.
;; - Lanes 2 and 3 of a float32x4 are promoted through a shuffle written out in place: V8 (Node 20)
;;   does not inline WebAssembly calls, and a call per four values costs 5x in the hot loop.
;; - Normalisation: y = fround((x − shift)·scale + offset), element by element.
(module
  (import "env" "memory" (memory 1 65536 shared))

  (func $combine (param $a v128) (param $b v128) (param $c v128) (param $d v128) (param $tail f64) (result f64)
    (f64.add
      (f64.add
        (f64.add
          (f64.add (f64x2.extract_lane 0 (local.get $a)) (f64x2.extract_lane 1 (local.get $a)))
          (f64.add (f64x2.extract_lane 0 (local.get $b)) (f64x2.extract_lane 1 (local.get $b))))
        (f64.add
          (f64.add (f64x2.extract_lane 0 (local.get $c)) (f64x2.extract_lane 1 (local.get $c)))
          (f64.add (f64x2.extract_lane 0 (local.get $d)) (f64x2.extract_lane 1 (local.get $d)))))
      (local.get $tail)))

  ;; Writes (count, mean, M2) at $out.
  (func $write_stats (param $out i32) (param $count f64) (param $mean f64) (param $m2 f64)
    (f64.store (local.get $out) (local.get $count))
    (f64.store offset=8 (local.get $out) (local.get $mean))
    ;; m2 > 0 || m2 is NaN ? m2 : 0
    (f64.store offset=16 (local.get $out)
      (select (local.get $m2) (f64.const 0)
        (i32.or (f64.gt (local.get $m2) (f64.const 0)) (f64.ne (local.get $m2) (local.get $m2))))))

  ;; Statistics of one channel of a unit: `rows` runs of `len` float32 values, `stride` bytes apart.
  (func (export "stats_cols") (param $src i32) (param $rows i32) (param $stride i32) (param $len i32) (param $count f64) (param $out i32)
    (local $p i32) (local $end8 i32) (local $end i32) (local $row i32) (local $start i32)
    (local $x v128) (local $y v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $t f64)
    (local $mean f64) (local $m v128) (local $e v128)
    (local $d0 v128) (local $d1 v128) (local $d2 v128) (local $d3 v128) (local $td f64)
    (local $q0 v128) (local $q1 v128) (local $q2 v128) (local $q3 v128) (local $tq f64)
    (local $ds f64) (local $qs f64) (local $s f64)
    ;; Pass one: sums.
    (local.set $start (local.get $src))
    (local.set $row (i32.const 0))
    (block $rows_done (loop $rows
      (br_if $rows_done (i32.ge_u (local.get $row) (local.get $rows)))
      (local.set $p (local.get $start))
      (local.set $end8 (i32.add (local.get $p) (i32.shl (i32.and (local.get $len) (i32.const -8)) (i32.const 2))))
      (local.set $end (i32.add (local.get $p) (i32.shl (local.get $len) (i32.const 2))))
      (block $body_done (loop $body
        (br_if $body_done (i32.ge_u (local.get $p) (local.get $end8)))
        (local.set $x (v128.load (local.get $p)))
        (local.set $y (v128.load offset=16 (local.get $p)))
        (local.set $a0 (f64x2.add (local.get $a0) (f64x2.promote_low_f32x4 (local.get $x))))
        (local.set $a1 (f64x2.add (local.get $a1) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x)))))
        (local.set $a2 (f64x2.add (local.get $a2) (f64x2.promote_low_f32x4 (local.get $y))))
        (local.set $a3 (f64x2.add (local.get $a3) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $y) (local.get $y)))))
        (local.set $p (i32.add (local.get $p) (i32.const 32)))
        (br $body)))
      (block $tail_done (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $t (f64.add (local.get $t) (f64.promote_f32 (f32.load (local.get $p)))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $tail)))
      (local.set $start (i32.add (local.get $start) (local.get $stride)))
      (local.set $row (i32.add (local.get $row) (i32.const 1)))
      (br $rows)))
    (local.set $s (call $combine (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3) (local.get $t)))
    (local.set $mean (f64.div (local.get $s) (local.get $count)))
    (local.set $m (f64x2.splat (local.get $mean)))
    ;; Pass two: deviations from the mean and their squares.
    (local.set $start (local.get $src))
    (local.set $row (i32.const 0))
    (block $rows2_done (loop $rows2
      (br_if $rows2_done (i32.ge_u (local.get $row) (local.get $rows)))
      (local.set $p (local.get $start))
      (local.set $end8 (i32.add (local.get $p) (i32.shl (i32.and (local.get $len) (i32.const -8)) (i32.const 2))))
      (local.set $end (i32.add (local.get $p) (i32.shl (local.get $len) (i32.const 2))))
      (block $body2_done (loop $body2
        (br_if $body2_done (i32.ge_u (local.get $p) (local.get $end8)))
        (local.set $x (v128.load (local.get $p)))
        (local.set $y (v128.load offset=16 (local.get $p)))
        (local.set $e (f64x2.sub (f64x2.promote_low_f32x4 (local.get $x)) (local.get $m)))
        (local.set $d0 (f64x2.add (local.get $d0) (local.get $e)))
        (local.set $q0 (f64x2.add (local.get $q0) (f64x2.mul (local.get $e) (local.get $e))))
        (local.set $e (f64x2.sub (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x))) (local.get $m)))
        (local.set $d1 (f64x2.add (local.get $d1) (local.get $e)))
        (local.set $q1 (f64x2.add (local.get $q1) (f64x2.mul (local.get $e) (local.get $e))))
        (local.set $e (f64x2.sub (f64x2.promote_low_f32x4 (local.get $y)) (local.get $m)))
        (local.set $d2 (f64x2.add (local.get $d2) (local.get $e)))
        (local.set $q2 (f64x2.add (local.get $q2) (f64x2.mul (local.get $e) (local.get $e))))
        (local.set $e (f64x2.sub (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $y) (local.get $y))) (local.get $m)))
        (local.set $d3 (f64x2.add (local.get $d3) (local.get $e)))
        (local.set $q3 (f64x2.add (local.get $q3) (f64x2.mul (local.get $e) (local.get $e))))
        (local.set $p (i32.add (local.get $p) (i32.const 32)))
        (br $body2)))
      (block $tail2_done (loop $tail2
        (br_if $tail2_done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $ds (f64.sub (f64.promote_f32 (f32.load (local.get $p))) (local.get $mean)))
        (local.set $td (f64.add (local.get $td) (local.get $ds)))
        (local.set $tq (f64.add (local.get $tq) (f64.mul (local.get $ds) (local.get $ds))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $tail2)))
      (local.set $start (i32.add (local.get $start) (local.get $stride)))
      (local.set $row (i32.add (local.get $row) (i32.const 1)))
      (br $rows2)))
    (local.set $ds (call $combine (local.get $d0) (local.get $d1) (local.get $d2) (local.get $d3) (local.get $td)))
    (local.set $qs (call $combine (local.get $q0) (local.get $q1) (local.get $q2) (local.get $q3) (local.get $tq)))
    (call $write_stats (local.get $out) (local.get $count) (local.get $mean)
      (f64.sub (local.get $qs) (f64.div (f64.mul (local.get $ds) (local.get $ds)) (local.get $count)))))

  ;; Statistics of `width` channels stored one value per row (channels-last, inner = 1): channel k's
  ;; values are at src + 4k + r·stride for r < rows. Writes one (count, mean, M2) record per channel
  ;; at out + 24k.
  (func (export "stats_rows") (param $src i32) (param $rows i32) (param $stride i32) (param $width i32) (param $count f64) (param $out i32)
    (local $k i32) (local $row i32) (local $p i32) (local $x v128)
    (local $lo v128) (local $hi v128) (local $mlo v128) (local $mhi v128)
    (local $dlo v128) (local $dhi v128) (local $qlo v128) (local $qhi v128) (local $e v128)
    (local $s f64) (local $mean f64) (local $d f64) (local $q f64) (local $v f64) (local $rec i32) (local $cv v128)
    (local.set $cv (f64x2.splat (local.get $count)))
    ;; Four channels at a time.
    (block $quads_done (loop $quads
      (br_if $quads_done (i32.gt_u (i32.add (local.get $k) (i32.const 4)) (local.get $width)))
      (local.set $lo (v128.const i64x2 0 0))
      (local.set $hi (v128.const i64x2 0 0))
      (local.set $p (i32.add (local.get $src) (i32.shl (local.get $k) (i32.const 2))))
      (local.set $row (i32.const 0))
      (block $r1_done (loop $r1
        (br_if $r1_done (i32.ge_u (local.get $row) (local.get $rows)))
        (local.set $x (v128.load (local.get $p)))
        (local.set $lo (f64x2.add (local.get $lo) (f64x2.promote_low_f32x4 (local.get $x))))
        (local.set $hi (f64x2.add (local.get $hi) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x)))))
        (local.set $p (i32.add (local.get $p) (local.get $stride)))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $r1)))
      (local.set $mlo (f64x2.div (local.get $lo) (local.get $cv)))
      (local.set $mhi (f64x2.div (local.get $hi) (local.get $cv)))
      (local.set $dlo (v128.const i64x2 0 0))
      (local.set $dhi (v128.const i64x2 0 0))
      (local.set $qlo (v128.const i64x2 0 0))
      (local.set $qhi (v128.const i64x2 0 0))
      (local.set $p (i32.add (local.get $src) (i32.shl (local.get $k) (i32.const 2))))
      (local.set $row (i32.const 0))
      (block $r2_done (loop $r2
        (br_if $r2_done (i32.ge_u (local.get $row) (local.get $rows)))
        (local.set $x (v128.load (local.get $p)))
        (local.set $e (f64x2.sub (f64x2.promote_low_f32x4 (local.get $x)) (local.get $mlo)))
        (local.set $dlo (f64x2.add (local.get $dlo) (local.get $e)))
        (local.set $qlo (f64x2.add (local.get $qlo) (f64x2.mul (local.get $e) (local.get $e))))
        (local.set $e (f64x2.sub (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x))) (local.get $mhi)))
        (local.set $dhi (f64x2.add (local.get $dhi) (local.get $e)))
        (local.set $qhi (f64x2.add (local.get $qhi) (f64x2.mul (local.get $e) (local.get $e))))
        (local.set $p (i32.add (local.get $p) (local.get $stride)))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $r2)))
      (local.set $rec (i32.add (local.get $out) (i32.mul (local.get $k) (i32.const 24))))
      (call $write_stats (local.get $rec) (local.get $count) (f64x2.extract_lane 0 (local.get $mlo))
        (f64.sub (f64x2.extract_lane 0 (local.get $qlo)) (f64.div (f64.mul (f64x2.extract_lane 0 (local.get $dlo)) (f64x2.extract_lane 0 (local.get $dlo))) (local.get $count))))
      (call $write_stats (i32.add (local.get $rec) (i32.const 24)) (local.get $count) (f64x2.extract_lane 1 (local.get $mlo))
        (f64.sub (f64x2.extract_lane 1 (local.get $qlo)) (f64.div (f64.mul (f64x2.extract_lane 1 (local.get $dlo)) (f64x2.extract_lane 1 (local.get $dlo))) (local.get $count))))
      (call $write_stats (i32.add (local.get $rec) (i32.const 48)) (local.get $count) (f64x2.extract_lane 0 (local.get $mhi))
        (f64.sub (f64x2.extract_lane 0 (local.get $qhi)) (f64.div (f64.mul (f64x2.extract_lane 0 (local.get $dhi)) (f64x2.extract_lane 0 (local.get $dhi))) (local.get $count))))
      (call $write_stats (i32.add (local.get $rec) (i32.const 72)) (local.get $count) (f64x2.extract_lane 1 (local.get $mhi))
        (f64.sub (f64x2.extract_lane 1 (local.get $qhi)) (f64.div (f64.mul (f64x2.extract_lane 1 (local.get $dhi)) (f64x2.extract_lane 1 (local.get $dhi))) (local.get $count))))
      (local.set $k (i32.add (local.get $k) (i32.const 4)))
      (br $quads)))
    ;; The last channels, one at a time.
    (block $singles_done (loop $singles
      (br_if $singles_done (i32.ge_u (local.get $k) (local.get $width)))
      (local.set $s (f64.const 0))
      (local.set $p (i32.add (local.get $src) (i32.shl (local.get $k) (i32.const 2))))
      (local.set $row (i32.const 0))
      (block $s1_done (loop $s1
        (br_if $s1_done (i32.ge_u (local.get $row) (local.get $rows)))
        (local.set $s (f64.add (local.get $s) (f64.promote_f32 (f32.load (local.get $p)))))
        (local.set $p (i32.add (local.get $p) (local.get $stride)))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $s1)))
      (local.set $mean (f64.div (local.get $s) (local.get $count)))
      (local.set $d (f64.const 0))
      (local.set $q (f64.const 0))
      (local.set $p (i32.add (local.get $src) (i32.shl (local.get $k) (i32.const 2))))
      (local.set $row (i32.const 0))
      (block $s2_done (loop $s2
        (br_if $s2_done (i32.ge_u (local.get $row) (local.get $rows)))
        (local.set $v (f64.sub (f64.promote_f32 (f32.load (local.get $p))) (local.get $mean)))
        (local.set $d (f64.add (local.get $d) (local.get $v)))
        (local.set $q (f64.add (local.get $q) (f64.mul (local.get $v) (local.get $v))))
        (local.set $p (i32.add (local.get $p) (local.get $stride)))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $s2)))
      (call $write_stats (i32.add (local.get $out) (i32.mul (local.get $k) (i32.const 24))) (local.get $count) (local.get $mean)
        (f64.sub (local.get $q) (f64.div (f64.mul (local.get $d) (local.get $d)) (local.get $count))))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $singles))))

  ;; y = fround((x − shift)·scale + offset) for `rows` runs of `len` values; source and destination
  ;; runs are `stride` bytes apart.
  (func (export "normalize_cols") (param $src i32) (param $dst i32) (param $rows i32) (param $stride i32) (param $len i32)
    (param $shift f64) (param $scale f64) (param $offset f64)
    (local $sh v128) (local $sc v128) (local $of v128) (local $row i32) (local $p i32) (local $q i32) (local $end4 i32) (local $end i32) (local $x v128)
    (local.set $sh (f64x2.splat (local.get $shift)))
    (local.set $sc (f64x2.splat (local.get $scale)))
    (local.set $of (f64x2.splat (local.get $offset)))
    (block $rows_done (loop $rows
      (br_if $rows_done (i32.ge_u (local.get $row) (local.get $rows)))
      (local.set $p (local.get $src))
      (local.set $q (local.get $dst))
      (local.set $end4 (i32.add (local.get $p) (i32.shl (i32.and (local.get $len) (i32.const -4)) (i32.const 2))))
      (local.set $end (i32.add (local.get $p) (i32.shl (local.get $len) (i32.const 2))))
      (block $body_done (loop $body
        (br_if $body_done (i32.ge_u (local.get $p) (local.get $end4)))
        (local.set $x (v128.load (local.get $p)))
        (v128.store (local.get $q)
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (f32x4.demote_f64x2_zero (f64x2.add (f64x2.mul (f64x2.sub (f64x2.promote_low_f32x4 (local.get $x)) (local.get $sh)) (local.get $sc)) (local.get $of)))
            (f32x4.demote_f64x2_zero (f64x2.add (f64x2.mul (f64x2.sub (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x))) (local.get $sh)) (local.get $sc)) (local.get $of)))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (local.set $q (i32.add (local.get $q) (i32.const 16)))
        (br $body)))
      (block $tail_done (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $p) (local.get $end)))
        (f32.store (local.get $q) (f32.demote_f64 (f64.add (f64.mul (f64.sub (f64.promote_f32 (f32.load (local.get $p))) (local.get $shift)) (local.get $scale)) (local.get $offset))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (local.set $q (i32.add (local.get $q) (i32.const 4)))
        (br $tail)))
      (local.set $src (i32.add (local.get $src) (local.get $stride)))
      (local.set $dst (i32.add (local.get $dst) (local.get $stride)))
      (local.set $row (i32.add (local.get $row) (i32.const 1)))
      (br $rows))))

  ;; Channels-last normalisation (inner = 1): `rows` rows of `width` channels, `stride` bytes apart;
  ;; the channels' shift, scale and offset are float64 runs at $shifts, $scales and $offsets.
  (func (export "normalize_rows") (param $src i32) (param $dst i32) (param $rows i32) (param $stride i32) (param $width i32)
    (param $shifts i32) (param $scales i32) (param $offsets i32)
    (local $row i32) (local $k i32) (local $x v128) (local $c i32) (local $end4 i32)
    (local.set $end4 (i32.and (local.get $width) (i32.const -4)))
    (block $rows_done (loop $rows
      (br_if $rows_done (i32.ge_u (local.get $row) (local.get $rows)))
      (local.set $k (i32.const 0))
      (block $body_done (loop $body
        (br_if $body_done (i32.ge_u (local.get $k) (local.get $end4)))
        (local.set $x (v128.load (i32.add (local.get $src) (i32.shl (local.get $k) (i32.const 2)))))
        (local.set $c (i32.shl (local.get $k) (i32.const 3)))
        (v128.store (i32.add (local.get $dst) (i32.shl (local.get $k) (i32.const 2)))
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (f32x4.demote_f64x2_zero (f64x2.add
              (f64x2.mul (f64x2.sub (f64x2.promote_low_f32x4 (local.get $x)) (v128.load (i32.add (local.get $shifts) (local.get $c)))) (v128.load (i32.add (local.get $scales) (local.get $c))))
              (v128.load (i32.add (local.get $offsets) (local.get $c)))))
            (f32x4.demote_f64x2_zero (f64x2.add
              (f64x2.mul (f64x2.sub (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x))) (v128.load offset=16 (i32.add (local.get $shifts) (local.get $c)))) (v128.load offset=16 (i32.add (local.get $scales) (local.get $c))))
              (v128.load offset=16 (i32.add (local.get $offsets) (local.get $c)))))))
        (local.set $k (i32.add (local.get $k) (i32.const 4)))
        (br $body)))
      (block $tail_done (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $k) (local.get $width)))
        (local.set $c (i32.shl (local.get $k) (i32.const 3)))
        (f32.store (i32.add (local.get $dst) (i32.shl (local.get $k) (i32.const 2)))
          (f32.demote_f64 (f64.add
            (f64.mul (f64.sub (f64.promote_f32 (f32.load (i32.add (local.get $src) (i32.shl (local.get $k) (i32.const 2))))) (f64.load (i32.add (local.get $shifts) (local.get $c))))
              (f64.load (i32.add (local.get $scales) (local.get $c))))
            (f64.load (i32.add (local.get $offsets) (local.get $c))))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $tail)))
      (local.set $src (i32.add (local.get $src) (local.get $stride)))
      (local.set $dst (i32.add (local.get $dst) (local.get $stride)))
      (local.set $row (i32.add (local.get $row) (i32.const 1)))
      (br $rows))))
)
