#!/bin/bash
# test_man.sh - the manual pages in docs/man/ against the programs: each page
# renders with groff -man -ww and no warning; its .TH names the page, its
# section and the version of the build; it has the sections every page needs;
# every command of `cfsctl --help` and every option of each program's --help
# (and each cfsctl COMMAND --help) is in its page; every key of
# `cfs-meta --print-config` and `cfs-data --print-config` is in its page with
# its description, range and default; every CFS_* variable a --help names is
# in the page; every cfs page a page refers to exists in that section.
# Skipped (77) without groff.
BIN=${CFS_BIN:-$PWD}
MAN=${srcdir:-$(dirname "$0")/../..}/docs/man
command -v groff >/dev/null || { echo "groff not installed: skipped"; exit 77; }
for p in cfs-fuse cfsctl cfs-meta cfs-data; do
	[ -x "$BIN/$p" ] || { echo "$p not built: skipped"; exit 77; }
done
T=$(mktemp -d /tmp/cfs-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
export LC_ALL=C
fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }

# the page as plain text: no hyphenation, one line per paragraph
render() { groff -man -Tascii -P-cbou -rLL=2000n "$1" 2>/dev/null; }
# one line, single spaces, no backquotes, lower case: for comparing prose
norm() { tr -d '`' | tr -s ' \t\n' '   ' | tr '[:upper:]' '[:lower:]'; }
version=$("$BIN/cfs-fuse" --version | sed -n 's/^cfs-fuse (CFS) //p')

