#!/usr/bin/env bash
# char_lstm_smoke.sh CHAR_LSTM DATA WORKDIR: a few seconds of examples/char_lstm
# with a tiny model on the first 3000 characters of DATA (so that 40 steps
# cross an epoch boundary), checking:
#   - a run exits 0, prints progress lines, ends with the exact final line,
#     and writes loss.csv (a row per step) and checkpoint.h5;
#   - a run stopped at step 20 (--stop-at) and resumed with --resume ends with
#     the same final line and the same per-step losses as the run straight
#     through (model, Adam, schedule, carried state and dropout RNG restored);
#   - --precision tf32, bf16 and fp16 runs end with the final line, and a bf16
#     run stopped and resumed gives the straight bf16 run's losses; resuming
#     with another --precision is refused;
#   - bad options and a mismatched --resume give an error message and a
#     non-zero exit, not a crash; --help exits 0 and lists the options.
set -u
exe=$1 data=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

head -c 3000 "$data" > "$work/small.txt"
args=(--data "$work/small.txt" --steps 40 --batch 8 --bptt 16 --embed 16 --hidden 32 --layers 2
      --dropout 0.2 --val-every 10 --checkpoint-every 10 --log-every 10 --sample-chars 60 --seed 3)
final_re='^final validation loss: [0-9]+\.[0-9]{3} nats/char \(unigram baseline: [0-9]+\.[0-9]{3}\)$'

# 1. Straight through.
"$exe" "${args[@]}" --out "$work/straight" > "$work/straight.log" 2>&1
rc=$?
cat "$work/straight.log"
[ $rc -eq 0 ] || fail "the straight run exited $rc"
last=$(tail -n 1 "$work/straight.log")
[[ $last =~ $final_re ]] || fail "last line is not the final line: '$last'"
grep -q '^step 10/40  loss ' "$work/straight.log" || fail "no progress line for step 10"
grep -q '^step 10: validation loss ' "$work/straight.log" || fail "no validation line at step 10"
[ -s "$work/straight/checkpoint.h5" ] || fail "no checkpoint.h5"
[ "$(head -n 1 "$work/straight/loss.csv")" = "step,train_loss,val_loss,lr,chars_per_second,elapsed_seconds" ] ||
  fail "loss.csv has no header"
[ "$(tail -n +2 "$work/straight/loss.csv" | wc -l)" -eq 40 ] || fail "loss.csv does not have 40 rows"

# 2. Stopped at step 20, then resumed.
"$exe" "${args[@]}" --out "$work/resumed" --stop-at 20 > "$work/first_half.log" 2>&1
rc=$?
[ $rc -eq 0 ] || { cat "$work/first_half.log"; fail "the run stopped at 20 exited $rc"; }
grep -q '^stopped at step 20 of 40' "$work/first_half.log" || fail "no 'stopped at step 20' line"
"$exe" "${args[@]}" --out "$work/resumed" --resume "$work/resumed/checkpoint.h5" > "$work/second_half.log" 2>&1
rc=$?
echo "--- resumed:"
cat "$work/second_half.log"
[ $rc -eq 0 ] || fail "the resumed run exited $rc"
grep -q '^resumed from .* at step 20$' "$work/second_half.log" || fail "no 'resumed ... at step 20' line"
[ "$(tail -n 1 "$work/second_half.log")" = "$last" ] ||
  fail "resumed final line '$(tail -n 1 "$work/second_half.log")' differs from the straight run's '$last'"
# step, train_loss, val_loss, lr of every step must match.
if ! diff <(cut -d, -f1-4 "$work/straight/loss.csv") <(cut -d, -f1-4 "$work/resumed/loss.csv"); then
  fail "the resumed loss curve differs from the straight one"
fi

# 3. Ctrl-C (SIGINT) during training: a checkpoint, exit 130, and --resume continues from it.
"$exe" "${args[@]}" --steps 1000000 --out "$work/interrupted" > "$work/interrupted.log" 2>&1 &
pid=$!
for _ in $(seq 600); do  # up to a minute for step 10 to be printed
  grep -q '^step 10/1000000 ' "$work/interrupted.log" && break
  sleep 0.1
done
kill -INT $pid
wait $pid
rc=$?
[ $rc -eq 130 ] || { cat "$work/interrupted.log"; fail "the interrupted run exited $rc, expected 130"; }
stopped=$(sed -n 's/^stopped at step \([0-9]*\) of 1000000: continue with --resume .*/\1/p' "$work/interrupted.log")
if [ -z "$stopped" ]; then
  fail "no 'stopped at step N' line after SIGINT"
