#!/bin/bash
# Python 3.13, before you stop: the fast tier and the four Colab notebooks under Python 3.13, in a Debian 13
# ("trixie") chroot on a Debian 12 host. Needs root, the Debian mirror the host's apt uses, and PyPI. From a clone
# with ../shared beside it (it runs the committed HEAD, cloned into the chroot: commit first):
#   bash tools/py313.sh                     # fast tier + notebooks, with Colab's X/GL libraries
#   COLAB_LIBS=0 bash tools/py313.sh        # notebooks without them (the optional MediaPipe step must skip)
# 1. tests: a Python 3.13 venv (/opt/py313-tests, kept), kerasseg editable from the clone with the extras the
#    tests use and mediapipe==1.1.0 (as tools/setup-tests.sh), resolved by pip from setup.py's ranges as a 3.13
#    user's would be (constraints.txt is CPython 3.11's set; the versions go to $OUT/tests.freeze.txt), ../shared
#    mounted read-only beside the clone, then the fast tier, `python -m pytest -n 2`, with CI=true (a skip fails).
#    Not the crf extra: pydensecrf2 1.1 (its only release) ships Cython output that does not compile against
#    Python 3.13's headers, so its one test is deselected.
# 2. notebooks, as a fresh Colab user runs them: a runtime with TensorFlow preinstalled (a kept template venv),
#    KERASSEG_SOURCE set to a wheel built with `pip wheel --no-deps .`, the notebook's own install cell doing the
#    install, then the small CI settings; no ../shared (CamVid reaches the notebooks as a file:// URL).
# COLAB_LIBS=0 removes libxcb1 libgl1 libglib2.0-0t64 libegl1 libgles2 from the chroot (present on Colab) and runs
# only the notebooks (the fast tier's MediaPipe tests need them, as on any machine tools/setup-tests.sh set up).
# STEPS ("tests notebooks"), NOTEBOOKS, R (the chroot, kept), OUT, MIRROR, TF override the defaults below.
# Set-up ~5 min the first time; then ~5-10 min for the tests and ~5-13 min for the notebooks on 2 cores.
# Adapted from ../shared/tools/py313-notebooks.sh.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$REPO/../shared}
CAMVID=${CAMVID:-$SHARED/data/camvid}
R=${R:-/tmp/trixie}
COLAB_LIBS=${COLAB_LIBS:-1}
if [ "$COLAB_LIBS" = 1 ]; then STEPS=${STEPS:-"tests notebooks"}; else STEPS=${STEPS:-notebooks}; fi
MIRROR=${MIRROR:-$(grep -hm1 -E '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}')}
MIRROR=${MIRROR:-$(grep -hm1 -E '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}')}
[ -n "$MIRROR" ] || { echo "py313.sh: no Debian mirror found in the host's apt sources; set MIRROR" >&2; exit 1; }
TF=${TF:-2.21.0}                            # what Colab preinstalls; the newest TensorFlow setup.py allows
NOTEBOOKS=${NOTEBOOKS:-"01_convolution_types 02_train_pspnet 03_architectures_tour 04_export_to_android"}
OUT=${OUT:-$REPO/build/py313-results$([ "$COLAB_LIBS" = 1 ] || echo -nolibs)}
LIBS="libxcb1 libgl1 libglib2.0-0t64 libegl1 libgles2"
[ "$(id -u)" = 0 ] || { echo "py313.sh: needs root (debootstrap, chroot, mount)" >&2; exit 1; }

