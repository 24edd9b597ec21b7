#!/bin/sh
# The recorded vectors in tests/vectors are the shared ones, unchanged: their
# checksums match tests/vectors/SHA256SUMS (taken from ../shared/vectors),
# and where ../shared/vectors exists next to the clone, the files are
# byte-identical to it. Tests replay them as they are; never edit a vector.
set -eu
src=$(cd "$1" && pwd)
cd "$src/tests/vectors"
sha256sum --quiet -c SHA256SUMS
echo "tests/vectors: $(wc -l < SHA256SUMS) files match SHA256SUMS"
shared="$src/../shared/vectors"
if [ -d "$shared" ]; then
    for f in $(awk '{print $2}' SHA256SUMS); do
        cmp -s "$f" "$shared/$f" || { echo "$f differs from $shared/$f"; exit 1; }
    done
    echo "and are identical to $shared"
fi
