"""Fake host trees under a temporary root, built from dicts."""

import os
from pathlib import Path


def build_tree(root, tree):
    """Write a fake host tree from a dict.

    Keys are paths relative to root. A str value is a file's content, a
    dict is a directory, a Symlink is a symbolic link, and None makes
    an empty directory.
    """
    root = Path(root)
    for name, content in tree.items():
        path = root / name.lstrip("/")
        if isinstance(content, Symlink):
            path.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(content.target, path)
        elif isinstance(content, dict):
            path.mkdir(parents=True, exist_ok=True)
            build_tree(path, content)
        elif content is None:
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)
    return root


class Symlink:
    def __init__(self, target):
        self.target = target
