#!/usr/bin/env bash
# `make paper` sets itself up like `make setup`: LaTeX (Debian's texlive-latex-recommended and
# latexmk) is installed where it is missing and system packages can be installed (root, or sudo
# without a password); otherwise this says the one line to run and fails, so that `make paper`
# never ends with exit 0 and no PDF.
set -euo pipefail
if command -v latexmk >/dev/null && command -v pdflatex >/dev/null; then
    exit 0
fi
pkgs=(texlive-latex-recommended latexmk)
if ! command -v apt-get >/dev/null; then
    echo "error: LaTeX is missing and this is not a Debian-like system: install latexmk and pdflatex (TeX Live), then run make paper again" >&2
    exit 1
fi
if [ "$(id -u)" = 0 ]; then
    sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
else
    echo "error: LaTeX is missing; run: sudo apt-get install --no-install-recommends ${pkgs[*]}" >&2
    exit 1
fi
echo "installing LaTeX (${pkgs[*]}) for the paper" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${pkgs[@]}" >/dev/null \
    || { "${sudo[@]}" apt-get update -qq >/dev/null && "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null; }
command -v latexmk >/dev/null && command -v pdflatex >/dev/null
