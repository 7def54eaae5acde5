# Shared by the engine build scripts (sourced, not run): a per-version cache of the binary, a quiet
# build in a temp dir that shows the tail of its log when it fails, and an atomic install.

# engine_cached OUT BINARY STAMP_FILE STAMP: prints OUT/BINARY and ends the script when the binary
# there was built for STAMP.
engine_cached() {
  if [ -x "$1/$2" ] && [ "$(cat "$1/$3" 2>/dev/null)" = "$4" ]; then
    echo "$1/$2"
    exit 0
  fi
}

# engine_workdir: a temp dir to build in (cd'ed into), `log` inside it; both gone on exit.
engine_workdir() {
  work=$(mktemp -d)
  log="$work/build.log"
  # On failure, show why (the build is quiet otherwise), then clean up.
  trap 'status=$?; if [ $status -ne 0 ] && [ -f "$log" ]; then tail -n 40 "$log" >&2; fi; rm -rf "$work"' EXIT
  cd "$work"
}

# engine_install OUT BUILT BINARY STAMP_FILE STAMP: moves the built binary into place (never a
# half-copied one under the real name), records the stamp, prints the path as the last line.
engine_install() {
  mkdir -p "$1"
  cp "$2" "$1/$3.tmp"
  mv "$1/$3.tmp" "$1/$3"
  echo "$5" > "$1/$4"
  echo "$1/$3"
}