else
  "$exe" "${args[@]}" --steps 1000000 --out "$work/interrupted" --resume "$work/interrupted/checkpoint.h5" \
    --stop-at $((stopped + 3)) > "$work/interrupted_resumed.log" 2>&1 || fail "resuming after SIGINT failed"
  grep -q "^resumed from .* at step $stopped\$" "$work/interrupted_resumed.log" ||
    fail "resuming after SIGINT did not start at step $stopped"
fi

# 4. Other precisions (on the CPU tf32 computes as fp32; bf16 and fp16 run
#    under autocast, fp16 with a GradScaler).
for precision in tf32 bf16 fp16; do
  "$exe" "${args[@]}" --precision $precision --out "$work/$precision" > "$work/$precision.log" 2>&1 ||
    { cat "$work/$precision.log"; fail "--precision $precision exited non-zero"; }
  grep -q "precision $precision\$" "$work/$precision.log" || fail "--precision $precision: not said in the set-up line"
  [[ $(tail -n 1 "$work/$precision.log") =~ $final_re ]] || fail "--precision $precision: no final line"
done
[ "$(tail -n 1 "$work/tf32.log")" = "$last" ] || fail "--precision tf32 on the CPU differs from fp32"
"$exe" "${args[@]}" --precision bf16 --out "$work/bf16_resumed" --stop-at 20 > /dev/null 2>&1 ||
  fail "the bf16 run stopped at 20 failed"
"$exe" "${args[@]}" --precision bf16 --out "$work/bf16_resumed" --resume "$work/bf16_resumed/checkpoint.h5" \
  > "$work/bf16_second_half.log" 2>&1 || fail "the resumed bf16 run failed"
[ "$(tail -n 1 "$work/bf16_second_half.log")" = "$(tail -n 1 "$work/bf16.log")" ] ||
  fail "the resumed bf16 run ends differently from the straight one"
if ! diff <(cut -d, -f1-4 "$work/bf16/loss.csv") <(cut -d, -f1-4 "$work/bf16_resumed/loss.csv"); then
  fail "the resumed bf16 loss curve differs from the straight one"
fi

# 5. Errors: a message and a non-zero exit.
expect_error() {  # expected_rc fragment args...
  local want=$1 fragment=$2
  shift 2
  "$exe" "$@" > "$work/err.log" 2>&1
  local got=$?
  [ $got -eq "$want" ] || fail "'$*' exited $got, expected $want"
  grep -qF -- "$fragment" "$work/err.log" || { cat "$work/err.log"; fail "'$*' did not say '$fragment'"; }
}
expect_error 2 "option '--steps' expects an integer, got 'ten'" --steps ten
expect_error 2 "unknown option '--bogus'" --bogus 1
expect_error 2 "option '--lr' needs a value" --lr
expect_error 2 "--dropout must be in [0, 1), got 1.5" --dropout 1.5
expect_error 2 "--hidden must be at least 1, got 0" --hidden 0
expect_error 2 "--device expects auto, cpu, cuda or cuda:N, got 'tpu'" --device tpu
expect_error 1 "cannot open the text file '$work/missing.txt'" --data "$work/missing.txt"
expect_error 1 "--prime: the character '#' does not occur in $work/small.txt" "${args[@]}" --prime "#" --out "$work/other"
expect_error 1 "--resume: there is no checkpoint at '$work/none.h5'" "${args[@]}" --resume "$work/none.h5"
expect_error 1 "was written by a run with other settings: --hidden 16 (checkpoint: 32)" \
  "${args[@]}" --hidden 16 --out "$work/other" --resume "$work/straight/checkpoint.h5"
expect_error 1 "cannot load checkpoint" "${args[@]}" --out "$work/other" --resume "$work/small.txt"
expect_error 1 "was written by a run with other settings: --precision fp16 (checkpoint: bf16)" \
  "${args[@]}" --precision fp16 --out "$work/other" --resume "$work/bf16/checkpoint.h5"
expect_error 2 "--precision expects fp32, tf32, bf16 or fp16, got 'fp8'" --precision fp8
"$exe" --help > "$work/help.log" 2>&1 || fail "--help exited non-zero"
for option in steps batch bptt hidden layers dropout lr clip seed device data out checkpoint-every resume precision; do
  grep -q -- "--$option " "$work/help.log" || fail "--help does not list --$option"
done

if [ $failures -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "char_lstm smoke test passed"
