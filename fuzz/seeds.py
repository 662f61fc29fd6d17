#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora, from the fixtures the real Remix packages wrote
(tests/fixtures/remix-vectors.json), into the directory given (one folder per target)."""
import base64
import json
import pathlib
import sys

out = pathlib.Path(sys.argv[1])
root = pathlib.Path(__file__).resolve().parent.parent
vectors = json.loads((root / "tests/fixtures/remix-vectors.json").read_text())


def b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        return b""


seeds = {"cookie_header": [], "payload": [], "records": [], "load_path": [], "encrypted_cookie": []}
for write in vectors["writes"]:
    pair = write["setCookie"].split(";")[0]
    seeds["cookie_header"].append(pair.encode())
    seeds["load_path"].append(f"theme=dark; {pair}".encode())
    seeds["payload"].append(b64decode(write["cookieValue"].rsplit(".", 1)[0]))
for read in vectors["reads"]:
    cookie = read.get("cookie") or ""
    seeds["cookie_header"].append(cookie.encode())
    seeds["load_path"].append(cookie.encode())
    if "=" in cookie:
        value = cookie.split(f"{read.get('name', '__session')}=", 1)[-1].split(";")[0]
        seeds["payload"].append(b64decode(value.rsplit(".", 1)[0]))
# Encrypted cookies: the unedited valid cookie, a few edits of it (see the target), and the
# plain headers of the other targets.
seeds["encrypted_cookie"] += [b"\x00", b"\x00\x00A\x05z", b"\x00\xff\x00\x10\x10"]
seeds["encrypted_cookie"] += seeds["load_path"][:8]
seeds["payload"] += [
    br'{"i":"x","d":[{"a":"\ud800"},{}],"t":[1,2]}',
    br'{"i":"x","d":[{"n":18446744073709551615},{"f":1e+21}]}',
    br'{"i":"x","d":[{"user":"ada"},{}],"t":[1,2],"l":2592000}',
    br'{"i":"x","d":[{},{}],"l":0}',
]
seeds["records"] += [
    br'{"v":1,"d":[{"user":"ada"},{"notice":"hi"}],"t":[1700000000,1700000000],"e":1701209600}',
    br'{"v":1,"to":"00000000-0000-4000-8000-000000000000","e":1700000030}',
    br'{"v":1,"to":null,"e":1700000030}',
    br'{"v":1,"d":[{"user":"ada"},{}],"t":[1700000000,1700000000],"e":1702592000,"l":2592000}',
    b'm\x00[1700000000,1700000000]\x00v:user\x00"ada"\x00f:notice\x00"hi"',
]
for target, items in seeds.items():
    folder = out / target
    folder.mkdir(parents=True, exist_ok=True)
    for index, item in enumerate(items):
        (folder / f"seed-{index:03}").write_bytes(item)
    print(f"{target}: {len(items)} seeds")
