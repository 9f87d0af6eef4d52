#!/usr/bin/env bash
# Downloads (here, where Debian's registry is reachable) the -dev packages the
# GPU machine lacks, into the git-ignored .deps/debs; gpu-check.sh unpacks them
# there with dpkg -x. Run once before carrying .deps to the GPU machine.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .deps/debs
cd .deps/debs
apt-get download libicu72 libicu-dev libcpp-httplib-dev libcpp-httplib0.11 libzip-dev libzip4 zlib1g-dev \
  libwebp-dev libwebp7 libwebpmux3 libwebpdemux2 libpcre2-dev libpcre2-8-0 libpcre2-16-0 libpcre2-32-0 libpcre2-posix3
ls -1
