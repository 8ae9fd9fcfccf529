#!/usr/bin/env bash
# run_rnn_check.sh CHECKER DIR PATTERN ARGS...: runs CHECKER on every
# DIR/PATTERN file (PATTERN may start with '!' to take every .h5 NOT matching
# it); exits 77 (skipped) with a message when DIR is absent or nothing matches.
checker=$1 dir=$2 pattern=$3
shift 3
if [ ! -d "$dir" ]; then
  echo "skipped: $dir does not exist"
  exit 77
fi
shopt -s nullglob extglob
if [ "${pattern:0:1}" = "!" ]; then
  cases=("$dir"/!(${pattern:1}))
else
  cases=("$dir"/$pattern)
fi
if [ ${#cases[@]} -eq 0 ]; then
  echo "skipped: no reference case matching $pattern in $dir"
  exit 77
fi
exec "$checker" "${cases[@]}" "$@"
