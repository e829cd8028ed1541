#!/bin/sh
# Installs what sim/netns needs when it is missing (Debian; root): iproute2 (ip netns, veth,
# bridge), iptables (NAT, loss, NFQUEUE) and python3 (the packet delay, sim/netns/delay.py).
# Prints one line per tool; exits non-zero when one is still missing.
set -eu
missing=""
command -v ip >/dev/null 2>&1 || missing="$missing iproute2"
command -v iptables >/dev/null 2>&1 || missing="$missing iptables"
command -v python3 >/dev/null 2>&1 || missing="$missing python3"
if [ -n "$missing" ]; then
  if [ "$(id -u)" != "0" ]; then echo "netns-deps: missing:$missing (installing needs root)" >&2; exit 1; fi
  echo "netns-deps: installing$missing" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
status=0
for tool in ip iptables python3; do
  if path=$(command -v "$tool"); then echo "netns-deps: $tool $path"; else echo "netns-deps: $tool still missing" >&2; status=1; fi
done
exit $status