command -v debootstrap >/dev/null || { apt-get update -q && apt-get install -y -q debootstrap; }
[ -x "$R/usr/bin/apt-get" ] || debootstrap --variant=minbase trixie "$R" "$MIRROR"
cp /etc/resolv.conf "$R/etc/resolv.conf"
# Only where egress passes a TLS-intercepting proxy: trust the host's local CAs inside the chroot too.
mkdir -p "$R/usr/local/share/ca-certificates"
cp /usr/local/share/ca-certificates/*.crt "$R/usr/local/share/ca-certificates/" 2>/dev/null || true

cleanup() {
  umount -R "$R/root/shared" 2>/dev/null || true
  umount -R "$R/mnt/camvid" 2>/dev/null || true
  umount -R "$R/sys" "$R/dev" "$R/proc" 2>/dev/null || true
}
trap cleanup EXIT
mount -t proc proc "$R/proc"
mount --rbind /dev "$R/dev" && mount --make-rslave "$R/dev"
mount --rbind /sys "$R/sys" && mount --make-rslave "$R/sys"

CA=/etc/ssl/certs/ca-certificates.crt
in_chroot() {
  chroot "$R" /usr/bin/env -i PATH=/opt/colab/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive PIP_CERT=$CA REQUESTS_CA_BUNDLE=$CA SSL_CERT_FILE=$CA \
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180 "$@"
}
in_chroot apt-get update -q >/dev/null
in_chroot apt-get install -y -q --no-install-recommends python3 python3-venv python3-pip git ca-certificates >/dev/null
if [ "$COLAB_LIBS" = 1 ]; then
  # present on Colab; opencv-contrib-python (pulled by mediapipe) and mediapipe need them
  in_chroot apt-get install -y -q --no-install-recommends $LIBS >/dev/null
else
  in_chroot apt-get purge -y -q $LIBS >/dev/null 2>&1 || true
  in_chroot apt-get autoremove -y -q >/dev/null
fi
in_chroot update-ca-certificates >/dev/null   # picks up the copied local CAs

mkdir -p "$OUT"
rm -rf "$R/root/kerasseg" "$R/root/wheels"
git clone -q "$REPO" "$R/root/kerasseg"
echo "py313.sh: $(git -C "$R/root/kerasseg" log -1 --format='%h %s' | cut -c1-100)" | tee "$OUT/summary.txt"
in_chroot python3 -c 'import sys; print("Python", sys.version.split()[0])' | tee -a "$OUT/summary.txt"
echo "Colab's X/GL libraries ($LIBS): $([ "$COLAB_LIBS" = 1 ] && echo present || echo absent)" | tee -a "$OUT/summary.txt"

if [[ " $STEPS " == *" tests "* ]]; then
  [ -d "$SHARED" ] || { echo "py313.sh: $SHARED (the tests' shared data) is missing; set SHARED" >&2; exit 1; }
  mkdir -p "$R/root/shared" && mount --bind "$SHARED" "$R/root/shared" && mount -o remount,bind,ro "$R/root/shared"
  [ -x "$R/opt/py313-tests/bin/python" ] || in_chroot python3 -m venv /opt/py313-tests
  tests_env() { in_chroot env PATH=/opt/py313-tests/bin:/usr/bin:/bin "$@"; }
  tests_env pip install -q --upgrade pip
  tests_env bash -c 'cd /root/kerasseg && pip install -q -e ".[cpu,data,export,dev]" mediapipe==1.1.0 && pip check'
  tests_env pip freeze --exclude-editable > "$OUT/tests.freeze.txt"
  start=$SECONDS
  set +e
  tests_env bash -c 'cd /root/kerasseg && CI=true NO_ALBUMENTATIONS_UPDATE=1 python -m pytest -n 2 -p no:cacheprovider \
    -rfE --deselect tests/test_evaluation.py::test_dense_crf_cleans_noisy_predictions_along_an_edge' > "$OUT/tests.log" 2>&1
  status=$?
  set -e
  umount -R "$R/root/shared"
  echo "RESULT fast tier: $(grep -E '^[0-9]+ (passed|failed)|passed|failed' "$OUT/tests.log" | tail -1) (exit $status, $((SECONDS - start)) s wall)" \
    | tee -a "$OUT/summary.txt"
fi

if [[ " $STEPS " == *" notebooks "* ]]; then
  # The "Colab runtime": Python 3.13 venv with TensorFlow and a Jupyter kernel, kept as a template.
  if [ ! -d "$R/opt/colab-base" ]; then
    rm -rf "$R/opt/colab"
    in_chroot python3 -m venv /opt/colab
    in_chroot python -m pip install -q --upgrade pip
    in_chroot pip install -q "tensorflow==$TF" nbclient==0.11.0 nbformat==5.11.1 ipykernel==7.4.0 nbconvert
    cp -a "$R/opt/colab" "$R/opt/colab-base"
  fi
  if [ -d "$CAMVID" ]; then
    mkdir -p "$R/mnt/camvid" && mount --bind "$CAMVID" "$R/mnt/camvid" && mount -o remount,bind,ro "$R/mnt/camvid"
    CAMVID_URL=file:///mnt/camvid
  else
    CAMVID_URL=""                           # the notebooks then download SegNet's copy themselves
  fi
  # The wheel a user without a public repository address uploads (README "Notebooks"): `pip wheel --no-deps .`
  in_chroot bash -c 'cd /root/kerasseg && pip wheel --no-deps -q -w /root/wheels .'
  WHEEL=/$(cd "$R" && ls root/wheels/kerasseg-*.whl)
  cat > "$R/root/run_nb.py" <<'EOF'
"""Edit only KERASSEG_SOURCE, let the install cell install, then switch to the small settings in an inserted cell
(the install cell refuses to install while KERASSEG_NOTEBOOK_CI is set)."""
import re, sys, time
from pathlib import Path
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

name, wheel, workdir, outdir = sys.argv[1:5]
nb = nbformat.read(f"/root/kerasseg/notebooks/{name}.ipynb", as_version=4)
install = next(c for c in nb.cells if c.cell_type == "code")
install.source = re.sub(r"^KERASSEG_SOURCE = .*$", f'KERASSEG_SOURCE = "file://{wheel}"', install.source, count=1, flags=re.M)
nb.cells.insert(nb.cells.index(install) + 1, nbformat.v4.new_code_cell('import os\nos.environ["KERASSEG_NOTEBOOK_CI"] = "1"'))
Path(workdir).mkdir(parents=True, exist_ok=True)
start, status = time.time(), "PASSED"
try:
    NotebookClient(nb, timeout=3600, kernel_name="python3", resources={"metadata": {"path": workdir}}).execute()
except CellExecutionError as e:
    status = "FAILED\n" + str(e)[-4000:]
Path(outdir).mkdir(parents=True, exist_ok=True)
nbformat.write(nb, f"{outdir}/{name}.ipynb")
# what the notebook said about its optional steps (a skip must say so)
said = [line for cell in nb.cells for out in cell.get("outputs", []) for line in out.get("text", "").splitlines()
        if "skipped" in line or "cannot be imported" in line or line.startswith("Keras ")]
print("\n".join(f"  | {line}" for line in said))
print(f"RESULT {name}: {time.time() - start:.0f} s {status}", flush=True)
EOF
  for nb in $NOTEBOOKS; do                  # each notebook gets a fresh runtime, as on Colab
    rm -rf "$R/opt/colab" "$R/root/content-$nb" && cp -a "$R/opt/colab-base" "$R/opt/colab"
    in_chroot env KERASSEG_CAMVID_URL="$CAMVID_URL" MPLBACKEND=module://matplotlib_inline.backend_inline \
      python /root/run_nb.py "$nb" "$WHEEL" "/root/content-$nb" /root/executed 2>"$OUT/$nb.stderr" > "$OUT/$nb.log" || true
    in_chroot pip freeze > "$OUT/$nb.freeze.txt"
    cp "$R/root/executed/$nb.ipynb" "$OUT/" 2>/dev/null || true
    grep -E '^  \||^RESULT' "$OUT/$nb.log" | tee -a "$OUT/summary.txt" || echo "RESULT $nb: no result (see $OUT/$nb.stderr)" | tee -a "$OUT/summary.txt"
  done
fi
echo "py313.sh: summary in $OUT/summary.txt"
! grep -qE '^RESULT .*(FAILED|no result)|^RESULT fast tier: .*exit [1-9]' "$OUT/summary.txt"
