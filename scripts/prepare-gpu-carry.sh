#!/usr/bin/env bash
# Prepares, here, what the GPU machine needs but cannot fetch (it reaches no
# registry and gets only the repository): the -dev packages it lacks, in
# .deps/debs (unpacked there by gpu-check.sh with dpkg -x), and ../shared
# (fixtures and configs) packed as .deps/shared.tar.xz. Both are git-ignored
# and travel with the device tool's `carry` (64 MiB in all).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .deps/debs
(cd .deps/debs && apt-get download libicu72 libicu-dev libcpp-httplib-dev libcpp-httplib0.11 libzip-dev libzip4 zlib1g-dev libssl-dev libbrotli-dev \
  libwebp-dev libwebp7 libwebpmux3 libwebpdemux2)
tar -cJf .deps/shared.tar.xz -C .. shared/fixtures/reference shared/configs
du -sh .deps/debs .deps/shared.tar.xz
