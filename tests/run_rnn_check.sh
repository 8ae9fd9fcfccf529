#!/usr/bin/env bash
# run_rnn_check.sh CHECKER DIR ARGS...: runs CHECKER on every DIR/*.h5;
# exits 77 (skipped) with a message when DIR is absent or holds no case.
checker=$1 dir=$2
shift 2
if [ ! -d "$dir" ]; then
  echo "skipped: $dir does not exist"
  exit 77
fi
shopt -s nullglob
cases=("$dir"/*.h5)
if [ ${#cases[@]} -eq 0 ]; then
  echo "skipped: no .h5 reference case in $dir"
  exit 77
fi
exec "$checker" "${cases[@]}" "$@"
