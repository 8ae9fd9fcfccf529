#!/usr/bin/env bash
# run_rnn_check_must_fail.sh CHECKER DIR ARGS...: runs CHECKER on each
# DIR/*.h5 separately and passes only when EVERY case is reported outside the
# tolerance (exit 1). A case that passes (0) or cannot be read (2) fails this
# test. Exits 77 (skipped) when DIR is absent or holds no case.
checker=$1 dir=$2
shift 2
shopt -s nullglob
cases=("$dir"/*.h5)
if [ ! -d "$dir" ] || [ ${#cases[@]} -eq 0 ]; then
  echo "skipped: no reference case in $dir"
  exit 77
fi
bad=0
for c in "${cases[@]}"; do
  out=$("$checker" "$c" "$@")
  rc=$?
  echo "${out%%$'\n'*}"
  if [ "$rc" -ne 1 ]; then
    echo "NOT REJECTED (exit $rc): $c"
    bad=1
  fi
done
[ $bad -eq 0 ] && echo "all ${#cases[@]} wrong cases rejected"
exit $bad
