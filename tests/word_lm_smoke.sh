#!/usr/bin/env bash
# word_lm_smoke.sh WORD_LM DATA WORKDIR: seconds of examples/word_lm with a tiny
# model on the first 8000 tokens of DATA, checking:
#   - the run exits 0, prints an epoch line per epoch with a finite validation
#     perplexity, switches to ASGD after epoch 2 (--asgd-at 2) and runs epoch 3
#     with it (validated with the averaged parameters);
#   - validation improves from epoch 1 to epoch 2;
#   - the best checkpoint's test perplexity is finite and below the unigram
#     baseline's (compared here, from the printed numbers);
#   - loss.csv has the header and a row per step, the last one from ASGD with
#     a validation loss; the checkpoint file exists;
#   - bad options, a missing text and a diverging run (--lr 1e30: NaN
#     everywhere) give an error message and a non-zero exit; --help exits 0 and lists the options.
set -u
exe=$1 data=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

args=(--data "$data" --max-tokens 8000 --epochs 3 --asgd-at 2 --batch 8 --bptt 12 --emb 32 --hidden 64 --layers 2 --lr 10
      --eval-batch 4 --log-every 5 --seed 1 --csv "$work/out/loss.csv" --checkpoint "$work/out/best.h5")

# 1. The run.
"$exe" "${args[@]}" > "$work/run.log" 2>&1
rc=$?
cat "$work/run.log"
[ $rc -eq 0 ] || fail "the run exited $rc"
number='[0-9]+\.[0-9]+'
for e in 1 2 3; do
  grep -Eq "^epoch $e/3  train loss $number \(ppl $number\)  valid ppl $number  " "$work/run.log" ||
    fail "no epoch line with finite numbers for epoch $e"
done
valid_ppl() { sed -nE "s/^epoch $1\/3 .*valid ppl ([0-9.]+) .*/\1/p" "$work/run.log"; }
v1=$(valid_ppl 1) v2=$(valid_ppl 2)
awk -v a="$v1" -v b="$v2" 'BEGIN { exit !(a != "" && b != "" && b + 0 < a + 0) }' ||
  fail "validation perplexity did not improve from epoch 1 ($v1) to epoch 2 ($v2)"
grep -Eq '^epoch 2/3 .*  SGD' "$work/run.log" || fail "epoch 2 did not run SGD"
grep -q '^switching to ASGD after epoch 2 (--asgd-at)$' "$work/run.log" || fail "no switch to ASGD after epoch 2"
grep -Eq '^epoch 3/3 .*  ASGD' "$work/run.log" || fail "epoch 3 did not run ASGD"
line=$(grep -E '^test perplexity: ' "$work/run.log")
test_ppl=$(sed -nE 's/^test perplexity: ([0-9.]+) \(unigram baseline: ([0-9.]+)\).*/\1/p' <<< "$line")
base_ppl=$(sed -nE 's/^test perplexity: ([0-9.]+) \(unigram baseline: ([0-9.]+)\).*/\2/p' <<< "$line")
awk -v t="$test_ppl" -v b="$base_ppl" 'BEGIN { exit !(t != "" && b != "" && t + 0 < b + 0) }' ||
  fail "test perplexity '$test_ppl' is not below the unigram baseline '$base_ppl' (line: '$line')"
grep -Eq "^valid perplexity: $number \(unigram baseline: $number\)$" "$work/run.log" || fail "no final valid line"
[ -s "$work/out/best.h5" ] || fail "no checkpoint"
[ "$(head -n 1 "$work/out/loss.csv")" = "step,epoch,train_loss,lr,asgd,val_loss,val_ppl,elapsed_seconds" ] ||
  fail "loss.csv has no header"
steps=$(sed -nE 's/^step ([0-9]+)\/\1  .*/\1/p' "$work/run.log" | tail -n 1)
[ -n "$steps" ] && [ "$(tail -n +2 "$work/out/loss.csv" | wc -l)" -eq "$steps" ] ||
  fail "loss.csv does not have a row for each of the $steps steps"
IFS=, read -r _ epoch _ _ asgd val _ _ <<< "$(tail -n 1 "$work/out/loss.csv")"
[ "$epoch" = 3 ] && [ "$asgd" = 1 ] && [ -n "$val" ] || fail "the last csv row is not epoch 3, ASGD, validated"

# 2. Bad input: a message and exit 2 (options) or 1 (the text), never a crash.
expect() {  # expect RC REGEX ARGS...
  local want=$1 re=$2
  shift 2
  "$exe" "$@" > "$work/bad.log" 2>&1
  local got=$?
  [ $got -eq "$want" ] || fail "'$*' exited $got, expected $want: $(cat "$work/bad.log")"
  grep -Eq -e "$re" "$work/bad.log" || fail "'$*' printed no '$re': $(cat "$work/bad.log")"
}
expect 2 "word_lm: error: --wdrop must be in \[0, 1\), got 1" --wdrop 1
expect 2 "word_lm: error: --layers must be at least 2" --layers 1
expect 2 "word_lm: error: unknown option '--bogus'" --bogus 3
expect 2 "word_lm: error: option '--epochs' expects an integer, got 'x'" --epochs x
expect 1 "word_lm: error: cannot open the text file '$work/none.txt'" --data "$work/none.txt"
expect 1 "word_lm: error: .*each part needs at least 21" --max-tokens 100
expect 1 "word_lm: error: no epoch gave a finite validation loss \(the last: nan\); try a smaller --lr" \
  --max-tokens 3000 --epochs 1 --emb 8 --hidden 8 --lr 1e30 --csv "$work/nan/loss.csv" --checkpoint "$work/nan/best.h5"
expect 0 "^usage: word_lm \[options\]" --help
expect 0 "^  --nonmono X +NT-ASGD" --help

if [ $failures -eq 0 ]; then echo "word_lm smoke test passed"; else echo "$failures failure(s)"; exit 1; fi
