# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Stand-in for the pip bootstrap script ansible-test downloads into each new sanity virtual environment.

ansible-test fetches that script from its own CI file host, which a network limited to the package index
cannot reach; scripts/sanity.sh puts this one in its cache instead. It takes the same arguments (pip install
options and packages, plus --no-setuptools / --no-wheel): pip comes from the interpreter's bundled ensurepip
wheel, then installs the requested packages (the pip version ansible-test pins) from the package index.
"""

import subprocess
import sys


def main():
    args = sys.argv[1:]
    drop = [name for flag, name in (("--no-setuptools", "setuptools"), ("--no-wheel", "wheel")) if flag in args]
    args = [arg for arg in args if arg not in ("--no-setuptools", "--no-wheel")]
    # In a child process: ensurepip points PIP_CONFIG_FILE at /dev/null for the rest of its process, which
    # would hide the pip configuration (index, certificates) from the install below.
    subprocess.check_call([sys.executable, "-m", "ensurepip"])
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--upgrade"] + args)
    # ensurepip brings setuptools along; ansible-test asked for an environment without it.
    if drop:
        subprocess.check_call([sys.executable, "-m", "pip", "uninstall", "--yes", "--quiet"] + drop)


if __name__ == "__main__":
    main()
