#!/usr/bin/env bash
# Refresh static/vendor/tfjs-<version>/ from node_modules (run `npm ci` first).
# The directory name carries the version, so browsers may cache its files forever; a new version is a new path.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(node -p "require('./node_modules/@tensorflow/tfjs/package.json').version")
for pkg in tfjs-backend-wasm tfjs-backend-webgpu; do
    v=$(node -p "require('./node_modules/@tensorflow/$pkg/package.json').version")
    [ "$v" = "$version" ] || { echo "version mismatch: @tensorflow/$pkg is $v, tfjs is $version" >&2; exit 1; }
done
out="static/vendor/tfjs-$version"
rm -rf "$out" && mkdir -p "$out"
nm=node_modules/@tensorflow
cp "$nm/tfjs/dist/tf.min.js" "$out/"
cp "$nm/tfjs-backend-wasm/dist/tf-backend-wasm.min.js" "$out/"
cp "$nm"/tfjs-backend-wasm/dist/tfjs-backend-wasm{,-simd,-threaded-simd}.wasm "$out/"
cp "$nm/tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js" "$out/"
cp /usr/share/common-licenses/Apache-2.0 "$out/LICENSE" 2>/dev/null || true
[ -s "$out/LICENSE" ] || { echo "no Apache-2.0 text found (Debian's /usr/share/common-licenses)" >&2; exit 1; }
cat > "$out/README.md" <<MD
TensorFlow.js $version, vendored unmodified from npm by scripts/vendor_tfjs.sh:
@tensorflow/tfjs (tf.min.js), @tensorflow/tfjs-backend-wasm (tf-backend-wasm.min.js, *.wasm),
@tensorflow/tfjs-backend-webgpu (tf-backend-webgpu.min.js). Copyright Google LLC, Apache License 2.0 (LICENSE).
MD
(cd "$out" && sha256sum -- * > SHA256SUMS)
echo "vendored TensorFlow.js $version into $out"