for page in cfs-fuse.1 cfsctl.1 cfs-meta.8 cfs-data.8; do
	f=$MAN/$page name=${page%.*} sec=${page##*.}
	[ -f "$f" ] || { bad "$page: missing"; continue; }
	w=$(groff -man -ww -z "$f" 2>&1)
	[ -z "$w" ] && ok "$page: groff -man -ww: no warning" ||
		bad "$page: groff -man -ww: $w"
	if command -v man >/dev/null; then
		w=$(MANWIDTH=80 man --warnings -l "$f" 2>&1 >/dev/null)
		[ -z "$w" ] && ok "$page: man --warnings: no warning" ||
			bad "$page: man --warnings: $w"
	fi
	th=$(grep -m1 '^\.TH ' "$f")
	want=".TH $(echo "$name" | tr '[:lower:]' '[:upper:]') $sec "
	case $th in
	"$want"*"\"CFS $version\""*) ok "$page: .TH names $name($sec), CFS $version" ;;
	*) bad "$page: .TH is '$th', wants '$want... \"CFS $version\" ...'" ;;
	esac
	render "$f" >"$T/$name.txt"
	need=(NAME SYNOPSIS DESCRIPTION OPTIONS FILES ENVIRONMENT "EXIT STATUS"
		EXAMPLES "SEE ALSO")
	[ "$name" = cfsctl ] && need+=(COMMANDS)
	[ "$sec" = 8 ] || [ "$name" = cfs-fuse ] && need+=(SIGNALS)
	[ "$sec" = 8 ] && need+=(CONFIGURATION)
	missing=""
	for s in "${need[@]}"; do
		grep -qx "$s" "$T/$name.txt" || missing="$missing '$s'"
	done
	[ -z "$missing" ] && ok "$page: has every section" ||
		bad "$page: no section$missing"
	# references to our own pages name an existing page in that section
	for ref in $(grep -o 'cfs[a-z-]*([0-9])' "$T/$name.txt" | sort -u); do
		r=${ref%(*} n=${ref#*(}; n=${n%)}
		[ -f "$MAN/$r.$n" ] || bad "$page: refers to $ref, no such page"
	done
done

# every word of `cfsctl --help`'s COMMANDS lines ("  meta promote ID |
# meta demote ID": meta, promote, demote), as "command subcommand"
"$BIN/cfsctl" --help >"$T/cfsctl.help"
sed -n '/^COMMANDS/,/^[A-Z]/{/^  [a-z]/p}' "$T/cfsctl.help" >"$T/cmds"
[ -s "$T/cmds" ] || bad "cfsctl --help: no COMMANDS section found"
n=0
while read -r line; do
	IFS='|' read -ra parts <<<"$line"
	for part in "${parts[@]}"; do
		words=$(echo "$part" | tr ' ' '\n' | grep -x '[a-z][a-z-]*' |
			tr '\n' ' ' | sed 's/ $//')
		[ -n "$words" ] || continue
		n=$((n + 1))
		grep -q -- "$words" "$T/cfsctl.txt" ||
			bad "cfsctl.1: command '$words' (cfsctl --help) is missing"
	done
done <"$T/cmds"
[ "$n" -gt 20 ] && ok "cfsctl.1: all $n commands of cfsctl --help" ||
	bad "cfsctl.1: only $n commands found in cfsctl --help"

# every option of each --help is in the page
opts() { grep -o -- '--[a-z][a-z-]*\|^ *-[a-zA-Z],' | tr -d ' ,' | sort -u; }
check_opts() { # PAGE-NAME HELP-FILE
	local missing=""
	for o in $(opts <"$2"); do
		grep -q -- "$o\b" "$T/$1.txt" || missing="$missing $o"
	done
	[ -z "$missing" ] && ok "$1: every option of its --help" ||
		bad "$1: options missing:$missing"
}
for c in $(cut -c3- "$T/cmds" | cut -d' ' -f1 | sort -u); do
	"$BIN/cfsctl" "$c" --help | sed '/^Global options/,$d'
done >>"$T/cfsctl.help"
check_opts cfsctl "$T/cfsctl.help"
"$BIN/cfs-fuse" --help >"$T/cfs-fuse.help" 2>&1
check_opts cfs-fuse "$T/cfs-fuse.help"
for d in cfs-meta cfs-data; do
	"$BIN/$d" --help >"$T/$d.help"
	check_opts "$d" "$T/$d.help"
done

# CFS_* environment variables each --help names
for p in cfsctl cfs-fuse cfs-meta cfs-data; do
	missing=""
	for v in $(grep -o 'CFS_[A-Z]*' "$T/$p.help" | sort -u); do
		sed -n '/^ENVIRONMENT/,/^[A-Z]/p' "$T/$p.txt" | grep -q "$v" ||
			missing="$missing $v"
	done
	[ -z "$missing" ] && ok "$p: ENVIRONMENT has every variable of --help" ||
		bad "$p: ENVIRONMENT lacks$missing"
done

# every configuration key, with its description, range and default: the
# key's entry is its tag line ("       KEY = ...") and what follows, up to
# the next line indented as little
for d in cfs-meta cfs-data; do
	"$BIN/$d" --print-config >"$T/$d.conf"
	n=0 missing=""
	while IFS= read -r line; do
		case $line in
		"# range: "*)
			range=${line#\# range: }; range=${range%%  default: *}
			def=${line##*  default: } ;;
		"#"[a-z]*" = "*)
			key=${line#\#}; key=${key%% = *}; n=$((n + 1))
			entry=$(awk -v k="$key" '
				f && /^ {0,7}[^ ]/ { exit }
				!f && index($0, "       " k " ") == 1 { f = 1 }
				f' "$T/$d.txt" | norm)
			if [ -z "$entry" ]; then
				bad "$d.8: no entry for key $key"
				missing=1
				continue
			fi
			# "Default: 20s." or "Default: "" (none)."
			for want in "$(printf '%s' "$doc" | norm)" \
				"$(printf 'range: %s.' "$range" | norm)" \
				"$(printf 'default: %s' "$def" | norm)"; do
				case $entry in
				*"$want"[.\ ]*) ;;
				*) bad "$d.8: key $key: '$want' is not in its entry"
				   missing=1 ;;
				esac
			done ;;
		"# "*) doc=${line#\# } ;;
		esac
	done <"$T/$d.conf"
	[ "$n" -gt 5 ] || bad "$d --print-config: only $n keys"
	[ -z "$missing" ] &&
		ok "$d.8: all $n keys of --print-config, with range and default"
done
exit $fail
