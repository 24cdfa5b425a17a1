;; bn-check's WebAssembly SIMD kernel for float32 tensors: the statistics and normalisation passes.
;;
;; Built by scripts/build-wasm.mjs (wabt) into dist/kernel/bn-kernel.wasm. Record offsets are written
;; as double-brace expressions over the layout constants of src/kernel/diff.ts and stats.ts, which the build
;; fills in: one table for both kernels. The memory is imported: it
;; is the shared memory of a tensor arena (src/core/arena.ts), so the tensors, the per-unit
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
    (f64.store offset={{S_COUNT * 8}} (local.get $out) (local.get $count))
    (f64.store offset={{S_MEAN * 8}} (local.get $out) (local.get $mean))
    ;; m2 > 0 || m2 is NaN ? m2 : 0
    (f64.store offset={{S_M2 * 8}} (local.get $out)
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
    (local $y v128) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $d0 v128) (local $d1 v128) (local $d2 v128) (local $d3 v128) (local $q0 v128) (local $q1 v128) (local $q2 v128) (local $q3 v128)
    (local.set $cv (f64x2.splat (local.get $count)))
    ;; Eight channels at a time (four independent chains hide the add latency; each channel's own
    ;; chain still runs over the rows in order), then four, then one.
    (block $octets_done (loop $octets
      (br_if $octets_done (i32.gt_u (i32.add (local.get $k) (i32.const 8)) (local.get $width)))
      (local.set $a0 (v128.const i64x2 0 0)) (local.set $a1 (v128.const i64x2 0 0))
      (local.set $a2 (v128.const i64x2 0 0)) (local.set $a3 (v128.const i64x2 0 0))
      (local.set $p (i32.add (local.get $src) (i32.shl (local.get $k) (i32.const 2))))
      (local.set $row (i32.const 0))
      (block $o1_done (loop $o1
        (br_if $o1_done (i32.ge_u (local.get $row) (local.get $rows)))
        (local.set $x (v128.load (local.get $p)))
        (local.set $y (v128.load offset=16 (local.get $p)))
        (local.set $a0 (f64x2.add (local.get $a0) (f64x2.promote_low_f32x4 (local.get $x))))
        (local.set $a1 (f64x2.add (local.get $a1) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x)))))
        (local.set $a2 (f64x2.add (local.get $a2) (f64x2.promote_low_f32x4 (local.get $y))))
        (local.set $a3 (f64x2.add (local.get $a3) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $y) (local.get $y)))))
        (local.set $p (i32.add (local.get $p) (local.get $stride)))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $o1)))
      (local.set $a0 (f64x2.div (local.get $a0) (local.get $cv))) (local.set $a1 (f64x2.div (local.get $a1) (local.get $cv)))
      (local.set $a2 (f64x2.div (local.get $a2) (local.get $cv))) (local.set $a3 (f64x2.div (local.get $a3) (local.get $cv)))
      (local.set $d0 (v128.const i64x2 0 0)) (local.set $d1 (v128.const i64x2 0 0)) (local.set $d2 (v128.const i64x2 0 0)) (local.set $d3 (v128.const i64x2 0 0))
      (local.set $q0 (v128.const i64x2 0 0)) (local.set $q1 (v128.const i64x2 0 0)) (local.set $q2 (v128.const i64x2 0 0)) (local.set $q3 (v128.const i64x2 0 0))
      (local.set $p (i32.add (local.get $src) (i32.shl (local.get $k) (i32.const 2))))
      (local.set $row (i32.const 0))
      (block $o2_done (loop $o2
        (br_if $o2_done (i32.ge_u (local.get $row) (local.get $rows)))
        (local.set $x (v128.load (local.get $p)))
        (local.set $y (v128.load offset=16 (local.get $p)))
        (local.set $e (f64x2.sub (f64x2.promote_low_f32x4 (local.get $x)) (local.get $a0)))
        (local.set $d0 (f64x2.add (local.get $d0) (local.get $e)))
        (local.set $q0 (f64x2.add (local.get $q0) (f64x2.mul (local.get $e) (local.get $e))))
        (local.set $e (f64x2.sub (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x))) (local.get $a1)))
        (local.set $d1 (f64x2.add (local.get $d1) (local.get $e)))
        (local.set $q1 (f64x2.add (local.get $q1) (f64x2.mul (local.get $e) (local.get $e))))
        (local.set $e (f64x2.sub (f64x2.promote_low_f32x4 (local.get $y)) (local.get $a2)))
        (local.set $d2 (f64x2.add (local.get $d2) (local.get $e)))
        (local.set $q2 (f64x2.add (local.get $q2) (f64x2.mul (local.get $e) (local.get $e))))
        (local.set $e (f64x2.sub (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $y) (local.get $y))) (local.get $a3)))
        (local.set $d3 (f64x2.add (local.get $d3) (local.get $e)))
        (local.set $q3 (f64x2.add (local.get $q3) (f64x2.mul (local.get $e) (local.get $e))))
        (local.set $p (i32.add (local.get $p) (local.get $stride)))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $o2)))
      (local.set $rec (i32.add (local.get $out) (i32.mul (local.get $k) (i32.const {{STATS_RECORD_SIZE * 8}}))))
      (call $write_stats (i32.add (local.get $rec) (i32.const 0)) (local.get $count) (f64x2.extract_lane 0 (local.get $a0))
        (f64.sub (f64x2.extract_lane 0 (local.get $q0)) (f64.div (f64.mul (f64x2.extract_lane 0 (local.get $d0)) (f64x2.extract_lane 0 (local.get $d0))) (local.get $count))))
      (call $write_stats (i32.add (local.get $rec) (i32.const {{STATS_RECORD_SIZE * 8}})) (local.get $count) (f64x2.extract_lane 1 (local.get $a0))
        (f64.sub (f64x2.extract_lane 1 (local.get $q0)) (f64.div (f64.mul (f64x2.extract_lane 1 (local.get $d0)) (f64x2.extract_lane 1 (local.get $d0))) (local.get $count))))
      (call $write_stats (i32.add (local.get $rec) (i32.const {{2 * STATS_RECORD_SIZE * 8}})) (local.get $count) (f64x2.extract_lane 0 (local.get $a1))
        (f64.sub (f64x2.extract_lane 0 (local.get $q1)) (f64.div (f64.mul (f64x2.extract_lane 0 (local.get $d1)) (f64x2.extract_lane 0 (local.get $d1))) (local.get $count))))
      (call $write_stats (i32.add (local.get $rec) (i32.const {{3 * STATS_RECORD_SIZE * 8}})) (local.get $count) (f64x2.extract_lane 1 (local.get $a1))
        (f64.sub (f64x2.extract_lane 1 (local.get $q1)) (f64.div (f64.mul (f64x2.extract_lane 1 (local.get $d1)) (f64x2.extract_lane 1 (local.get $d1))) (local.get $count))))
      (call $write_stats (i32.add (local.get $rec) (i32.const {{4 * STATS_RECORD_SIZE * 8}})) (local.get $count) (f64x2.extract_lane 0 (local.get $a2))
        (f64.sub (f64x2.extract_lane 0 (local.get $q2)) (f64.div (f64.mul (f64x2.extract_lane 0 (local.get $d2)) (f64x2.extract_lane 0 (local.get $d2))) (local.get $count))))
      (call $write_stats (i32.add (local.get $rec) (i32.const {{5 * STATS_RECORD_SIZE * 8}})) (local.get $count) (f64x2.extract_lane 1 (local.get $a2))
        (f64.sub (f64x2.extract_lane 1 (local.get $q2)) (f64.div (f64.mul (f64x2.extract_lane 1 (local.get $d2)) (f64x2.extract_lane 1 (local.get $d2))) (local.get $count))))
      (call $write_stats (i32.add (local.get $rec) (i32.const {{6 * STATS_RECORD_SIZE * 8}})) (local.get $count) (f64x2.extract_lane 0 (local.get $a3))
        (f64.sub (f64x2.extract_lane 0 (local.get $q3)) (f64.div (f64.mul (f64x2.extract_lane 0 (local.get $d3)) (f64x2.extract_lane 0 (local.get $d3))) (local.get $count))))
      (call $write_stats (i32.add (local.get $rec) (i32.const {{7 * STATS_RECORD_SIZE * 8}})) (local.get $count) (f64x2.extract_lane 1 (local.get $a3))
        (f64.sub (f64x2.extract_lane 1 (local.get $q3)) (f64.div (f64.mul (f64x2.extract_lane 1 (local.get $d3)) (f64x2.extract_lane 1 (local.get $d3))) (local.get $count))))
      (local.set $k (i32.add (local.get $k) (i32.const 8)))
      (br $octets)))
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
      (local.set $rec (i32.add (local.get $out) (i32.mul (local.get $k) (i32.const {{STATS_RECORD_SIZE * 8}}))))
      (call $write_stats (local.get $rec) (local.get $count) (f64x2.extract_lane 0 (local.get $mlo))
        (f64.sub (f64x2.extract_lane 0 (local.get $qlo)) (f64.div (f64.mul (f64x2.extract_lane 0 (local.get $dlo)) (f64x2.extract_lane 0 (local.get $dlo))) (local.get $count))))
      (call $write_stats (i32.add (local.get $rec) (i32.const {{STATS_RECORD_SIZE * 8}})) (local.get $count) (f64x2.extract_lane 1 (local.get $mlo))
        (f64.sub (f64x2.extract_lane 1 (local.get $qlo)) (f64.div (f64.mul (f64x2.extract_lane 1 (local.get $dlo)) (f64x2.extract_lane 1 (local.get $dlo))) (local.get $count))))
      (call $write_stats (i32.add (local.get $rec) (i32.const {{2 * STATS_RECORD_SIZE * 8}})) (local.get $count) (f64x2.extract_lane 0 (local.get $mhi))
        (f64.sub (f64x2.extract_lane 0 (local.get $qhi)) (f64.div (f64.mul (f64x2.extract_lane 0 (local.get $dhi)) (f64x2.extract_lane 0 (local.get $dhi))) (local.get $count))))
      (call $write_stats (i32.add (local.get $rec) (i32.const {{3 * STATS_RECORD_SIZE * 8}})) (local.get $count) (f64x2.extract_lane 1 (local.get $mhi))
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
      (call $write_stats (i32.add (local.get $out) (i32.mul (local.get $k) (i32.const {{STATS_RECORD_SIZE * 8}}))) (local.get $count) (local.get $mean)
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

  ;; ---------------------------------------------------------------------------------------------
  ;; The fused BN-and-compare pass (src/kernel/compare-units.ts is the JavaScript twin and the
  ;; documentation of the rule). One call compares one channel of a unit, float32 input against a
  ;; float32 reference, ulps counted in float32. Every statistic but one is order-free (counts,
  ;; maxima whose ties go to the smallest index, the histogram, the top-8 worst list); the sum of
  ;; absolute errors uses four lanes: value j of a run (j below len rounded down to 4) to lane j mod 4,
  ;; the rest of the run to a tail sum, combined as (l0 + l1) + (l2 + l3) + tail, as the JavaScript does
  ;; (a run: a row's values of the channel, or for channels-last data the channel's column in the unit).
  ;;
  ;; Record layout (float64 fields, src/kernel/diff.ts): 0 count, 1 mismatches, 2 non-finite
  ;; mismatches, 3/4 max abs error and its index, 5/6 max rel error and index, 7/8 max ulps and
  ;; index, 9 required atol, 10 required rtol, 11 sum of abs errors, 12 finite pairs, 13.. histogram
  ;; flat mismatches, 14/15 max |error|/B (over elements outside the flat tolerance) and its index
  ;; (offsets filled in by the build). The unit's histogram is an array of its own: 27 buckets, 0 exact,
  ;; b in 1..24 for [2^(b-1), 2^b) ulps, 25 for more, 26 non-finite.
  ;; An element outside the flat tolerance is a mismatch only when it is also outside its bound B.
  ;; The worst list of the unit: 8 (excess, index) pairs, by decreasing excess then increasing index.

;; Backward sums of one channel of a unit (backward.ts, `gradSumsUnits`): `rows` runs of `len`
  ;; float32 x and dy, `stride` bytes apart (the same for both). With e = x − mu in float64, writes
  ;; Σdy, Σ|dy|, Σ|dy·e|, Σdy·e, max|dy|, max|e| at $out (GRAD_RECORD_SIZE float64 values). Each sum in
  ;; eight lanes as stats_cols does (value j of a run below its length rounded down to 8 to lane
  ;; j mod 8, the rest to a tail), combined by $combine; the maxima ignore NaN as `>` does.
  (func $grad_lane (param $x v128) (param $dy v128) (param $m v128) (param $acc i32)
    ;; $acc: byte offset of this lane pair's four sums and two maxima in the scratch block.
    (local $e v128) (local $p v128)
    (local.set $e (f64x2.sub (local.get $x) (local.get $m)))
    (local.set $p (f64x2.mul (local.get $dy) (local.get $e)))
    (v128.store offset=0 (local.get $acc) (f64x2.add (v128.load offset=0 (local.get $acc)) (local.get $dy)))
    (v128.store offset=16 (local.get $acc) (f64x2.add (v128.load offset=16 (local.get $acc)) (f64x2.abs (local.get $dy))))
    (v128.store offset=32 (local.get $acc) (f64x2.add (v128.load offset=32 (local.get $acc)) (f64x2.abs (local.get $p))))
    (v128.store offset=48 (local.get $acc) (f64x2.add (v128.load offset=48 (local.get $acc)) (local.get $p)))
    (v128.store offset=64 (local.get $acc) (f64x2.pmax (v128.load offset=64 (local.get $acc)) (f64x2.abs (local.get $dy))))
    (v128.store offset=80 (local.get $acc) (f64x2.pmax (v128.load offset=80 (local.get $acc)) (f64x2.abs (local.get $e)))))

  (func (export "gradsums_cols") (param $x i32) (param $dy i32) (param $rows i32) (param $stride i32) (param $len i32) (param $mu f64) (param $out i32) (param $scratch i32)
    (local $row i32) (local $p i32) (local $q i32) (local $end8 i32) (local $end i32) (local $m v128) (local $k i32)
    (local $a v128) (local $b v128) (local $c v128) (local $d v128)
    (local $ex f64) (local $edy f64) (local $prod f64)
    (local $t0 f64) (local $t1 f64) (local $t2 f64) (local $t3 f64) (local $mx0 f64) (local $mx1 f64)
    (local.set $m (f64x2.splat (local.get $mu)))
    ;; Scratch: 4 lane pairs x 6 fields x 16 bytes = 384 bytes of zeros.
    (local.set $k (i32.const 0))
    (block $zeroed (loop $zero
      (br_if $zeroed (i32.ge_u (local.get $k) (i32.const 384)))
      (v128.store (i32.add (local.get $scratch) (local.get $k)) (v128.const i64x2 0 0))
      (local.set $k (i32.add (local.get $k) (i32.const 16)))
      (br $zero)))
    (block $rows_done (loop $rows
      (br_if $rows_done (i32.ge_u (local.get $row) (local.get $rows)))
      (local.set $p (local.get $x))
      (local.set $q (local.get $dy))
      (local.set $end8 (i32.add (local.get $p) (i32.shl (i32.and (local.get $len) (i32.const -8)) (i32.const 2))))
      (local.set $end (i32.add (local.get $p) (i32.shl (local.get $len) (i32.const 2))))
      (block $body_done (loop $body
        (br_if $body_done (i32.ge_u (local.get $p) (local.get $end8)))
        (local.set $a (v128.load (local.get $p)))
        (local.set $b (v128.load offset=16 (local.get $p)))
        (local.set $c (v128.load (local.get $q)))
        (local.set $d (v128.load offset=16 (local.get $q)))
        (call $grad_lane (f64x2.promote_low_f32x4 (local.get $a)) (f64x2.promote_low_f32x4 (local.get $c)) (local.get $m) (local.get $scratch))
        (call $grad_lane (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a) (local.get $a)))
          (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $c) (local.get $c))) (local.get $m) (i32.add (local.get $scratch) (i32.const 96)))
        (call $grad_lane (f64x2.promote_low_f32x4 (local.get $b)) (f64x2.promote_low_f32x4 (local.get $d)) (local.get $m) (i32.add (local.get $scratch) (i32.const 192)))
        (call $grad_lane (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $b) (local.get $b)))
          (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d))) (local.get $m) (i32.add (local.get $scratch) (i32.const 288)))
        (local.set $p (i32.add (local.get $p) (i32.const 32)))
        (local.set $q (i32.add (local.get $q) (i32.const 32)))
        (br $body)))
      (block $tail_done (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $ex (f64.sub (f64.promote_f32 (f32.load (local.get $p))) (local.get $mu)))
        (local.set $edy (f64.promote_f32 (f32.load (local.get $q))))
        (local.set $prod (f64.mul (local.get $edy) (local.get $ex)))
        (local.set $t0 (f64.add (local.get $t0) (local.get $edy)))
        (local.set $t1 (f64.add (local.get $t1) (f64.abs (local.get $edy))))
        (local.set $t2 (f64.add (local.get $t2) (f64.abs (local.get $prod))))
        (local.set $t3 (f64.add (local.get $t3) (local.get $prod)))
        (if (f64.gt (f64.abs (local.get $edy)) (local.get $mx0)) (then (local.set $mx0 (f64.abs (local.get $edy)))))
        (if (f64.gt (f64.abs (local.get $ex)) (local.get $mx1)) (then (local.set $mx1 (f64.abs (local.get $ex)))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (local.set $q (i32.add (local.get $q) (i32.const 4)))
        (br $tail)))
      (local.set $x (i32.add (local.get $x) (local.get $stride)))
      (local.set $dy (i32.add (local.get $dy) (local.get $stride)))
      (local.set $row (i32.add (local.get $row) (i32.const 1)))
      (br $rows)))
    (f64.store offset={{G_SUM_DY * 8}} (local.get $out) (call $combine_field (local.get $scratch) (i32.const 0) (local.get $t0)))
    (f64.store offset={{G_SUM_ABS_DY * 8}} (local.get $out) (call $combine_field (local.get $scratch) (i32.const 16) (local.get $t1)))
    (f64.store offset={{G_SUM_ABS_DY_CENTRED * 8}} (local.get $out) (call $combine_field (local.get $scratch) (i32.const 32) (local.get $t2)))
    (f64.store offset={{G_SUM_DY_CENTRED * 8}} (local.get $out) (call $combine_field (local.get $scratch) (i32.const 48) (local.get $t3)))
    (f64.store offset={{G_MAX_ABS_DY * 8}} (local.get $out) (call $max_field (local.get $scratch) (i32.const 64) (local.get $mx0)))
    (f64.store offset={{G_MAX_ABS_CENTRED * 8}} (local.get $out) (call $max_field (local.get $scratch) (i32.const 80) (local.get $mx1))))

  ;; One field's eight lanes (four lane pairs, 96 bytes apart) and its tail, combined as $combine does.
  (func $combine_field (param $scratch i32) (param $field i32) (param $tail f64) (result f64)
    (local $at i32)
    (local.set $at (i32.add (local.get $scratch) (local.get $field)))
    (call $combine (v128.load offset=0 (local.get $at)) (v128.load offset=96 (local.get $at)) (v128.load offset=192 (local.get $at)) (v128.load offset=288 (local.get $at)) (local.get $tail)))

  ;; The largest of one field's eight lanes and the tail's maximum (order-free).
  (func $max_field (param $scratch i32) (param $field i32) (param $tail f64) (result f64)
    (local $at i32) (local $v v128)
    (local.set $at (i32.add (local.get $scratch) (local.get $field)))
    (local.set $v (f64x2.pmax (f64x2.pmax (v128.load offset=0 (local.get $at)) (v128.load offset=96 (local.get $at)))
      (f64x2.pmax (v128.load offset=192 (local.get $at)) (v128.load offset=288 (local.get $at)))))
    (f64.max (local.get $tail) (f64.max (f64x2.extract_lane 0 (local.get $v)) (f64x2.extract_lane 1 (local.get $v)))))

  ;; dx = ((x − mu)·b + d) + a·dy for `rows` runs of `len` float32 x and dy (`stride` bytes
  ;; apart), written as float32 (rounded once) or, with $wide, as float64 (runs 2·stride apart).
  (func (export "gradinput_cols") (param $x i32) (param $dy i32) (param $dst i32) (param $rows i32) (param $stride i32) (param $len i32)
    (param $mu f64) (param $a f64) (param $b f64) (param $d f64) (param $wide i32)
    (local $row i32) (local $p i32) (local $q i32) (local $r i32) (local $end4 i32) (local $end i32)
    (local $vm v128) (local $va v128) (local $vb v128) (local $vd v128) (local $vx v128) (local $vy v128) (local $lo v128) (local $hi v128) (local $value f64)
    (local.set $vm (f64x2.splat (local.get $mu)))
    (local.set $va (f64x2.splat (local.get $a)))
    (local.set $vb (f64x2.splat (local.get $b)))
    (local.set $vd (f64x2.splat (local.get $d)))
    (block $rows_done (loop $rows
      (br_if $rows_done (i32.ge_u (local.get $row) (local.get $rows)))
      (local.set $p (local.get $x))
      (local.set $q (local.get $dy))
      (local.set $r (local.get $dst))
      (local.set $end4 (i32.add (local.get $p) (i32.shl (i32.and (local.get $len) (i32.const -4)) (i32.const 2))))
      (local.set $end (i32.add (local.get $p) (i32.shl (local.get $len) (i32.const 2))))
      (block $body_done (loop $body
        (br_if $body_done (i32.ge_u (local.get $p) (local.get $end4)))
        (local.set $vx (v128.load (local.get $p)))
        (local.set $vy (v128.load (local.get $q)))
        (local.set $lo (f64x2.add (f64x2.add (f64x2.mul (f64x2.sub (f64x2.promote_low_f32x4 (local.get $vx)) (local.get $vm)) (local.get $vb)) (local.get $vd))
          (f64x2.mul (local.get $va) (f64x2.promote_low_f32x4 (local.get $vy)))))
        (local.set $hi (f64x2.add (f64x2.add (f64x2.mul (f64x2.sub (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $vx) (local.get $vx))) (local.get $vm)) (local.get $vb)) (local.get $vd))
          (f64x2.mul (local.get $va) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $vy) (local.get $vy))))))
        (if (local.get $wide)
          (then
            (v128.store (local.get $r) (local.get $lo))
            (v128.store offset=16 (local.get $r) (local.get $hi))
            (local.set $r (i32.add (local.get $r) (i32.const 32))))
          (else
            (v128.store (local.get $r) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (f32x4.demote_f64x2_zero (local.get $lo)) (f32x4.demote_f64x2_zero (local.get $hi))))
            (local.set $r (i32.add (local.get $r) (i32.const 16)))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (local.set $q (i32.add (local.get $q) (i32.const 16)))
        (br $body)))
      (block $tail_done (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $value (f64.add (f64.add (f64.mul (f64.sub (f64.promote_f32 (f32.load (local.get $p))) (local.get $mu)) (local.get $b)) (local.get $d))
          (f64.mul (local.get $a) (f64.promote_f32 (f32.load (local.get $q))))))
        (if (local.get $wide)
          (then (f64.store (local.get $r) (local.get $value)) (local.set $r (i32.add (local.get $r) (i32.const 8))))
          (else (f32.store (local.get $r) (f32.demote_f64 (local.get $value))) (local.set $r (i32.add (local.get $r) (i32.const 4)))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (local.set $q (i32.add (local.get $q) (i32.const 4)))
        (br $tail)))
      (local.set $x (i32.add (local.get $x) (local.get $stride)))
      (local.set $dy (i32.add (local.get $dy) (local.get $stride)))
      (local.set $dst (i32.add (local.get $dst) (select (i32.shl (local.get $stride) (i32.const 1)) (local.get $stride) (local.get $wide))))
      (local.set $row (i32.add (local.get $row) (i32.const 1)))
      (br $rows))))

    ;; The addend a·dy of BatchNorm's input gradient (compare-units.ts `addend`): on or off for this call,
  ;; the distance in bytes from x to dy (the same layout), and a.
  (global $addend_on (mut i32) (i32.const 0))
  (global $addend_delta (mut i32) (i32.const 0))
  (global $addend_scale (mut f64) (f64.const 0))
  (global $atol (mut f64) (f64.const 0))
  (global $rtol (mut f64) (f64.const 0))
  (global $equal_nan (mut i32) (i32.const 0))
  (global $record (mut i32) (i32.const 0))
  ;; The unit's histogram (HISTOGRAM_BUCKETS float64 counters), which every channel of the unit adds to.
  (global $histogram (mut i32) (i32.const 0))
  (global $worst (mut i32) (i32.const 0))
  ;; What the scalar path (run tails and groups holding a non-finite value) accumulates.
  (global $max_abs (mut f64) (f64.const 0))
  (global $max_abs_index (mut f64) (f64.const -1))
  (global $max_rel (mut f64) (f64.const 0))
  (global $max_rel_index (mut f64) (f64.const -1))
  (global $max_ulp (mut f64) (f64.const 0))
  (global $max_ulp_index (mut f64) (f64.const -1))
  (global $required_atol (mut f64) (f64.const 0))
  (global $required_rtol (mut f64) (f64.const 0))
  (global $mismatches (mut f64) (f64.const 0))
  (global $non_finite (mut f64) (f64.const 0))
  (global $finite_pairs (mut f64) (f64.const 0))
  (global $tail_sum (mut f64) (f64.const 0))
  ;; The channel's affine constants and error-model coefficients (B = ((b0 + b1·|x|) + b2·|y − offset|) + b3·|y|).
  (global $shift (mut f64) (f64.const 0))
  (global $scale (mut f64) (f64.const 0))
  (global $offset (mut f64) (f64.const 0))
  (global $b0 (mut f64) (f64.const 0))
  (global $b1 (mut f64) (f64.const 0))
  (global $b2 (mut f64) (f64.const 0))
  (global $b3 (mut f64) (f64.const 0))
  (global $flat_mismatches (mut f64) (f64.const 0))
  (global $max_ratio (mut f64) (f64.const 0))
  (global $max_ratio_index (mut f64) (f64.const -1))

  ;; Sign-magnitude float32 bits to an ordinal where adjacent floats differ by one.
  (func $ordinal (param $bits i32) (result f64)
    (local $m i32)
    (local.set $m (i32.shr_s (local.get $bits) (i32.const 31)))
    (f64.convert_i32_s (i32.sub (i32.xor (i32.and (local.get $bits) (i32.const 0x7fffffff)) (local.get $m)) (local.get $m))))

  (func $histogram_add (param $bucket i32)
    (local $at i32)
    (local.set $at (i32.add (global.get $histogram) (i32.shl (local.get $bucket) (i32.const 3))))
    (f64.store (local.get $at) (f64.add (f64.load (local.get $at)) (f64.const 1))))

  ;; Bucket of an exact distance in ulps: 0 for 0, min(25, floor(log2 u) + 1) otherwise. Callers
  ;; pass it saturated to 2^31 - 1 (the bucket is 25 from 2^24 on anyway).
  (func $bucket (param $ulps i32) (result i32)
    (local $b i32)
    (local.set $b (i32.sub (i32.const 32) (i32.clz (local.get $ulps))))
    (select (local.get $b) (i32.const {{LAST_FINITE_BUCKET}}) (i32.lt_u (local.get $b) (i32.const {{LAST_FINITE_BUCKET}}))))

  ;; Inserts (excess, index) into the unit's worst list if it beats the last entry.
  (func $offer_worst (param $excess f64) (param $index f64)
    (local $at i32) (local $previous i32)
    (br_if 0 (i32.eqz (f64.gt (local.get $excess) (f64.load offset={{(WORST_KEPT - 1) * 16}} (global.get $worst)))))
    ;; Slots are 16 bytes; shift down the entries below the new one, from the last slot up.
    (local.set $at (i32.add (global.get $worst) (i32.const {{(WORST_KEPT - 1) * 16}})))
    (block $placed (loop $shift
      (br_if $placed (i32.eq (local.get $at) (global.get $worst)))
      (local.set $previous (i32.sub (local.get $at) (i32.const 16)))
      (br_if $placed (i32.eqz (f64.lt (f64.load (local.get $previous)) (local.get $excess))))
      (f64.store (local.get $at) (f64.load (local.get $previous)))
      (f64.store offset=8 (local.get $at) (f64.load offset=8 (local.get $previous)))
      (local.set $at (local.get $previous))
      (br $shift)))
    (f64.store (local.get $at) (local.get $excess))
    (f64.store offset=8 (local.get $at) (local.get $index)))

  ;; One pair, element by element: the rule exactly as compare-units.ts writes it.
  (func $compare_one (param $x f64) (param $expected f64) (param $expected_bits i32) (param $index f64) (param $to_tail i32) (param $dy f64)
    (local $abs f64) (local $magnitude f64) (local $excess f64) (local $rel f64) (local $ulps f64) (local $needed f64)
    (local $centred f64) (local $actual f64) (local $bound f64) (local $t f64)
    (local.set $centred (f64.mul (f64.sub (local.get $x) (global.get $shift)) (global.get $scale)))
    (local.set $actual (f64.add (local.get $centred) (global.get $offset)))
    (if (global.get $addend_on)
      (then (local.set $actual (f64.add (local.get $actual) (f64.mul (global.get $addend_scale) (local.get $dy))))))
    (if (i32.and (f64.eq (f64.sub (local.get $actual) (local.get $actual)) (f64.const 0))
                 (f64.eq (f64.sub (local.get $expected) (local.get $expected)) (f64.const 0)))
      (then
        (local.set $abs (f64.abs (f64.sub (local.get $actual) (local.get $expected))))
        (local.set $magnitude (f64.abs (local.get $expected)))
        (local.set $excess (f64.sub (local.get $abs) (f64.add (global.get $atol) (f64.mul (global.get $rtol) (local.get $magnitude)))))
        (global.set $finite_pairs (f64.add (global.get $finite_pairs) (f64.const 1)))
        (if (f64.gt (local.get $excess) (f64.const 0))
          (then
            ;; Outside the flat tolerance: the error model's bound may still allow it.
            (global.set $flat_mismatches (f64.add (global.get $flat_mismatches) (f64.const 1)))
            (local.set $bound (f64.add (f64.add (f64.add (global.get $b0)
              (f64.mul (global.get $b1) (f64.abs (local.get $x))))
              (f64.mul (global.get $b2) (f64.abs (local.get $centred))))
              (f64.mul (global.get $b3) (f64.abs (local.get $actual)))))
            (local.set $t (f64.sub (local.get $abs) (local.get $bound)))
            (if (f64.lt (local.get $t) (local.get $excess)) (then (local.set $excess (local.get $t))))
            (local.set $t (f64.div (local.get $abs) (local.get $bound)))
            (if (f64.gt (local.get $t) (global.get $max_ratio))
              (then (global.set $max_ratio (local.get $t)) (global.set $max_ratio_index (local.get $index))))))
        (if (local.get $to_tail) (then (global.set $tail_sum (f64.add (global.get $tail_sum) (local.get $abs)))))
        (if (f64.gt (local.get $abs) (f64.const 0))
          (then
            (if (f64.gt (local.get $abs) (global.get $max_abs))
              (then (global.set $max_abs (local.get $abs)) (global.set $max_abs_index (local.get $index))))
            (local.set $rel (f64.div (local.get $abs) (local.get $magnitude)))
            (if (f64.gt (local.get $rel) (global.get $max_rel))
              (then (global.set $max_rel (local.get $rel)) (global.set $max_rel_index (local.get $index))))
            (local.set $ulps (f64.abs (f64.sub
              (call $ordinal (i32.reinterpret_f32 (f32.demote_f64 (local.get $actual))))
              (call $ordinal (local.get $expected_bits)))))
            (call $histogram_add (call $bucket (i32.trunc_sat_f64_s (local.get $ulps))))
            (if (f64.gt (local.get $ulps) (global.get $max_ulp))
              (then (global.set $max_ulp (local.get $ulps)) (global.set $max_ulp_index (local.get $index))))
            (local.set $needed (f64.sub (local.get $abs) (f64.mul (global.get $rtol) (local.get $magnitude))))
            (if (f64.gt (local.get $needed) (global.get $required_atol)) (then (global.set $required_atol (local.get $needed))))
            (if (f64.gt (local.get $abs) (global.get $atol))
              (then
                (local.set $needed
                  (select (f64.const inf) (f64.div (f64.sub (local.get $abs) (global.get $atol)) (local.get $magnitude))
                    (f64.eq (local.get $magnitude) (f64.const 0))))
                (if (f64.gt (local.get $needed) (global.get $required_rtol)) (then (global.set $required_rtol (local.get $needed))))))
            (if (f64.gt (local.get $excess) (f64.const 0))
              (then (global.set $mismatches (f64.add (global.get $mismatches) (f64.const 1))))))
          (else (call $histogram_add (i32.const 0)))))
      (else
        (if (i32.or
              (i32.or
                (f64.eq (local.get $actual) (local.get $expected))
                (i32.and (global.get $equal_nan)
                  (i32.and (f64.ne (local.get $actual) (local.get $actual)) (f64.ne (local.get $expected) (local.get $expected)))))
              ;; A finite value that overflows to the reference's infinity in float32.
              (i32.and (f64.eq (f64.abs (local.get $expected)) (f64.const inf))
                (f64.eq (f64.promote_f32 (f32.demote_f64 (local.get $actual))) (local.get $expected))))
          (then
            (local.set $excess (f64.const -inf))
            (call $histogram_add (i32.const 0)))
          (else
            (local.set $excess (f64.const inf))
            (global.set $mismatches (f64.add (global.get $mismatches) (f64.const 1)))
            (global.set $flat_mismatches (f64.add (global.get $flat_mismatches) (f64.const 1)))
            (global.set $non_finite (f64.add (global.get $non_finite) (f64.const 1)))
            (call $histogram_add (i32.const {{HISTOGRAM_NONFINITE}}))))))
    (call $offer_worst (local.get $excess) (local.get $index)))

  ;; (value, index) of the better of two maxima: the larger value, on a tie the smaller index >= 0.
  (func $better (param $value f64) (param $index f64) (param $best f64) (param $best_index f64) (result i32)
    (i32.or (f64.gt (local.get $value) (local.get $best))
      (i32.and (f64.eq (local.get $value) (local.get $best))
        (i32.and (f64.ge (local.get $index) (f64.const 0))
          (i32.or (f64.lt (local.get $best_index) (f64.const 0)) (f64.lt (local.get $index) (local.get $best_index)))))))

  ;; Folds the four lanes of a (values, indices) pair of float64x2 maxima into the scalar maximum at
  ;; record fields $field and $field + 1.
  (func $fold_max (param $lo v128) (param $hi v128) (param $lo_index v128) (param $hi_index v128) (param $field i32)
    (local $at i32) (local $v f64) (local $i f64)
    (local.set $at (i32.add (global.get $record) (i32.shl (local.get $field) (i32.const 3))))
    (local.set $v (f64x2.extract_lane 0 (local.get $lo)))
    (local.set $i (f64x2.extract_lane 0 (local.get $lo_index)))
    (if (call $better (local.get $v) (local.get $i) (f64.load (local.get $at)) (f64.load offset=8 (local.get $at)))
      (then (f64.store (local.get $at) (local.get $v)) (f64.store offset=8 (local.get $at) (local.get $i))))
    (local.set $v (f64x2.extract_lane 1 (local.get $lo)))
    (local.set $i (f64x2.extract_lane 1 (local.get $lo_index)))
    (if (call $better (local.get $v) (local.get $i) (f64.load (local.get $at)) (f64.load offset=8 (local.get $at)))
      (then (f64.store (local.get $at) (local.get $v)) (f64.store offset=8 (local.get $at) (local.get $i))))
    (local.set $v (f64x2.extract_lane 0 (local.get $hi)))
    (local.set $i (f64x2.extract_lane 0 (local.get $hi_index)))
    (if (call $better (local.get $v) (local.get $i) (f64.load (local.get $at)) (f64.load offset=8 (local.get $at)))
      (then (f64.store (local.get $at) (local.get $v)) (f64.store offset=8 (local.get $at) (local.get $i))))
    (local.set $v (f64x2.extract_lane 1 (local.get $hi)))
    (local.set $i (f64x2.extract_lane 1 (local.get $hi_index)))
    (if (call $better (local.get $v) (local.get $i) (f64.load (local.get $at)) (f64.load offset=8 (local.get $at)))
      (then (f64.store (local.get $at) (local.get $v)) (f64.store offset=8 (local.get $at) (local.get $i)))))

  ;; A first-sweep lane 16 ulps or more from the reference ($far nonzero): its distance, as the
  ;; detailed loop counts it, its bucket counted in the block's pending buckets; else 0. The pending
  ;; buckets (i32 counters of buckets 0 to LAST_FINITE_BUCKET, {{(LAST_FINITE_BUCKET + 1) * 4}} bytes) live in
  ;; the call's record ({{DIFF_RECORD_SIZE * 8}} bytes), which is written only at the end of the call.
  (func $far_ulps (param $a i32) (param $b i32) (param $far i32) (result f64)
    (local $ulps f64) (local $at i32)
    (if (i32.eqz (local.get $far)) (then (return (f64.const 0))))
    (local.set $ulps (f64.abs (f64.sub (call $ordinal (local.get $a)) (call $ordinal (local.get $b)))))
    (local.set $at (i32.add (global.get $record) (i32.shl (call $bucket (i32.trunc_sat_f64_s (local.get $ulps))) (i32.const 2))))
    (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1)))
    (local.get $ulps))

  ;; Adds the pending buckets to the unit's histogram ($add 1) or drops them ($add 0), and zeroes them.
  (func $pending_flush (param $add i32)
    (local $bucket i32) (local $at i32)
    (block $done (loop $each
      (br_if $done (i32.gt_u (local.get $bucket) (i32.const {{LAST_FINITE_BUCKET}})))
      (local.set $at (i32.add (global.get $record) (i32.shl (local.get $bucket) (i32.const 2))))
      (if (local.get $add)
        (then (call $histogram_add_n (local.get $bucket) (f64.convert_i32_u (i32.load (local.get $at))))))
      (i32.store (local.get $at) (i32.const 0))
      (local.set $bucket (i32.add (local.get $bucket) (i32.const 1)))
      (br $each))))

  (func $histogram_add_n (param $bucket i32) (param $n f64)
    (local $at i32)
    (local.set $at (i32.add (global.get $histogram) (i32.shl (local.get $bucket) (i32.const 3))))
    (f64.store (local.get $at) (f64.add (f64.load (local.get $at)) (local.get $n))))

  ;; The index a first-sweep block left as a marker (-2 - the block's byte offset from the call's first
  ;; value; any other index is returned as it is): the block's first value in `lane` (0..3 within
  ;; each group of four) whose |e| ($rel 0), |e| / |ref| ($rel 1) or distance in ulps ($rel 2) equals $value, computed as the
  ;; loops compute it. Runs (rows) are `stride` bytes apart, `index_stride` elements.
  (func $resolve_max (param $marker f64) (param $value f64) (param $lane i32) (param $rel i32) (param $src i32) (param $ref_delta i32)
    (param $stride i32) (param $len i32) (param $first f64) (param $index_stride f64) (result f64)
    (local $off i32) (local $row i32) (local $row_start i32) (local $end i32) (local $a i32) (local $x f64) (local $e f64) (local $v f64)
    (if (f64.gt (local.get $marker) (f64.const -1.5)) (then (return (local.get $marker))))
    (local.set $off (i32.trunc_f64_u (f64.sub (f64.const -2) (local.get $marker))))
    (local.set $row (i32.div_u (local.get $off) (local.get $stride)))
    (local.set $row_start (i32.mul (local.get $row) (local.get $stride)))
    (local.set $end (i32.add (local.get $row_start) (i32.shl (i32.and (local.get $len) (i32.const -4)) (i32.const 2))))
    (if (i32.lt_u (i32.add (local.get $off) (i32.const {{SWEEP_BLOCK_GROUPS * 16}})) (local.get $end))
      (then (local.set $end (i32.add (local.get $off) (i32.const {{SWEEP_BLOCK_GROUPS * 16}})))))
    (local.set $a (i32.add (local.get $off) (i32.shl (local.get $lane) (i32.const 2))))
    (block $found (loop $scan
      (br_if $found (i32.ge_u (local.get $a) (local.get $end)))
      (local.set $x (f64.promote_f32 (f32.load (i32.add (local.get $src) (local.get $a)))))
      (local.set $e (f64.promote_f32 (f32.load (i32.add (i32.add (local.get $src) (local.get $ref_delta)) (local.get $a)))))
      (local.set $v (f64.abs (f64.sub (f64.add (f64.mul (f64.sub (local.get $x) (global.get $shift)) (global.get $scale)) (global.get $offset)) (local.get $e))))
      (if (i32.eq (local.get $rel) (i32.const 1)) (then (local.set $v (f64.div (local.get $v) (f64.abs (local.get $e))))))
      (if (i32.eq (local.get $rel) (i32.const 2))
        (then (local.set $v (f64.abs (f64.sub
          (call $ordinal (i32.reinterpret_f32 (f32.demote_f64 (f64.add (f64.mul (f64.sub (local.get $x) (global.get $shift)) (global.get $scale)) (global.get $offset)))))
          (call $ordinal (i32.load (i32.add (i32.add (local.get $src) (local.get $ref_delta)) (local.get $a)))))))))
      (if (f64.eq (local.get $v) (local.get $value))
        (then (return (f64.add (f64.add (local.get $first) (f64.mul (f64.convert_i32_u (local.get $row)) (local.get $index_stride)))
          (f64.convert_i32_u (i32.shr_u (i32.sub (local.get $a) (local.get $row_start)) (i32.const 2)))))))
      (local.set $a (i32.add (local.get $a) (i32.const 16)))
      (br $scan)))
    (unreachable))

  ;; The first sweep. A tensor that conforms changes few statistics after its first values: every
  ;; value is finite, within its flat tolerance and atol, a few ulps from the reference. For
  ;; channels-first runs without an addend, compare_cols takes each run in blocks of
  ;; SWEEP_BLOCK_GROUPS groups of four and first sweeps a block computing what every value needs
  ;; anyway (y, |e|, the sum lanes, the required atol, the small histogram buckets) and, for the rest,
  ;; only block maxima: of the excess, of |e|, of |e| / |ref|, of the ulps. The block is then done
  ;; when those show that no value is non-finite (the sum lanes stay finite), outside its flat
  ;; tolerance, above atol, 16 ulps or more away or a new ulp maximum of its lane: the worst list is
  ;; offered the block's values in order when its largest excess beats the list's last entry, and a
  ;; raised maximum of |e| or of the relative error takes the block's maximum, with a marker for its
  ;; index that $resolve_max turns into the first such value's index at the end. Any other block
  ;; goes back to its start (sum lanes, required atol) and runs through the detailed loop below.
  ;; Either way every statistic, the record and the worst list are those of the detailed loop alone.

  ;; Compares one channel of a unit: `rows` runs of `len` values, `stride` bytes (and `index_stride`
  ;; elements) apart, the first at flat index `first_index`; writes the channel's record at $record.
  ;; Within a run, values are `step` bytes (`index_step` elements) apart: 4 and 1 for channels-first
  ;; data; for channels-last data (one value per row) the channel's column is one run, read with a
  ;; gather (step = 4 × channels).
  (func $compare_cols (param $src i32) (param $ref i32) (param $rows i32) (param $stride i32) (param $len i32)
    (param $step i32) (param $index_step f64)
    (param $first_index f64) (param $index_stride f64) (param $shift f64) (param $scale f64) (param $offset f64)
    (param $atol_in f64) (param $rtol_in f64) (param $equal_nan_in i32)
    (param $b0_in f64) (param $b1_in f64) (param $b2_in f64) (param $b3_in f64) (param $record_in i32) (param $worst_in i32) (param $histogram_in i32)
    (param $addend_in i32) (param $addend_scale_in f64)
    (local $row i32) (local $p i32) (local $q i32) (local $end4 i32) (local $end i32) (local $index f64) (local $k i32)
    (local $sh v128) (local $sc v128) (local $of v128) (local $atol_v v128) (local $rtol_v v128) (local $zero v128)
    (local $x v128) (local $r v128) (local $alo v128) (local $ahi v128) (local $elo v128) (local $ehi v128)
    (local $abs_lo v128) (local $abs_hi v128) (local $mag_lo v128) (local $mag_hi v128) (local $fin_lo v128) (local $fin_hi v128)
    (local $ex_lo v128) (local $ex_hi v128) (local $t v128) (local $gt v128)
    (local $idx_lo v128) (local $idx_hi v128) (local $four v128) (local $group i32)
    (local $sum_lo v128) (local $sum_hi v128) (local $mism v128)
    (local $max_abs_lo v128) (local $max_abs_hi v128) (local $max_abs_ilo v128) (local $max_abs_ihi v128)
    (local $max_rel_lo v128) (local $max_rel_hi v128) (local $max_rel_ilo v128) (local $max_rel_ihi v128)
    (local $max_ulp_lo v128) (local $max_ulp_hi v128) (local $max_ulp_ilo v128) (local $max_ulp_ihi v128)
    (local $req_atol v128) (local $req_rtol v128) (local $ulp_lo v128) (local $ulp_hi v128) (local $ulp_i v128)
    (local $bits v128) (local $m v128) (local $ord_a v128) (local $ord_r v128)
    (local $fast f64) (local $at i32) (local $threshold v128) (local $minus_one v128) (local $shrink v128)
    (local $xlo v128) (local $xhi v128) (local $dlo v128) (local $dhi v128) (local $out_lo v128) (local $out_hi v128)
    (local $flat_mism v128) (local $b0v v128) (local $b1v v128) (local $b2v v128) (local $b3v v128)
    (local $max_ratio_lo v128) (local $max_ratio_hi v128) (local $max_ratio_ilo v128) (local $max_ratio_ihi v128)
    (local $g v128) (local $glo v128) (local $ghi v128) (local $asc v128)
    (local $small i32) (local $ge1 v128) (local $ge2 v128) (local $ge4 v128) (local $ge8 v128) (local $n1 i32) (local $n2 i32) (local $n4 i32) (local $n8 i32)
    (local $bend i32) (local $fp i32) (local $fq i32) (local $groups i32) (local $sweep i32)
    (local $save_lo v128) (local $save_hi v128) (local $save_req v128) (local $ex_max_lo v128) (local $ex_max_hi v128)
    (local $abs_max_lo v128) (local $abs_max_hi v128) (local $u v128) (local $u_max v128)
    (local $counts v128) (local $rm_lo v128) (local $rm_hi v128) (local $rel_max_lo v128) (local $rel_max_hi v128)
    (local $sweep_now i32) (local $src0 i32) (local $ref_delta i32) (local $first0 f64)
    (local $big v128) (local $nbig v128) (local $uc v128) (local $save_ulp_lo v128) (local $save_ulp_hi v128) (local $save_ulp_ilo v128) (local $save_ulp_ihi v128)
    (global.set $atol (local.get $atol_in))
    (global.set $rtol (local.get $rtol_in))
    (global.set $equal_nan (local.get $equal_nan_in))
    (global.set $record (local.get $record_in))
    (global.set $histogram (local.get $histogram_in))
    (global.set $worst (local.get $worst_in))
    ;; dy lies at x + delta throughout (x and dy share the layout); delta 0 (dy := x, unused) when off.
    (global.set $addend_on (i32.ne (local.get $addend_in) (i32.const 0)))
    (global.set $addend_delta (select (i32.sub (local.get $addend_in) (local.get $src)) (i32.const 0) (global.get $addend_on)))
    (global.set $addend_scale (local.get $addend_scale_in))
    (local.set $asc (f64x2.splat (local.get $addend_scale_in)))
    (global.set $max_abs (f64.const 0)) (global.set $max_abs_index (f64.const -1))
    (global.set $max_rel (f64.const 0)) (global.set $max_rel_index (f64.const -1))
    (global.set $max_ulp (f64.const 0)) (global.set $max_ulp_index (f64.const -1))
    (global.set $required_atol (f64.const 0)) (global.set $required_rtol (f64.const 0))
    (global.set $mismatches (f64.const 0)) (global.set $non_finite (f64.const 0))
    (global.set $finite_pairs (f64.const 0)) (global.set $tail_sum (f64.const 0))
    (global.set $shift (local.get $shift)) (global.set $scale (local.get $scale)) (global.set $offset (local.get $offset))
    (global.set $b0 (local.get $b0_in)) (global.set $b1 (local.get $b1_in)) (global.set $b2 (local.get $b2_in)) (global.set $b3 (local.get $b3_in))
    (global.set $flat_mismatches (f64.const 0)) (global.set $max_ratio (f64.const 0)) (global.set $max_ratio_index (f64.const -1))
    ;; The histogram is the unit's: the caller zeroes it once per unit, every channel adds to it.
    (local.set $sh (f64x2.splat (local.get $shift)))
    (local.set $sc (f64x2.splat (local.get $scale)))
    (local.set $of (f64x2.splat (local.get $offset)))
    (local.set $atol_v (f64x2.splat (local.get $atol_in)))
    (local.set $rtol_v (f64x2.splat (local.get $rtol_in)))
    (local.set $four (f64x2.splat (f64.mul (local.get $index_step) (f64.const 4))))
    (local.set $group (i32.shl (local.get $step) (i32.const 2)))
    (local.set $minus_one (f64x2.splat (f64.const -1)))
    (local.set $shrink (f64x2.splat (f64.const 0x1.ffffffffffffcp-1))) ;; 1 − 2^-50
    (local.set $max_abs_ilo (local.get $minus_one)) (local.set $max_abs_ihi (local.get $minus_one))
    (local.set $max_rel_ilo (local.get $minus_one)) (local.set $max_rel_ihi (local.get $minus_one))
    (local.set $max_ulp_ilo (local.get $minus_one)) (local.set $max_ulp_ihi (local.get $minus_one))
    (local.set $max_ratio_ilo (local.get $minus_one)) (local.set $max_ratio_ihi (local.get $minus_one))
    (local.set $b0v (f64x2.splat (local.get $b0_in)))
    (local.set $b1v (f64x2.splat (local.get $b1_in)))
    (local.set $b2v (f64x2.splat (local.get $b2_in)))
    (local.set $b3v (f64x2.splat (local.get $b3_in)))
    (local.set $threshold (f64x2.splat (f64.load offset={{(WORST_KEPT - 1) * 16}} (local.get $worst_in))))
    ;; The first sweep (see $sweep_block) runs over contiguous channels-first runs without an addend.
    (local.set $sweep (i32.and (i32.eq (local.get $step) (i32.const 4)) (i32.eqz (global.get $addend_on))))
    (if (local.get $sweep) (then (call $pending_flush (i32.const 0))))
    (local.set $src0 (local.get $src))
    (local.set $ref_delta (i32.sub (local.get $ref) (local.get $src)))
    (local.set $first0 (local.get $first_index))
    (local.set $index (local.get $first_index))
    (block $rows_done (loop $rows
      (br_if $rows_done (i32.ge_u (local.get $row) (local.get $rows)))
      (local.set $p (local.get $src))
      (local.set $q (local.get $ref))
      (local.set $end4 (i32.add (local.get $p) (i32.mul (i32.and (local.get $len) (i32.const -4)) (local.get $step))))
      (local.set $end (i32.add (local.get $p) (i32.mul (local.get $len) (local.get $step))))
      (local.set $idx_lo (f64x2.replace_lane 1 (f64x2.splat (local.get $index)) (f64.add (local.get $index) (local.get $index_step))))
      (local.set $idx_hi (f64x2.add (local.get $idx_lo) (f64x2.splat (f64.mul (local.get $index_step) (f64.const 2)))))
      (block $blocks_done (loop $blocks
        (br_if $blocks_done (i32.ge_u (local.get $p) (local.get $end4)))
        ;; Blocks of SWEEP_BLOCK_GROUPS groups for the first sweep; without it, the rest of the run.
        ;; The sweep runs while no value has exceeded atol (required rtol still 0), as in a tensor that
        ;; conforms: its check of the required rtol is then that no |e| exceeds atol.
        (local.set $sweep_now (i32.and (local.get $sweep) (i64x2.all_true (f64x2.eq (local.get $req_rtol) (local.get $zero)))))
        (local.set $bend (select (local.get $end4) (i32.add (local.get $p) (i32.const {{SWEEP_BLOCK_GROUPS * 16}}))
          (i32.or (i32.eqz (local.get $sweep_now)) (i32.le_u (i32.sub (local.get $end4) (local.get $p)) (i32.const {{SWEEP_BLOCK_GROUPS * 16}})))))
        ;; First sweep over a block of groups (see "The first sweep" above compare_cols).
        (if (local.get $sweep_now)
          (then
            (local.set $save_lo (local.get $sum_lo))
            (local.set $save_hi (local.get $sum_hi))
            (local.set $save_req (local.get $req_atol))
            (local.set $save_ulp_lo (local.get $max_ulp_lo))
            (local.set $save_ulp_hi (local.get $max_ulp_hi))
            (local.set $save_ulp_ilo (local.get $max_ulp_ilo))
            (local.set $save_ulp_ihi (local.get $max_ulp_ihi))
            (local.set $nbig (local.get $zero))
            (local.set $ex_max_lo (f64x2.splat (f64.const -inf)))
            (local.set $ex_max_hi (local.get $ex_max_lo))
            (local.set $abs_max_lo (local.get $zero))
            (local.set $abs_max_hi (local.get $zero))
            (local.set $rel_max_lo (local.get $zero))
            (local.set $rel_max_hi (local.get $zero))
            (local.set $u_max (local.get $zero))
            (local.set $counts (local.get $zero))
            (local.set $fp (local.get $p))
            (local.set $fq (local.get $q))
            (block $sweep_done (loop $sweep_group
              (br_if $sweep_done (i32.ge_u (local.get $fp) (local.get $bend)))
              (local.set $x (v128.load (local.get $fp)))
              (local.set $r (v128.load (local.get $fq)))
              (local.set $xlo (f64x2.promote_low_f32x4 (local.get $x)))
              (local.set $xhi (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x))))
              (local.set $alo (f64x2.add (f64x2.mul (f64x2.sub (local.get $xlo) (local.get $sh)) (local.get $sc)) (local.get $of)))
              (local.set $ahi (f64x2.add (f64x2.mul (f64x2.sub (local.get $xhi) (local.get $sh)) (local.get $sc)) (local.get $of)))
              (local.set $elo (f64x2.promote_low_f32x4 (local.get $r)))
              (local.set $ehi (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $r) (local.get $r))))
              (local.set $abs_lo (f64x2.abs (f64x2.sub (local.get $alo) (local.get $elo))))
              (local.set $abs_hi (f64x2.abs (f64x2.sub (local.get $ahi) (local.get $ehi))))
              (local.set $sum_lo (f64x2.add (local.get $sum_lo) (local.get $abs_lo)))
              (local.set $sum_hi (f64x2.add (local.get $sum_hi) (local.get $abs_hi)))
              (local.set $mag_lo (f64x2.abs (local.get $elo)))
              (local.set $mag_hi (f64x2.abs (local.get $ehi)))
              (local.set $rm_lo (f64x2.mul (local.get $rtol_v) (local.get $mag_lo)))
              (local.set $rm_hi (f64x2.mul (local.get $rtol_v) (local.get $mag_hi)))
              (local.set $ex_max_lo (f64x2.pmax (local.get $ex_max_lo) (f64x2.sub (local.get $abs_lo) (f64x2.add (local.get $atol_v) (local.get $rm_lo)))))
              (local.set $ex_max_hi (f64x2.pmax (local.get $ex_max_hi) (f64x2.sub (local.get $abs_hi) (f64x2.add (local.get $atol_v) (local.get $rm_hi)))))
              (local.set $req_atol (f64x2.pmax (local.get $req_atol) (f64x2.sub (local.get $abs_lo) (local.get $rm_lo))))
              (local.set $req_atol (f64x2.pmax (local.get $req_atol) (f64x2.sub (local.get $abs_hi) (local.get $rm_hi))))
              ;; Per-lane maxima of |e| and of |e| / |ref| (pmax: a NaN quotient, 0/0, is never a maximum).
              (local.set $abs_max_lo (f64x2.pmax (local.get $abs_max_lo) (local.get $abs_lo)))
              (local.set $abs_max_hi (f64x2.pmax (local.get $abs_max_hi) (local.get $abs_hi)))
              (local.set $rel_max_lo (f64x2.pmax (local.get $rel_max_lo) (f64x2.div (local.get $abs_lo) (local.get $mag_lo))))
              (local.set $rel_max_hi (f64x2.pmax (local.get $rel_max_hi) (f64x2.div (local.get $abs_hi) (local.get $mag_hi))))
              ;; Ulps as the difference of the bit patterns: the distance when the signs agree (else see
              ;; below).
              (local.set $bits (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
                (f32x4.demote_f64x2_zero (local.get $alo)) (f32x4.demote_f64x2_zero (local.get $ahi))))
              (local.set $u (i32x4.abs (i32x4.sub (local.get $bits) (local.get $r))))
              (local.set $big (i32x4.gt_u (local.get $u) (v128.const i32x4 15 15 15 15)))
              (local.set $uc (v128.andnot (local.get $u) (local.get $big)))
              (local.set $u_max (i32x4.max_u (local.get $u_max) (local.get $uc)))
              ;; Values >= 1, 2, 4 and 8 ulps counted in the four bytes of each lane (a block has at
              ;; most 255 groups).
              (local.set $counts (i8x16.sub (local.get $counts) (i8x16.gt_u
                (i8x16.swizzle (local.get $uc) (v128.const i8x16 0 0 0 0 4 4 4 4 8 8 8 8 12 12 12 12))
                (v128.const i8x16 0 1 3 7 0 1 3 7 0 1 3 7 0 1 3 7))))
              ;; 16 ulps or more, or a sign change (then bit 31 is set or the difference exceeds 2^23):
              ;; left out of the counts above (0 in $uc), the distance taken from the ordinals as the
              ;; detailed loop does, counted in the block's pending buckets and in the lane's maximum.
              (if (v128.any_true (local.get $big))
                (then
                  (local.set $nbig (i32x4.sub (local.get $nbig) (local.get $big)))
                  (local.set $ulp_lo (f64x2.replace_lane 1 (f64x2.splat
                    (call $far_ulps (i32x4.extract_lane 0 (local.get $bits)) (i32x4.extract_lane 0 (local.get $r)) (i32x4.extract_lane 0 (local.get $big))))
                    (call $far_ulps (i32x4.extract_lane 1 (local.get $bits)) (i32x4.extract_lane 1 (local.get $r)) (i32x4.extract_lane 1 (local.get $big)))))
                  (local.set $ulp_hi (f64x2.replace_lane 1 (f64x2.splat
                    (call $far_ulps (i32x4.extract_lane 2 (local.get $bits)) (i32x4.extract_lane 2 (local.get $r)) (i32x4.extract_lane 2 (local.get $big))))
                    (call $far_ulps (i32x4.extract_lane 3 (local.get $bits)) (i32x4.extract_lane 3 (local.get $r)) (i32x4.extract_lane 3 (local.get $big)))))
                  (local.set $t (f64x2.mul (local.get $four) (f64x2.splat (f64.convert_i32_u (i32.shr_u (i32.sub (local.get $fp) (local.get $p)) (i32.const 4))))))
                  (local.set $gt (f64x2.gt (local.get $ulp_lo) (local.get $max_ulp_lo)))
                  (local.set $max_ulp_lo (v128.bitselect (local.get $ulp_lo) (local.get $max_ulp_lo) (local.get $gt)))
                  (local.set $max_ulp_ilo (v128.bitselect (f64x2.add (local.get $idx_lo) (local.get $t)) (local.get $max_ulp_ilo) (local.get $gt)))
                  (local.set $gt (f64x2.gt (local.get $ulp_hi) (local.get $max_ulp_hi)))
                  (local.set $max_ulp_hi (v128.bitselect (local.get $ulp_hi) (local.get $max_ulp_hi) (local.get $gt)))
                  (local.set $max_ulp_ihi (v128.bitselect (f64x2.add (local.get $idx_hi) (local.get $t)) (local.get $max_ulp_ihi) (local.get $gt)))))
              (local.set $fp (i32.add (local.get $fp) (i32.const 16)))
              (local.set $fq (i32.add (local.get $fq) (i32.const 16)))
              (br $sweep_group)))
            (if (i32.and
                  (i64x2.all_true (v128.and
                    (f64x2.eq (f64x2.sub (local.get $sum_lo) (local.get $sum_lo)) (local.get $zero))
                    (f64x2.eq (f64x2.sub (local.get $sum_hi) (local.get $sum_hi)) (local.get $zero))))
                  (i32.eqz (v128.any_true (v128.or (v128.or
                    (v128.or (f64x2.gt (local.get $ex_max_lo) (local.get $zero)) (f64x2.gt (local.get $ex_max_hi) (local.get $zero)))
                    (v128.or (f64x2.gt (local.get $abs_max_lo) (local.get $atol_v)) (f64x2.gt (local.get $abs_max_hi) (local.get $atol_v))))
                    (local.get $zero)))))
              (then
                ;; The block is done but for what needs an element's index.
                (local.set $groups (i32.shr_u (i32.sub (local.get $bend) (local.get $p)) (i32.const 4)))
                ;; The worst list: the block's values offered in order, as the detailed loop does, when
                ;; its largest excess beats the list's last entry.
                (if (v128.any_true (v128.or (f64x2.gt (local.get $ex_max_lo) (local.get $threshold)) (f64x2.gt (local.get $ex_max_hi) (local.get $threshold))))
                  (then
                    (local.set $fp (local.get $p))
                    (local.set $fq (local.get $q))
                    (local.set $t (local.get $idx_lo))
                    (local.set $g (local.get $idx_hi))
                    (block $offer_done (loop $offer_group
                      (br_if $offer_done (i32.ge_u (local.get $fp) (local.get $bend)))
                      (local.set $x (v128.load (local.get $fp)))
                      (local.set $r (v128.load (local.get $fq)))
                      (local.set $elo (f64x2.promote_low_f32x4 (local.get $r)))
                      (local.set $ehi (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $r) (local.get $r))))
                      (local.set $ex_lo (f64x2.sub
                        (f64x2.abs (f64x2.sub (f64x2.add (f64x2.mul (f64x2.sub (f64x2.promote_low_f32x4 (local.get $x)) (local.get $sh)) (local.get $sc)) (local.get $of)) (local.get $elo)))
                        (f64x2.add (local.get $atol_v) (f64x2.mul (local.get $rtol_v) (f64x2.abs (local.get $elo))))))
                      (local.set $ex_hi (f64x2.sub
                        (f64x2.abs (f64x2.sub (f64x2.add (f64x2.mul (f64x2.sub
                          (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x))) (local.get $sh)) (local.get $sc)) (local.get $of)) (local.get $ehi)))
                        (f64x2.add (local.get $atol_v) (f64x2.mul (local.get $rtol_v) (f64x2.abs (local.get $ehi))))))
                      (if (v128.any_true (v128.or (f64x2.gt (local.get $ex_lo) (local.get $threshold)) (f64x2.gt (local.get $ex_hi) (local.get $threshold))))
                        (then
                          (call $offer_worst (f64x2.extract_lane 0 (local.get $ex_lo)) (f64x2.extract_lane 0 (local.get $t)))
                          (call $offer_worst (f64x2.extract_lane 1 (local.get $ex_lo)) (f64x2.extract_lane 1 (local.get $t)))
                          (call $offer_worst (f64x2.extract_lane 0 (local.get $ex_hi)) (f64x2.extract_lane 0 (local.get $g)))
                          (call $offer_worst (f64x2.extract_lane 1 (local.get $ex_hi)) (f64x2.extract_lane 1 (local.get $g)))
                          (local.set $threshold (f64x2.splat (f64.load offset={{(WORST_KEPT - 1) * 16}} (local.get $worst_in))))))
                      (local.set $t (f64x2.add (local.get $t) (local.get $four)))
                      (local.set $g (f64x2.add (local.get $g) (local.get $four)))
                      (local.set $fp (i32.add (local.get $fp) (i32.const 16)))
                      (local.set $fq (i32.add (local.get $fq) (i32.const 16)))
                      (br $offer_group)))))
                ;; Maxima of |e| and of the relative error that the block raises: the value now, the
                ;; index later ($resolve_max finds the block's first value equal to it in that lane).
                (local.set $m (f64x2.splat (f64.sub (f64.const -2) (f64.convert_i32_u (i32.sub (local.get $p) (local.get $src0))))))
                (local.set $gt (f64x2.gt (local.get $abs_max_lo) (local.get $max_abs_lo)))
                (local.set $max_abs_lo (v128.bitselect (local.get $abs_max_lo) (local.get $max_abs_lo) (local.get $gt)))
                (local.set $max_abs_ilo (v128.bitselect (local.get $m) (local.get $max_abs_ilo) (local.get $gt)))
                (local.set $gt (f64x2.gt (local.get $abs_max_hi) (local.get $max_abs_hi)))
                (local.set $max_abs_hi (v128.bitselect (local.get $abs_max_hi) (local.get $max_abs_hi) (local.get $gt)))
                (local.set $max_abs_ihi (v128.bitselect (local.get $m) (local.get $max_abs_ihi) (local.get $gt)))
                (local.set $gt (f64x2.gt (local.get $rel_max_lo) (local.get $max_rel_lo)))
                (local.set $max_rel_lo (v128.bitselect (local.get $rel_max_lo) (local.get $max_rel_lo) (local.get $gt)))
                (local.set $max_rel_ilo (v128.bitselect (local.get $m) (local.get $max_rel_ilo) (local.get $gt)))
                (local.set $gt (f64x2.gt (local.get $rel_max_hi) (local.get $max_rel_hi)))
                (local.set $max_rel_hi (v128.bitselect (local.get $rel_max_hi) (local.get $max_rel_hi) (local.get $gt)))
                (local.set $max_rel_ihi (v128.bitselect (local.get $m) (local.get $max_rel_ihi) (local.get $gt)))
                ;; Ulps below 16 likewise (a lane's larger distances set its maximum, with their index, above).
                (local.set $ulp_lo (f64x2.convert_low_i32x4_u (local.get $u_max)))
                (local.set $ulp_hi (f64x2.convert_low_i32x4_u (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $u_max) (local.get $u_max))))
                (local.set $gt (f64x2.gt (local.get $ulp_lo) (local.get $max_ulp_lo)))
                (local.set $max_ulp_lo (v128.bitselect (local.get $ulp_lo) (local.get $max_ulp_lo) (local.get $gt)))
                (local.set $max_ulp_ilo (v128.bitselect (local.get $m) (local.get $max_ulp_ilo) (local.get $gt)))
                (local.set $gt (f64x2.gt (local.get $ulp_hi) (local.get $max_ulp_hi)))
                (local.set $max_ulp_hi (v128.bitselect (local.get $ulp_hi) (local.get $max_ulp_hi) (local.get $gt)))
                (local.set $max_ulp_ihi (v128.bitselect (local.get $m) (local.get $max_ulp_ihi) (local.get $gt)))
                (local.set $t (f64x2.mul (local.get $four) (f64x2.splat (f64.convert_i32_u (local.get $groups)))))
                (local.set $idx_lo (f64x2.add (local.get $idx_lo) (local.get $t)))
                (local.set $idx_hi (f64x2.add (local.get $idx_hi) (local.get $t)))
                (local.set $fast (f64.add (local.get $fast) (f64.convert_i32_u (i32.shl (local.get $groups) (i32.const 2)))))
                (local.set $small (i32.add (local.get $small) (i32.shl (local.get $groups) (i32.const 2))))
                (if (v128.any_true (local.get $nbig))
                  (then
                    (local.set $small (i32.sub (local.get $small) (i32.add
                      (i32.add (i32x4.extract_lane 0 (local.get $nbig)) (i32x4.extract_lane 1 (local.get $nbig)))
                      (i32.add (i32x4.extract_lane 2 (local.get $nbig)) (i32x4.extract_lane 3 (local.get $nbig))))))
                    (call $pending_flush (i32.const 1))))
                (local.set $ge1 (i32x4.add (local.get $ge1) (v128.and (local.get $counts) (v128.const i32x4 0xff 0xff 0xff 0xff))))
                (local.set $ge2 (i32x4.add (local.get $ge2) (v128.and (i32x4.shr_u (local.get $counts) (i32.const 8)) (v128.const i32x4 0xff 0xff 0xff 0xff))))
                (local.set $ge4 (i32x4.add (local.get $ge4) (v128.and (i32x4.shr_u (local.get $counts) (i32.const 16)) (v128.const i32x4 0xff 0xff 0xff 0xff))))
                (local.set $ge8 (i32x4.add (local.get $ge8) (i32x4.shr_u (local.get $counts) (i32.const 24))))
                (local.set $q (i32.add (local.get $q) (i32.sub (local.get $bend) (local.get $p))))
                (local.set $p (local.get $bend))
                (br $blocks)))
            (local.set $sum_lo (local.get $save_lo))
            (local.set $sum_hi (local.get $save_hi))
            (local.set $req_atol (local.get $save_req))
            (local.set $max_ulp_lo (local.get $save_ulp_lo))
            (local.set $max_ulp_hi (local.get $save_ulp_hi))
            (local.set $max_ulp_ilo (local.get $save_ulp_ilo))
            (local.set $max_ulp_ihi (local.get $save_ulp_ihi))
            (if (v128.any_true (local.get $nbig)) (then (call $pending_flush (i32.const 0))))))
      (block $body_done (loop $body
        (br_if $body_done (i32.ge_u (local.get $p) (local.get $bend)))
        (if (i32.eq (local.get $step) (i32.const 4))
          (then
            (local.set $x (v128.load (local.get $p)))
            (local.set $r (v128.load (local.get $q))))
          (else
            ;; Four values `step` bytes apart; the reference as integer lanes, so its bits are kept.
            (local.set $x (f32x4.replace_lane 3 (f32x4.replace_lane 2 (f32x4.replace_lane 1
              (f32x4.splat (f32.load (local.get $p)))
              (f32.load (i32.add (local.get $p) (local.get $step))))
              (f32.load (i32.add (local.get $p) (i32.shl (local.get $step) (i32.const 1)))))
              (f32.load (i32.add (local.get $p) (i32.mul (local.get $step) (i32.const 3))))))
            (local.set $r (i32x4.replace_lane 3 (i32x4.replace_lane 2 (i32x4.replace_lane 1
              (i32x4.splat (i32.load (local.get $q)))
              (i32.load (i32.add (local.get $q) (local.get $step))))
              (i32.load (i32.add (local.get $q) (i32.shl (local.get $step) (i32.const 1)))))
              (i32.load (i32.add (local.get $q) (i32.mul (local.get $step) (i32.const 3))))))))
        (local.set $xlo (f64x2.promote_low_f32x4 (local.get $x)))
        (local.set $xhi (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x))))
        (local.set $dlo (f64x2.mul (f64x2.sub (local.get $xlo) (local.get $sh)) (local.get $sc)))
        (local.set $dhi (f64x2.mul (f64x2.sub (local.get $xhi) (local.get $sh)) (local.get $sc)))
        (local.set $alo (f64x2.add (local.get $dlo) (local.get $of)))
        (local.set $ahi (f64x2.add (local.get $dhi) (local.get $of)))
        (if (global.get $addend_on)
          (then
            (if (i32.eq (local.get $step) (i32.const 4))
              (then (local.set $g (v128.load (i32.add (local.get $p) (global.get $addend_delta)))))
              (else
                (local.set $at (i32.add (local.get $p) (global.get $addend_delta)))
                (local.set $g (f32x4.replace_lane 3 (f32x4.replace_lane 2 (f32x4.replace_lane 1
                  (f32x4.splat (f32.load (local.get $at)))
                  (f32.load (i32.add (local.get $at) (local.get $step))))
                  (f32.load (i32.add (local.get $at) (i32.shl (local.get $step) (i32.const 1)))))
                  (f32.load (i32.add (local.get $at) (i32.mul (local.get $step) (i32.const 3))))))))
            (local.set $glo (f64x2.promote_low_f32x4 (local.get $g)))
            (local.set $ghi (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $g) (local.get $g))))
            (local.set $alo (f64x2.add (local.get $alo) (f64x2.mul (local.get $asc) (local.get $glo))))
            (local.set $ahi (f64x2.add (local.get $ahi) (f64x2.mul (local.get $asc) (local.get $ghi))))))
        (local.set $elo (f64x2.promote_low_f32x4 (local.get $r)))
        (local.set $ehi (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $r) (local.get $r))))
        (local.set $fin_lo (v128.and
          (f64x2.eq (f64x2.sub (local.get $alo) (local.get $alo)) (local.get $zero))
          (f64x2.eq (f64x2.sub (local.get $elo) (local.get $elo)) (local.get $zero))))
        (local.set $fin_hi (v128.and
          (f64x2.eq (f64x2.sub (local.get $ahi) (local.get $ahi)) (local.get $zero))
          (f64x2.eq (f64x2.sub (local.get $ehi) (local.get $ehi)) (local.get $zero))))
        (local.set $abs_lo (f64x2.abs (f64x2.sub (local.get $alo) (local.get $elo))))
        (local.set $abs_hi (f64x2.abs (f64x2.sub (local.get $ahi) (local.get $ehi))))
        ;; Lanes of the sum of absolute errors: a non-finite pair adds +0 (nothing).
        (local.set $sum_lo (f64x2.add (local.get $sum_lo) (v128.and (local.get $abs_lo) (local.get $fin_lo))))
        (local.set $sum_hi (f64x2.add (local.get $sum_hi) (v128.and (local.get $abs_hi) (local.get $fin_hi))))
        (if (i64x2.all_true (v128.and (local.get $fin_lo) (local.get $fin_hi)))
          (then
            (local.set $fast (f64.add (local.get $fast) (f64.const 4)))
            (local.set $mag_lo (f64x2.abs (local.get $elo)))
            (local.set $mag_hi (f64x2.abs (local.get $ehi)))
            (local.set $ex_lo (f64x2.sub (local.get $abs_lo) (f64x2.add (local.get $atol_v) (f64x2.mul (local.get $rtol_v) (local.get $mag_lo)))))
            (local.set $ex_hi (f64x2.sub (local.get $abs_hi) (f64x2.add (local.get $atol_v) (f64x2.mul (local.get $rtol_v) (local.get $mag_hi)))))
            ;; Lanes outside the flat tolerance (rare in a well-conditioned tensor): their bound B.
            (local.set $out_lo (f64x2.gt (local.get $ex_lo) (local.get $zero)))
            (local.set $out_hi (f64x2.gt (local.get $ex_hi) (local.get $zero)))
            (if (v128.any_true (v128.or (local.get $out_lo) (local.get $out_hi)))
              (then
                (local.set $flat_mism (i64x2.sub (i64x2.sub (local.get $flat_mism) (local.get $out_lo)) (local.get $out_hi)))
                ;; B = ((b0 + b1·|x|) + b2·|d|) + b3·|y|; t = |e| − B replaces the excess where smaller.
                (local.set $t (f64x2.add (f64x2.add (f64x2.add (local.get $b0v)
                  (f64x2.mul (local.get $b1v) (f64x2.abs (local.get $xlo))))
                  (f64x2.mul (local.get $b2v) (f64x2.abs (local.get $dlo))))
                  (f64x2.mul (local.get $b3v) (f64x2.abs (local.get $alo)))))
                (local.set $m (f64x2.sub (local.get $abs_lo) (local.get $t)))
                (local.set $ex_lo (v128.bitselect (local.get $m) (local.get $ex_lo) (v128.and (local.get $out_lo) (f64x2.lt (local.get $m) (local.get $ex_lo)))))
                (local.set $m (v128.and (f64x2.div (local.get $abs_lo) (local.get $t)) (local.get $out_lo)))
                (local.set $gt (f64x2.gt (local.get $m) (local.get $max_ratio_lo)))
                (local.set $max_ratio_lo (v128.bitselect (local.get $m) (local.get $max_ratio_lo) (local.get $gt)))
                (local.set $max_ratio_ilo (v128.bitselect (local.get $idx_lo) (local.get $max_ratio_ilo) (local.get $gt)))
                (local.set $t (f64x2.add (f64x2.add (f64x2.add (local.get $b0v)
                  (f64x2.mul (local.get $b1v) (f64x2.abs (local.get $xhi))))
                  (f64x2.mul (local.get $b2v) (f64x2.abs (local.get $dhi))))
                  (f64x2.mul (local.get $b3v) (f64x2.abs (local.get $ahi)))))
                (local.set $m (f64x2.sub (local.get $abs_hi) (local.get $t)))
                (local.set $ex_hi (v128.bitselect (local.get $m) (local.get $ex_hi) (v128.and (local.get $out_hi) (f64x2.lt (local.get $m) (local.get $ex_hi)))))
                (local.set $m (v128.and (f64x2.div (local.get $abs_hi) (local.get $t)) (local.get $out_hi)))
                (local.set $gt (f64x2.gt (local.get $m) (local.get $max_ratio_hi)))
                (local.set $max_ratio_hi (v128.bitselect (local.get $m) (local.get $max_ratio_hi) (local.get $gt)))
                (local.set $max_ratio_ihi (v128.bitselect (local.get $idx_hi) (local.get $max_ratio_ihi) (local.get $gt)))))
            (local.set $mism (i64x2.sub (i64x2.sub (local.get $mism) (f64x2.gt (local.get $ex_lo) (local.get $zero))) (f64x2.gt (local.get $ex_hi) (local.get $zero))))
            ;; Maxima per lane; strict > keeps each lane's first index.
            (local.set $gt (f64x2.gt (local.get $abs_lo) (local.get $max_abs_lo)))
            (local.set $max_abs_lo (v128.bitselect (local.get $abs_lo) (local.get $max_abs_lo) (local.get $gt)))
            (local.set $max_abs_ilo (v128.bitselect (local.get $idx_lo) (local.get $max_abs_ilo) (local.get $gt)))
            (local.set $gt (f64x2.gt (local.get $abs_hi) (local.get $max_abs_hi)))
            (local.set $max_abs_hi (v128.bitselect (local.get $abs_hi) (local.get $max_abs_hi) (local.get $gt)))
            (local.set $max_abs_ihi (v128.bitselect (local.get $idx_hi) (local.get $max_abs_ihi) (local.get $gt)))
            ;; Relative errors. Divisions are slow: divide only when abs > M·mag·(1 − 2^-50) for some
            ;; lane, a condition every quotient that rounds above the running maximum M meets.
            ;; 0/0 (an exact zero) is NaN and never a maximum; x/0 is +Inf, as in numpy.
            (if (v128.any_true (v128.or
                  (f64x2.gt (local.get $abs_lo) (f64x2.mul (f64x2.mul (local.get $max_rel_lo) (local.get $mag_lo)) (local.get $shrink)))
                  (f64x2.gt (local.get $abs_hi) (f64x2.mul (f64x2.mul (local.get $max_rel_hi) (local.get $mag_hi)) (local.get $shrink)))))
              (then
                (local.set $t (f64x2.div (local.get $abs_lo) (local.get $mag_lo)))
                (local.set $gt (f64x2.gt (local.get $t) (local.get $max_rel_lo)))
                (local.set $max_rel_lo (v128.bitselect (local.get $t) (local.get $max_rel_lo) (local.get $gt)))
                (local.set $max_rel_ilo (v128.bitselect (local.get $idx_lo) (local.get $max_rel_ilo) (local.get $gt)))
                (local.set $t (f64x2.div (local.get $abs_hi) (local.get $mag_hi)))
                (local.set $gt (f64x2.gt (local.get $t) (local.get $max_rel_hi)))
                (local.set $max_rel_hi (v128.bitselect (local.get $t) (local.get $max_rel_hi) (local.get $gt)))
                (local.set $max_rel_ihi (v128.bitselect (local.get $idx_hi) (local.get $max_rel_ihi) (local.get $gt)))))
            ;; Ulps: y rounded to float32 against the reference's bits, as ordinals.
            (local.set $bits (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
              (f32x4.demote_f64x2_zero (local.get $alo)) (f32x4.demote_f64x2_zero (local.get $ahi))))
            (local.set $m (i32x4.shr_s (local.get $bits) (i32.const 31)))
            (local.set $ord_a (i32x4.sub (v128.xor (v128.and (local.get $bits) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff)) (local.get $m)) (local.get $m)))
            (local.set $m (i32x4.shr_s (local.get $r) (i32.const 31)))
            (local.set $ord_r (i32x4.sub (v128.xor (v128.and (local.get $r) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff)) (local.get $m)) (local.get $m)))
            ;; Ordinals of the same sign differ by less than 2^31: subtract them as integers. A
            ;; group with a sign change (rare: values about zero) subtracts in float64, where no
            ;; distance overflows, and saturates the integer copy (the bucket is 25 from 2^24 on).
            (if (v128.any_true (v128.and (v128.xor (local.get $ord_a) (local.get $ord_r)) (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000)))
              (then
                (local.set $ulp_lo (f64x2.abs (f64x2.sub (f64x2.convert_low_i32x4_s (local.get $ord_a)) (f64x2.convert_low_i32x4_s (local.get $ord_r)))))
                (local.set $ulp_hi (f64x2.abs (f64x2.sub
                  (f64x2.convert_low_i32x4_s (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $ord_a) (local.get $ord_a)))
                  (f64x2.convert_low_i32x4_s (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $ord_r) (local.get $ord_r))))))
                (local.set $ulp_i (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
                  (i32x4.trunc_sat_f64x2_s_zero (local.get $ulp_lo)) (i32x4.trunc_sat_f64x2_s_zero (local.get $ulp_hi)))))
              (else
                (local.set $ulp_i (i32x4.abs (i32x4.sub (local.get $ord_a) (local.get $ord_r))))
                (local.set $ulp_lo (f64x2.convert_low_i32x4_s (local.get $ulp_i)))
                (local.set $ulp_hi (f64x2.convert_low_i32x4_s (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $ulp_i) (local.get $ulp_i))))))
            (local.set $gt (f64x2.gt (local.get $ulp_lo) (local.get $max_ulp_lo)))
            (local.set $max_ulp_lo (v128.bitselect (local.get $ulp_lo) (local.get $max_ulp_lo) (local.get $gt)))
            (local.set $max_ulp_ilo (v128.bitselect (local.get $idx_lo) (local.get $max_ulp_ilo) (local.get $gt)))
            (local.set $gt (f64x2.gt (local.get $ulp_hi) (local.get $max_ulp_hi)))
            (local.set $max_ulp_hi (v128.bitselect (local.get $ulp_hi) (local.get $max_ulp_hi) (local.get $gt)))
            (local.set $max_ulp_ihi (v128.bitselect (local.get $idx_hi) (local.get $max_ulp_ihi) (local.get $gt)))
            ;; Histogram: one bucket per value (an exact pair has 0 ulps: bucket 0). Distances below
            ;; 16 ulps (nearly all, for a framework's output) are counted in registers as the
            ;; numbers of values >= 1, 2, 4 and 8 ulps; larger ones bucket by bucket in memory.
            (if (v128.any_true (i32x4.gt_s (local.get $ulp_i) (v128.const i32x4 15 15 15 15)))
              (then
                (call $histogram_add (call $bucket (i32x4.extract_lane 0 (local.get $ulp_i))))
                (call $histogram_add (call $bucket (i32x4.extract_lane 1 (local.get $ulp_i))))
                (call $histogram_add (call $bucket (i32x4.extract_lane 2 (local.get $ulp_i))))
                (call $histogram_add (call $bucket (i32x4.extract_lane 3 (local.get $ulp_i)))))
              (else
                (local.set $small (i32.add (local.get $small) (i32.const 4)))
                (local.set $ge1 (i32x4.sub (local.get $ge1) (i32x4.gt_s (local.get $ulp_i) (v128.const i32x4 0 0 0 0))))
                (local.set $ge2 (i32x4.sub (local.get $ge2) (i32x4.gt_s (local.get $ulp_i) (v128.const i32x4 1 1 1 1))))
                (local.set $ge4 (i32x4.sub (local.get $ge4) (i32x4.gt_s (local.get $ulp_i) (v128.const i32x4 3 3 3 3))))
                (local.set $ge8 (i32x4.sub (local.get $ge8) (i32x4.gt_s (local.get $ulp_i) (v128.const i32x4 7 7 7 7))))))
            ;; The tolerances that would have passed (an exact pair needs none: its terms are <= 0).
            ;; Maxima by pmax (b > a ? b : a), the JavaScript's `if (needed > required)`: f64x2.max,
            ;; whose NaN and signed-zero rules the JavaScript does not have, costs V8 eight dependent
            ;; instructions on this loop-carried chain (the first sweep ran 40% slower with it).
            (local.set $req_atol (f64x2.pmax (local.get $req_atol) (f64x2.sub (local.get $abs_lo) (f64x2.mul (local.get $rtol_v) (local.get $mag_lo)))))
            (local.set $req_atol (f64x2.pmax (local.get $req_atol) (f64x2.sub (local.get $abs_hi) (f64x2.mul (local.get $rtol_v) (local.get $mag_hi)))))
            ;; The same filter keeps the divisions of the required rtol rare: a lane can raise it only
            ;; when abs − atol > R·mag·(1 − 2^-50).
            (if (v128.any_true (v128.or
                  (f64x2.gt (f64x2.sub (local.get $abs_lo) (local.get $atol_v)) (f64x2.mul (f64x2.mul (local.get $req_rtol) (local.get $mag_lo)) (local.get $shrink)))
                  (f64x2.gt (f64x2.sub (local.get $abs_hi) (local.get $atol_v)) (f64x2.mul (f64x2.mul (local.get $req_rtol) (local.get $mag_hi)) (local.get $shrink)))))
              (then
                (local.set $req_rtol (f64x2.pmax (local.get $req_rtol) (v128.and
                  (f64x2.div (f64x2.sub (local.get $abs_lo) (local.get $atol_v)) (local.get $mag_lo)) (f64x2.gt (local.get $abs_lo) (local.get $atol_v)))))
                (local.set $req_rtol (f64x2.pmax (local.get $req_rtol) (v128.and
                  (f64x2.div (f64x2.sub (local.get $abs_hi) (local.get $atol_v)) (local.get $mag_hi)) (f64x2.gt (local.get $abs_hi) (local.get $atol_v)))))))
            ;; The worst list, only when some value beats its last entry.
            (if (v128.any_true (v128.or (f64x2.gt (local.get $ex_lo) (local.get $threshold)) (f64x2.gt (local.get $ex_hi) (local.get $threshold))))
              (then
                (call $offer_worst (f64x2.extract_lane 0 (local.get $ex_lo)) (f64x2.extract_lane 0 (local.get $idx_lo)))
                (call $offer_worst (f64x2.extract_lane 1 (local.get $ex_lo)) (f64x2.extract_lane 1 (local.get $idx_lo)))
                (call $offer_worst (f64x2.extract_lane 0 (local.get $ex_hi)) (f64x2.extract_lane 0 (local.get $idx_hi)))
                (call $offer_worst (f64x2.extract_lane 1 (local.get $ex_hi)) (f64x2.extract_lane 1 (local.get $idx_hi)))
                (local.set $threshold (f64x2.splat (f64.load offset={{(WORST_KEPT - 1) * 16}} (local.get $worst_in)))))))
          (else
            ;; A group with a NaN or an infinity: element by element.
            (call $compare_one (f64x2.extract_lane 0 (local.get $xlo)) (f64x2.extract_lane 0 (local.get $elo)) (i32x4.extract_lane 0 (local.get $r)) (f64x2.extract_lane 0 (local.get $idx_lo)) (i32.const 0) (f64x2.extract_lane 0 (local.get $glo)))
            (call $compare_one (f64x2.extract_lane 1 (local.get $xlo)) (f64x2.extract_lane 1 (local.get $elo)) (i32x4.extract_lane 1 (local.get $r)) (f64x2.extract_lane 1 (local.get $idx_lo)) (i32.const 0) (f64x2.extract_lane 1 (local.get $glo)))
            (call $compare_one (f64x2.extract_lane 0 (local.get $xhi)) (f64x2.extract_lane 0 (local.get $ehi)) (i32x4.extract_lane 2 (local.get $r)) (f64x2.extract_lane 0 (local.get $idx_hi)) (i32.const 0) (f64x2.extract_lane 0 (local.get $ghi)))
            (call $compare_one (f64x2.extract_lane 1 (local.get $xhi)) (f64x2.extract_lane 1 (local.get $ehi)) (i32x4.extract_lane 3 (local.get $r)) (f64x2.extract_lane 1 (local.get $idx_hi)) (i32.const 0) (f64x2.extract_lane 1 (local.get $ghi)))
            (local.set $threshold (f64x2.splat (f64.load offset={{(WORST_KEPT - 1) * 16}} (local.get $worst_in))))))
        (local.set $idx_lo (f64x2.add (local.get $idx_lo) (local.get $four)))
        (local.set $idx_hi (f64x2.add (local.get $idx_hi) (local.get $four)))
        (local.set $p (i32.add (local.get $p) (local.get $group)))
        (local.set $q (i32.add (local.get $q) (local.get $group)))
        (br $body)))
        (br $blocks)))
      ;; The rest of the run, element by element, into the tail sum.
      (local.set $index (f64x2.extract_lane 0 (local.get $idx_lo)))
      (block $tail_done (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $p) (local.get $end)))
        (call $compare_one
          (f64.promote_f32 (f32.load (local.get $p)))
          (f64.promote_f32 (f32.load (local.get $q))) (i32.load (local.get $q)) (local.get $index) (i32.const 1)
          (f64.promote_f32 (f32.load (i32.add (local.get $p) (global.get $addend_delta)))))
        (local.set $index (f64.add (local.get $index) (local.get $index_step)))
        (local.set $p (i32.add (local.get $p) (local.get $step)))
        (local.set $q (i32.add (local.get $q) (local.get $step)))
        (br $tail)))
      (local.set $threshold (f64x2.splat (f64.load offset={{(WORST_KEPT - 1) * 16}} (local.get $worst_in))))
      (local.set $src (i32.add (local.get $src) (local.get $stride)))
      (local.set $ref (i32.add (local.get $ref) (local.get $stride)))
      (local.set $first_index (f64.add (local.get $first_index) (local.get $index_stride)))
      (local.set $index (local.get $first_index))
      (local.set $row (i32.add (local.get $row) (i32.const 1)))
      (br $rows)))
    ;; The register-counted histogram into the record: buckets 0 to 4 hold [0], [1], [2,4), [4,8), [8,16).
    (local.set $n1 (i32.add (i32.add (i32x4.extract_lane 0 (local.get $ge1)) (i32x4.extract_lane 1 (local.get $ge1))) (i32.add (i32x4.extract_lane 2 (local.get $ge1)) (i32x4.extract_lane 3 (local.get $ge1)))))
    (local.set $n2 (i32.add (i32.add (i32x4.extract_lane 0 (local.get $ge2)) (i32x4.extract_lane 1 (local.get $ge2))) (i32.add (i32x4.extract_lane 2 (local.get $ge2)) (i32x4.extract_lane 3 (local.get $ge2)))))
    (local.set $n4 (i32.add (i32.add (i32x4.extract_lane 0 (local.get $ge4)) (i32x4.extract_lane 1 (local.get $ge4))) (i32.add (i32x4.extract_lane 2 (local.get $ge4)) (i32x4.extract_lane 3 (local.get $ge4)))))
    (local.set $n8 (i32.add (i32.add (i32x4.extract_lane 0 (local.get $ge8)) (i32x4.extract_lane 1 (local.get $ge8))) (i32.add (i32x4.extract_lane 2 (local.get $ge8)) (i32x4.extract_lane 3 (local.get $ge8)))))
    (f64.store offset=0 (local.get $histogram_in) (f64.add (f64.load offset=0 (local.get $histogram_in)) (f64.convert_i32_u (i32.sub (local.get $small) (local.get $n1)))))
    (f64.store offset=8 (local.get $histogram_in) (f64.add (f64.load offset=8 (local.get $histogram_in)) (f64.convert_i32_u (i32.sub (local.get $n1) (local.get $n2)))))
    (f64.store offset=16 (local.get $histogram_in) (f64.add (f64.load offset=16 (local.get $histogram_in)) (f64.convert_i32_u (i32.sub (local.get $n2) (local.get $n4)))))
    (f64.store offset=24 (local.get $histogram_in) (f64.add (f64.load offset=24 (local.get $histogram_in)) (f64.convert_i32_u (i32.sub (local.get $n4) (local.get $n8)))))
    (f64.store offset=32 (local.get $histogram_in) (f64.add (f64.load offset=32 (local.get $histogram_in)) (f64.convert_i32_u (local.get $n8))))
    ;; The record: scalar-path values first, then the lanes folded in.
    (f64.store offset={{D_COUNT * 8}} (local.get $record_in) (f64.convert_i32_u (i32.mul (local.get $rows) (local.get $len))))
    (f64.store offset={{D_MISMATCHES * 8}} (local.get $record_in) (f64.add (global.get $mismatches)
      (f64.convert_i64_s (i64.add (i64x2.extract_lane 0 (local.get $mism)) (i64x2.extract_lane 1 (local.get $mism))))))
    (f64.store offset={{D_NONFINITE_MISMATCHES * 8}} (local.get $record_in) (global.get $non_finite))
    (f64.store offset={{D_FLAT_MISMATCHES * 8}} (local.get $record_in) (f64.add (global.get $flat_mismatches)
      (f64.convert_i64_s (i64.add (i64x2.extract_lane 0 (local.get $flat_mism)) (i64x2.extract_lane 1 (local.get $flat_mism))))))
    (f64.store offset={{D_MAX_BOUND_RATIO * 8}} (local.get $record_in) (global.get $max_ratio))
    (f64.store offset={{D_MAX_BOUND_RATIO_INDEX * 8}} (local.get $record_in) (global.get $max_ratio_index))
    (f64.store offset={{D_MAX_ABS * 8}} (local.get $record_in) (global.get $max_abs))
    (f64.store offset={{D_MAX_ABS_INDEX * 8}} (local.get $record_in) (global.get $max_abs_index))
    (f64.store offset={{D_MAX_REL * 8}} (local.get $record_in) (global.get $max_rel))
    (f64.store offset={{D_MAX_REL_INDEX * 8}} (local.get $record_in) (global.get $max_rel_index))
    (f64.store offset={{D_MAX_ULP * 8}} (local.get $record_in) (global.get $max_ulp))
    (f64.store offset={{D_MAX_ULP_INDEX * 8}} (local.get $record_in) (global.get $max_ulp_index))
    ;; Indices of the maxima the first sweep raised (markers -2 - block offset): found in their block.
    (if (local.get $sweep)
      (then
        (local.set $max_abs_ilo (f64x2.replace_lane 0 (local.get $max_abs_ilo) (call $resolve_max (f64x2.extract_lane 0 (local.get $max_abs_ilo)) (f64x2.extract_lane 0 (local.get $max_abs_lo)) (i32.const 0) (i32.const 0) (local.get $src0) (local.get $ref_delta) (local.get $stride) (local.get $len) (local.get $first0) (local.get $index_stride))))
        (local.set $max_abs_ilo (f64x2.replace_lane 1 (local.get $max_abs_ilo) (call $resolve_max (f64x2.extract_lane 1 (local.get $max_abs_ilo)) (f64x2.extract_lane 1 (local.get $max_abs_lo)) (i32.const 1) (i32.const 0) (local.get $src0) (local.get $ref_delta) (local.get $stride) (local.get $len) (local.get $first0) (local.get $index_stride))))
        (local.set $max_abs_ihi (f64x2.replace_lane 0 (local.get $max_abs_ihi) (call $resolve_max (f64x2.extract_lane 0 (local.get $max_abs_ihi)) (f64x2.extract_lane 0 (local.get $max_abs_hi)) (i32.const 2) (i32.const 0) (local.get $src0) (local.get $ref_delta) (local.get $stride) (local.get $len) (local.get $first0) (local.get $index_stride))))
        (local.set $max_abs_ihi (f64x2.replace_lane 1 (local.get $max_abs_ihi) (call $resolve_max (f64x2.extract_lane 1 (local.get $max_abs_ihi)) (f64x2.extract_lane 1 (local.get $max_abs_hi)) (i32.const 3) (i32.const 0) (local.get $src0) (local.get $ref_delta) (local.get $stride) (local.get $len) (local.get $first0) (local.get $index_stride))))
        (local.set $max_rel_ilo (f64x2.replace_lane 0 (local.get $max_rel_ilo) (call $resolve_max (f64x2.extract_lane 0 (local.get $max_rel_ilo)) (f64x2.extract_lane 0 (local.get $max_rel_lo)) (i32.const 0) (i32.const 1) (local.get $src0) (local.get $ref_delta) (local.get $stride) (local.get $len) (local.get $first0) (local.get $index_stride))))
        (local.set $max_rel_ilo (f64x2.replace_lane 1 (local.get $max_rel_ilo) (call $resolve_max (f64x2.extract_lane 1 (local.get $max_rel_ilo)) (f64x2.extract_lane 1 (local.get $max_rel_lo)) (i32.const 1) (i32.const 1) (local.get $src0) (local.get $ref_delta) (local.get $stride) (local.get $len) (local.get $first0) (local.get $index_stride))))
        (local.set $max_rel_ihi (f64x2.replace_lane 0 (local.get $max_rel_ihi) (call $resolve_max (f64x2.extract_lane 0 (local.get $max_rel_ihi)) (f64x2.extract_lane 0 (local.get $max_rel_hi)) (i32.const 2) (i32.const 1) (local.get $src0) (local.get $ref_delta) (local.get $stride) (local.get $len) (local.get $first0) (local.get $index_stride))))
        (local.set $max_rel_ihi (f64x2.replace_lane 1 (local.get $max_rel_ihi) (call $resolve_max (f64x2.extract_lane 1 (local.get $max_rel_ihi)) (f64x2.extract_lane 1 (local.get $max_rel_hi)) (i32.const 3) (i32.const 1) (local.get $src0) (local.get $ref_delta) (local.get $stride) (local.get $len) (local.get $first0) (local.get $index_stride))))
        (local.set $max_ulp_ihi (f64x2.replace_lane 1 (local.get $max_ulp_ihi) (call $resolve_max (f64x2.extract_lane 1 (local.get $max_ulp_ihi)) (f64x2.extract_lane 1 (local.get $max_ulp_hi)) (i32.const 3) (i32.const 2) (local.get $src0) (local.get $ref_delta) (local.get $stride) (local.get $len) (local.get $first0) (local.get $index_stride))))
        (local.set $max_ulp_ihi (f64x2.replace_lane 0 (local.get $max_ulp_ihi) (call $resolve_max (f64x2.extract_lane 0 (local.get $max_ulp_ihi)) (f64x2.extract_lane 0 (local.get $max_ulp_hi)) (i32.const 2) (i32.const 2) (local.get $src0) (local.get $ref_delta) (local.get $stride) (local.get $len) (local.get $first0) (local.get $index_stride))))
        (local.set $max_ulp_ilo (f64x2.replace_lane 1 (local.get $max_ulp_ilo) (call $resolve_max (f64x2.extract_lane 1 (local.get $max_ulp_ilo)) (f64x2.extract_lane 1 (local.get $max_ulp_lo)) (i32.const 1) (i32.const 2) (local.get $src0) (local.get $ref_delta) (local.get $stride) (local.get $len) (local.get $first0) (local.get $index_stride))))
        (local.set $max_ulp_ilo (f64x2.replace_lane 0 (local.get $max_ulp_ilo) (call $resolve_max (f64x2.extract_lane 0 (local.get $max_ulp_ilo)) (f64x2.extract_lane 0 (local.get $max_ulp_lo)) (i32.const 0) (i32.const 2) (local.get $src0) (local.get $ref_delta) (local.get $stride) (local.get $len) (local.get $first0) (local.get $index_stride))))))
    (call $fold_max (local.get $max_abs_lo) (local.get $max_abs_hi) (local.get $max_abs_ilo) (local.get $max_abs_ihi) (i32.const {{D_MAX_ABS}}))
    (call $fold_max (local.get $max_rel_lo) (local.get $max_rel_hi) (local.get $max_rel_ilo) (local.get $max_rel_ihi) (i32.const {{D_MAX_REL}}))
    (call $fold_max (local.get $max_ulp_lo) (local.get $max_ulp_hi) (local.get $max_ulp_ilo) (local.get $max_ulp_ihi) (i32.const {{D_MAX_ULP}}))
    (call $fold_max (local.get $max_ratio_lo) (local.get $max_ratio_hi) (local.get $max_ratio_ilo) (local.get $max_ratio_ihi) (i32.const {{D_MAX_BOUND_RATIO}}))
    ;; A non-finite disagreement makes every "would have passed" tolerance infinite.
    (f64.store offset={{D_REQUIRED_ATOL * 8}} (local.get $record_in)
      (select (f64.const inf)
        (f64.max (global.get $required_atol) (f64.max (f64x2.extract_lane 0 (local.get $req_atol)) (f64x2.extract_lane 1 (local.get $req_atol))))
        (f64.gt (global.get $non_finite) (f64.const 0))))
    (f64.store offset={{D_REQUIRED_RTOL * 8}} (local.get $record_in)
      (select (f64.const inf)
        (f64.max (global.get $required_rtol) (f64.max (f64x2.extract_lane 0 (local.get $req_rtol)) (f64x2.extract_lane 1 (local.get $req_rtol))))
        (f64.gt (global.get $non_finite) (f64.const 0))))
    (f64.store offset={{D_SUM_ABS * 8}} (local.get $record_in)
      (f64.add
        (f64.add
          (f64.add (f64x2.extract_lane 0 (local.get $sum_lo)) (f64x2.extract_lane 1 (local.get $sum_lo)))
          (f64.add (f64x2.extract_lane 0 (local.get $sum_hi)) (f64x2.extract_lane 1 (local.get $sum_hi))))
        (global.get $tail_sum)))
    (f64.store offset={{D_FINITE_PAIRS * 8}} (local.get $record_in) (f64.add (global.get $finite_pairs) (local.get $fast))))

  ;; One unit of the compare pass: its `channels` channels one after another, each as compare_cols
  ;; compares it (one call from JavaScript per unit, not per channel: a call through V8's JS-to-Wasm
  ;; wrapper with two dozen arguments cost about as much as comparing a few hundred values). Channel
  ;; k's first value is `channel_bytes`·k bytes (`channel_index_step`·k elements) after the first
  ;; channel's; its constants are the float64 at $constants + 8k in seven runs `run_bytes` apart
  ;; (shift, scale, offset, b0..b3: the order of kernel/abi.ts C_*); its record DIFF_RECORD_SIZE
  ;; values after the previous one; its addend scale the float64 at $addend_scales + 8k (read only
  ;; with an addend). Starts the unit's worst list (empty: excess -inf, index -1) and histogram (zeros).
  (func (export "compare_unit") (param $src i32) (param $ref i32) (param $rows i32) (param $stride i32) (param $len i32)
    (param $step i32) (param $index_step f64) (param $first_index f64) (param $index_stride f64)
    (param $channels i32) (param $channel_bytes i32) (param $channel_index_step f64)
    (param $constants i32) (param $run_bytes i32)
    (param $atol f64) (param $rtol f64) (param $equal_nan i32)
    (param $record i32) (param $worst i32) (param $histogram i32) (param $addend i32) (param $addend_scales i32)
    (local $k i32) (local $at i32) (local $c i32)
    (local.set $at (local.get $worst))
    (block $worst_done (loop $each_slot
      (br_if $worst_done (i32.ge_u (local.get $at) (i32.add (local.get $worst) (i32.const {{WORST_KEPT * 16}}))))
      (f64.store (local.get $at) (f64.const -inf))
      (f64.store offset=8 (local.get $at) (f64.const -1))
      (local.set $at (i32.add (local.get $at) (i32.const 16)))
      (br $each_slot)))
    (memory.fill (local.get $histogram) (i32.const 0) (i32.const {{HISTOGRAM_BUCKETS * 8}}))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $k) (local.get $channels)))
      (local.set $c (i32.add (local.get $constants) (i32.shl (local.get $k) (i32.const 3))))
      (call $compare_cols
        (i32.add (local.get $src) (i32.mul (local.get $k) (local.get $channel_bytes)))
        (i32.add (local.get $ref) (i32.mul (local.get $k) (local.get $channel_bytes)))
        (local.get $rows) (local.get $stride) (local.get $len) (local.get $step) (local.get $index_step)
        (f64.add (local.get $first_index) (f64.mul (f64.convert_i32_u (local.get $k)) (local.get $channel_index_step)))
        (local.get $index_stride)
        (f64.load (i32.add (local.get $c) (i32.mul (local.get $run_bytes) (i32.const {{C_SHIFT}}))))
        (f64.load (i32.add (local.get $c) (i32.mul (local.get $run_bytes) (i32.const {{C_SCALE}}))))
        (f64.load (i32.add (local.get $c) (i32.mul (local.get $run_bytes) (i32.const {{C_OFFSET}}))))
        (local.get $atol) (local.get $rtol) (local.get $equal_nan)
        (f64.load (i32.add (local.get $c) (i32.mul (local.get $run_bytes) (i32.const {{C_BOUND_CONSTANT}}))))
        (f64.load (i32.add (local.get $c) (i32.mul (local.get $run_bytes) (i32.const {{C_BOUND_PER_INPUT}}))))
        (f64.load (i32.add (local.get $c) (i32.mul (local.get $run_bytes) (i32.const {{C_BOUND_PER_CENTRED}}))))
        (f64.load (i32.add (local.get $c) (i32.mul (local.get $run_bytes) (i32.const {{C_BOUND_PER_OUTPUT}}))))
        (i32.add (local.get $record) (i32.mul (local.get $k) (i32.const {{DIFF_RECORD_SIZE * 8}})))
        (local.get $worst) (local.get $histogram)
        (select (i32.add (local.get $addend) (i32.mul (local.get $k) (local.get $channel_bytes))) (i32.const 0) (local.get $addend))
        ;; (An `if`, not a `select`: without an addend, $addend_scales is 0 and names no array.)
        (if (result f64) (local.get $addend)
          (then (f64.load (i32.add (local.get $addend_scales) (i32.shl (local.get $k) (i32.const 3)))))
          (else (f64.const 0))))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $each)))
)

  ;; ---------------------------------------------------------------------------------------------
  ;; A compare pass's per-unit results merged (the JavaScript twins, the same bits: kernel/diff.ts
  ;; mergeDiffRecords and mergeHistograms, compare-units.ts mergeChannelDiffs). On the calling thread
  ;; after the pass, once per process in a one-shot run: there the JavaScript runs before V8 has
  ;; optimised it (2-4 ms for the 2,080 records of 32x64x56x56), this in a few tens of microseconds.

  ;; Record $from's maximum at $field (value, then index) into record $into's, as $better decides.
  (func $merge_max (param $into i32) (param $from i32) (param $field i32)
    (local $at i32) (local $src i32)
    (local.set $at (i32.add (local.get $into) (i32.shl (local.get $field) (i32.const 3))))
    (local.set $src (i32.add (local.get $from) (i32.shl (local.get $field) (i32.const 3))))
    (if (call $better (f64.load (local.get $src)) (f64.load offset=8 (local.get $src)) (f64.load (local.get $at)) (f64.load offset=8 (local.get $at)))
      (then
        (f64.store (local.get $at) (f64.load (local.get $src)))
        (f64.store offset=8 (local.get $at) (f64.load offset=8 (local.get $src))))))

  ;; Folds `count` records, `stride` bytes apart from $from on, into the record at $into, in that order:
  ;; counts and sums added, maxima by $merge_max, the required tolerances by f64.max (Math.max: NaN
  ;; wins, +0 over -0).
  (func $merge_records (export "merge_records") (param $into i32) (param $from i32) (param $count i32) (param $stride i32)
    (local $k i32)
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $k) (local.get $count)))
      (f64.store offset={{D_COUNT * 8}} (local.get $into) (f64.add (f64.load offset={{D_COUNT * 8}} (local.get $into)) (f64.load offset={{D_COUNT * 8}} (local.get $from))))
      (f64.store offset={{D_MISMATCHES * 8}} (local.get $into) (f64.add (f64.load offset={{D_MISMATCHES * 8}} (local.get $into)) (f64.load offset={{D_MISMATCHES * 8}} (local.get $from))))
      (f64.store offset={{D_FLAT_MISMATCHES * 8}} (local.get $into) (f64.add (f64.load offset={{D_FLAT_MISMATCHES * 8}} (local.get $into)) (f64.load offset={{D_FLAT_MISMATCHES * 8}} (local.get $from))))
      (f64.store offset={{D_NONFINITE_MISMATCHES * 8}} (local.get $into) (f64.add (f64.load offset={{D_NONFINITE_MISMATCHES * 8}} (local.get $into)) (f64.load offset={{D_NONFINITE_MISMATCHES * 8}} (local.get $from))))
      (f64.store offset={{D_SUM_ABS * 8}} (local.get $into) (f64.add (f64.load offset={{D_SUM_ABS * 8}} (local.get $into)) (f64.load offset={{D_SUM_ABS * 8}} (local.get $from))))
      (f64.store offset={{D_FINITE_PAIRS * 8}} (local.get $into) (f64.add (f64.load offset={{D_FINITE_PAIRS * 8}} (local.get $into)) (f64.load offset={{D_FINITE_PAIRS * 8}} (local.get $from))))
      (call $merge_max (local.get $into) (local.get $from) (i32.const {{D_MAX_ABS}}))
      (call $merge_max (local.get $into) (local.get $from) (i32.const {{D_MAX_REL}}))
      (call $merge_max (local.get $into) (local.get $from) (i32.const {{D_MAX_ULP}}))
      (call $merge_max (local.get $into) (local.get $from) (i32.const {{D_MAX_BOUND_RATIO}}))
      (f64.store offset={{D_REQUIRED_ATOL * 8}} (local.get $into) (f64.max (f64.load offset={{D_REQUIRED_ATOL * 8}} (local.get $into)) (f64.load offset={{D_REQUIRED_ATOL * 8}} (local.get $from))))
      (f64.store offset={{D_REQUIRED_RTOL * 8}} (local.get $into) (f64.max (f64.load offset={{D_REQUIRED_RTOL * 8}} (local.get $into)) (f64.load offset={{D_REQUIRED_RTOL * 8}} (local.get $from))))
      (local.set $from (i32.add (local.get $from) (local.get $stride)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $each))))

  ;; Each of `channels` channels' records merged over its units in unit order into `into` (one record
  ;; per channel): channel c's record in its first unit is the (c mod chunk)-th of unit
  ;; floor(c / chunk) · units_per_channel, and the same record of its next unit `chunk` records on.
  (func (export "merge_channel_records") (param $records i32) (param $channels i32) (param $chunk i32) (param $units_per_channel i32) (param $into i32)
    (local $c i32) (local $out i32)
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $c) (local.get $channels)))
      (local.set $out (i32.add (local.get $into) (i32.mul (local.get $c) (i32.const {{DIFF_RECORD_SIZE * 8}}))))
      ;; An empty record: zeros, no index (-1) for each maximum.
      (memory.fill (local.get $out) (i32.const 0) (i32.const {{DIFF_RECORD_SIZE * 8}}))
      (f64.store offset={{D_MAX_ABS_INDEX * 8}} (local.get $out) (f64.const -1))
      (f64.store offset={{D_MAX_REL_INDEX * 8}} (local.get $out) (f64.const -1))
      (f64.store offset={{D_MAX_ULP_INDEX * 8}} (local.get $out) (f64.const -1))
      (f64.store offset={{D_MAX_BOUND_RATIO_INDEX * 8}} (local.get $out) (f64.const -1))
      (call $merge_records (local.get $out)
        (i32.add (local.get $records) (i32.mul (i32.const {{DIFF_RECORD_SIZE * 8}})
          (i32.add (i32.mul (i32.mul (i32.div_u (local.get $c) (local.get $chunk)) (local.get $units_per_channel)) (local.get $chunk))
            (i32.rem_u (local.get $c) (local.get $chunk)))))
        (local.get $units_per_channel)
        (i32.mul (local.get $chunk) (i32.const {{DIFF_RECORD_SIZE * 8}})))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $each))))

  ;; The units' histograms added up bucket by bucket, in unit order, into HISTOGRAM_BUCKETS values at $into.
  (func (export "sum_histograms") (param $histograms i32) (param $units i32) (param $into i32)
    (local $bucket i32) (local $at i32) (local $end i32) (local $sum f64)
    (local.set $end (i32.add (local.get $histograms) (i32.mul (local.get $units) (i32.const {{HISTOGRAM_BUCKETS * 8}}))))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $bucket) (i32.const {{HISTOGRAM_BUCKETS}})))
      (local.set $sum (f64.const 0))
      (local.set $at (i32.add (local.get $histograms) (i32.shl (local.get $bucket) (i32.const 3))))
      (block $units_done (loop $each_unit
        (br_if $units_done (i32.ge_u (local.get $at) (local.get $end)))
        (local.set $sum (f64.add (local.get $sum) (f64.load (local.get $at))))
        (local.set $at (i32.add (local.get $at) (i32.const {{HISTOGRAM_BUCKETS * 8}})))
        (br $each_unit)))
      (f64.store (i32.add (local.get $into) (i32.shl (local.get $bucket) (i32.const 3))) (local.get $sum))
      (local.set $bucket (i32.add (local.get $bucket) (i32.const 1)))
      (br $each))))
)
