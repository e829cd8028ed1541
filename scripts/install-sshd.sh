#!/bin/sh
# Installs Debian's OpenSSH server binary for `npm run bench -- tunnel` (its `ssh -L` baseline).
# Only installs the package: the benchmark runs its own private sshd on 127.0.0.1 with its own
# config, host key and authorized key in a temp dir, and never starts or touches the system sshd.
# Idempotent; needs root (or sudo) and the Debian archive. Exit 0 when sshd is present.
set -eu
if [ -x /usr/sbin/sshd ] && command -v ssh >/dev/null 2>&1 && command -v ssh-keygen >/dev/null 2>&1; then
  echo "sshd present: $(/usr/sbin/sshd -V 2>&1 | head -1 || true)"
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# policy-rc.d 101 keeps the package's postinst from starting the system sshd service.
POLICY=/usr/sbin/policy-rc.d
CREATED_POLICY=0
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
  $SUDO chmod +x "$POLICY"
  CREATED_POLICY=1
fi
$SUDO apt-get install -y -qq --no-install-recommends openssh-server openssh-client >/dev/null
if [ "$CREATED_POLICY" = 1 ]; then $SUDO rm -f "$POLICY"; fi
echo "sshd installed: $(/usr/sbin/sshd -V 2>&1 | head -1 || true)"
