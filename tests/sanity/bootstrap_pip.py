"""Bootstrap pip into ansible-test's sanity virtualenvs without its download host.

ansible-test fetches a pip bootstrap script from a CI host that this project's machines cannot
reach, and runs it with pip's install options and packages as arguments. The Makefile places
this file in ansible-test's cache under that script's name: it installs the pip that ships with
Python (ensurepip), then the requested packages from the package index.
"""
import subprocess
import sys

# In a child process: ensurepip hides pip's config files from its own environment, and the
# install below needs them (index, certificates).
subprocess.check_call([sys.executable, "-m", "ensurepip"])
# get-pip's own flags; plain pip does not know them.
args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
