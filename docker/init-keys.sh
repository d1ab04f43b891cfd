#!/bin/bash
# docker/init-keys.sh DIR - create the personal-data master key for a container deployment
# (installed as /opt/hotline/scripts/init-keys in the tools image): DIR/master.key holding
# "v1:<base64 of 32 random bytes>" (mode 0600; see common/include/hl/keyring.h) and the
# retention-period key directory DIR/periods (mode 0700), and DIR/report-signing.pem, the Ed25519
# key that signs reporting's daily reports. Never overwrites an existing key: losing the master
# key makes every encrypted caller field unreadable, a new signing key breaks nothing stored but
# verifiers must learn it.
#
# This is for development and test stacks (docker/compose.yaml). In production the master key
# comes from a secret store and the period keys live on their own volume (docs/operations.md).
set -euo pipefail

[[ $# -eq 1 && -n $1 ]] || {
	echo "usage: init-keys DIR" >&2
	exit 2
}
dir=$1
umask 077
mkdir -p "$dir/periods"
chmod 700 "$dir/periods"
if [[ ! -s $dir/master.key ]]; then
	tmp=$(mktemp "$dir/.master.XXXXXX")
	printf 'v1:%s\n' "$(head -c 32 /dev/urandom | base64 -w0)" >"$tmp"
	chmod 600 "$tmp"
	# link(2) refuses to replace a key another run created meanwhile.
	if ! ln "$tmp" "$dir/master.key" 2>/dev/null; then
		[[ -s $dir/master.key ]] || { rm -f "$tmp"; echo "init-keys: cannot create $dir/master.key" >&2; exit 1; }
	fi
	rm -f "$tmp"
	echo "init-keys: created $dir/master.key" >&2
else
	echo "init-keys: $dir/master.key exists, kept" >&2
fi
if [[ ! -s $dir/report-signing.pem ]]; then
	openssl genpkey -algorithm ed25519 -out "$dir/report-signing.pem.tmp"
	chmod 600 "$dir/report-signing.pem.tmp"
	mv -n "$dir/report-signing.pem.tmp" "$dir/report-signing.pem"
	rm -f "$dir/report-signing.pem.tmp"
	echo "init-keys: created $dir/report-signing.pem" >&2
fi
