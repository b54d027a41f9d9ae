#!/usr/bin/env bash
# Builds memmatte_ofxhost (memmatte_ofxhost.cpp, this folder) against the official OpenFX
# HostSupport library of a fetched copy of github.com/AcademySoftwareFoundation/openfx.
# Nothing of that repository is kept in memmatte: fetch it yourself, e.g.
#
#   git clone https://github.com/AcademySoftwareFoundation/openfx /tmp/openfx
#   bash hosts/ofx/hostsupport/build.sh /tmp/openfx /tmp/memmatte-ofxhost   # → /tmp/memmatte-ofxhost/memmatte_ofxhost
#
# Needs g++ (C++17) and expat (libexpat1-dev).
set -euo pipefail
openfx=${1:?usage: build.sh OPENFX_CHECKOUT BUILD_DIR}
out=${2:?usage: build.sh OPENFX_CHECKOUT BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out/obj"
objects=()
for source in "$openfx"/HostSupport/src/*.cpp "$here/memmatte_ofxhost.cpp"; do
  object="$out/obj/$(basename "${source%.cpp}").o"
  if [ ! -f "$object" ] || [ "$source" -nt "$object" ]; then
    g++ -std=c++17 -O1 -fPIC -w -I"$openfx/include" -I"$openfx/HostSupport/include" \
      -c "$source" -o "$object"
  fi
  objects+=("$object")
done
g++ -o "$out/memmatte_ofxhost" "${objects[@]}" -lexpat -ldl -lpthread
echo "$out/memmatte_ofxhost"
