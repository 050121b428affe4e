#!/bin/sh
# slim-venv.sh VENV: drop what the services never use from the installed
# dependencies, so the runtime image stays small (TensorFlow alone is 1.3 GB
# as installed). Runs in the build stage, in the same step as pip install,
# so the removed files never reach a layer. Each cut, and why it is safe:
#   - tensorflow/include: C++ headers, only for compiling custom ops;
#   - libclang: a declared TensorFlow dependency that nothing imports
#     (it serves TensorFlow's own code generation tools);
#   - tests/ folders of the libraries (numpy, pandas, scipy, ...): their
#     own test suites, never imported by the library itself;
#   - gettext sources (*.po): only the compiled *.mo files are read;
#   - C, C++ and Cython sources and headers (*.c, *.h, *.cpp, *.pyx, *.pxd)
#     and type stubs (*.pyi): read by compilers and type checkers, never
#     when the services run;
#   - source maps (*.js.map, *.css.map) of the bundled Swagger UI, ReDoc and
#     admin scripts: only a browser's developer tools ask for them (the
#     static files are served as they are, no manifest checks references);
#   - symbols that no dynamic linker needs (strip --strip-unneeded) from
#     the shared libraries the wheels built themselves; libraries vendored
#     under *.libs by auditwheel are left alone (patchelf rewrote them).
set -eu
venv=$1
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
before=$(du -sm "$venv" | cut -f1)
"$venv/bin/pip" uninstall -q -y libclang
rm -rf "$site/tensorflow/include"
find "$site" -mindepth 2 -type d -name tests -prune -exec rm -rf {} +
find "$site" -type f -name '*.po' -delete
find "$site" -type f \( -name '*.js.map' -o -name '*.css.map' \) -delete
find "$site" -type f \( -name '*.c' -o -name '*.h' -o -name '*.cpp' -o -name '*.pyx' -o -name '*.pxd' \
    -o -name '*.pyi' \) -delete
find "$site" -type f -name '*.so*' ! -path '*.libs/*' -exec strip --strip-unneeded {} +
echo "slim-venv: $before MB -> $(du -sm "$venv" | cut -f1) MB"
