# Shared by the scripts that build a tool from the Go module proxy
# (hack/build-k8s.sh, hack/build-jaeger.sh, hack/build-otelcol.sh): a stamp that says which
# inputs built a binary, so that a current binary is not built again, and a
# `go build -v` filter that turns the package list into progress lines.
# Source it after defining log().

# stamp_current BIN STAMP says whether BIN exists and was built from STAMP.
stamp_current() {
	[ -x "$1" ] && [ "$(cat "$(dirname "$1")/.stamp.$(basename "$1")" 2>/dev/null)" = "$2" ]
}

# stamp_write BIN STAMP records that BIN was built from STAMP.
stamp_write() {
	echo "$2" >"$(dirname "$1")/.stamp.$(basename "$1")"
}

# go_build_progress reads `go build -v` output: it counts the packages as
# they are compiled, logs a progress line every 30 s, and passes compiler
# errors through. t0 is the build's start in $SECONDS.
go_build_progress() {
	local t0=$1 n=0 last=$SECONDS line
	while IFS= read -r line; do
		case $line in
		'#'* | 'go: '* | *.go:* | $'\t'*) printf '%s\n' "$line" >&2 ;;
		*)
			n=$((n + 1))
			if ((SECONDS - last >= 30)); then
				log "$n packages compiled, $(((SECONDS - t0) / 60))m$(((SECONDS - t0) % 60))s elapsed (now: $line)"
				last=$SECONDS
			fi
			;;
		esac
	done
	log "$n packages compiled; linking done"
}
