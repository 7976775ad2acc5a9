# Sourced by the scripts here: finds the CSTA reference oracle and a Python with asn1tools.
# ORACLE_DIR (default ../shared/tools/csta-oracle) and ORACLE_VENV (default target/oracle-venv)
# may be set by the caller.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ORACLE_DIR=${ORACLE_DIR:-$root/../shared/tools/csta-oracle}
ORACLE_VENV=${ORACLE_VENV:-$root/target/oracle-venv}
if [ ! -f "$ORACLE_DIR/gen_corpus.py" ]; then
  echo "CSTA oracle not found at $ORACLE_DIR (set ORACLE_DIR)" >&2
  exit 1
fi
if [ ! -x "$ORACLE_VENV/bin/python" ] || ! "$ORACLE_VENV/bin/python" -c 'import asn1tools' 2>/dev/null; then
  python3 -m venv "$ORACLE_VENV"
  "$ORACLE_VENV/bin/pip" install -q asn1tools==0.169.0
fi
ORACLE_PY=$ORACLE_VENV/bin/python
