# shellcheck shell=bash
# scripts/lib.sh: helpers shared by the scripts in this directory. Sourced,
# never run. Owns: the repo root, messages, the root/cargo checks, installing
# missing Debian packages, and finding (or building) the jolt binary.
# It does not change directory: each script resolves its arguments against
# the caller's directory first and then cds to "$REPO" itself.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
CALLER_PWD=$PWD
PROG=$(basename "$0")

say() { printf '%s: %s\n' "$PROG" "$*"; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }
die() {
	printf '%s: error: %s\n' "$PROG" "$*" >&2
	exit 1
}
step() { printf '\n==> %s\n' "$*"; }

# abspath PATH: PATH made absolute against the caller's directory; PATH need
# not exist.
abspath() { (cd "$CALLER_PWD" && realpath -m -- "$1"); }

# need_root WHY
need_root() {
	[[ $(id -u) -eq 0 ]] || die "must run as root ($1); try: sudo $0"
}

# need_cargo: cargo on PATH, or a clear message on how to get it. sudo and
# login shells often drop ~/.cargo/bin from PATH, so look there too.
need_cargo() {
	if ! command -v cargo >/dev/null && [[ -x ${HOME:-/root}/.cargo/bin/cargo ]]; then
		PATH=${HOME:-/root}/.cargo/bin:$PATH
		export PATH
	fi
	command -v cargo >/dev/null || die "cargo not found. Install Rust (stable) with rustup:
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y
    . \"\$HOME/.cargo/env\"
and run $PROG again."
}

# apt_installed PACKAGE: whether dpkg has PACKAGE installed.
apt_installed() {
	[[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) == installed ]]
}

# apt_install_missing PACKAGE...: apt-get install the packages that are not
# installed yet (without their recommends), with at most one apt-get update.
# Says what it installs.
apt_install_missing() {
	local missing=() p
	for p in "$@"; do
		apt_installed "$p" || missing+=("$p")
	done
	((${#missing[@]})) || return 0
	need_root "to install Debian packages: ${missing[*]}"
	command -v apt-get >/dev/null ||
		die "apt-get not found; install these packages by hand: ${missing[*]}"
	say "installing with apt-get: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get -q -o DPkg::Lock::Timeout=300 update </dev/null
	apt-get -q -y -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 install --no-install-recommends \
		"${missing[@]}" </dev/null
}

# resolve_jolt if-missing|always: set JOLT to the absolute path of the jolt
# binary. An explicit JOLT=path (or a command name on PATH) is used as it
# is. Otherwise target/release/jolt, built with cargo when it is missing, or
# built always (a no-op when it is up to date).
resolve_jolt() {
	if [[ -n ${JOLT:-} ]]; then
		local given=$JOLT
		if [[ $given == */* ]]; then
			JOLT=$(abspath "$given")
		else
			JOLT=$(command -v "$given") || die "JOLT=$given: no such command on PATH"
		fi
		[[ -f $JOLT && -x $JOLT ]] || die "JOLT=$given: $JOLT is not an executable file"
		return 0
	fi
	local target=${CARGO_TARGET_DIR:-target}
	[[ $target == /* ]] || target=$REPO/$target
	JOLT=$target/release/jolt
	if [[ $1 == always || ! -x $JOLT ]]; then
		need_cargo
		say "building jolt: cargo build --release -p jolt-runtime"
		(cd "$REPO" && cargo build --release -p jolt-runtime)
		[[ -x $JOLT ]] || die "cargo build succeeded but $JOLT is missing"
	fi
}
