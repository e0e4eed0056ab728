#!/usr/bin/env python3
"""A stand-in for the Hugging Face hub, for the `imgsearch model pull` tests: serves the
model folders under ROOT (ROOT/ORG/NAME/*) in the hub's URL layout.

    GET /api/models/ORG/NAME/revision/REV?blobs=true   -> {"sha", "siblings": [{rfilename,
        blobId (git blob sha1), size, lfs: {sha256, size} for *.safetensors}]}
    GET /ORG/NAME/resolve/REV/FILE   -> 302 to /cdn/ORG/NAME/FILE (as the hub sends LFS files to its CDN)
    GET /cdn/ORG/NAME/FILE           -> the bytes; honours "Range: bytes=N-" with 206

    hub_server.py ROOT LOG [--cut-after N] [--corrupt FILE]

--cut-after N: the first full (non-range) download of each LFS file stops after N bytes and
the connection is closed, as a dropped connection would. --corrupt FILE: that file's bytes
are served with one byte changed (its published checksum stays the original's). Prints the
port it listens on (127.0.0.1), then one line per request to LOG: "GET PATH RANGE".
"""
import argparse
import hashlib
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("log")
    parser.add_argument("--cut-after", type=int, default=0)
    parser.add_argument("--corrupt", default="")
    options = parser.parse_args()
    lock = threading.Lock()
    cut_done: set[str] = set()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def send_json(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            path = unquote(urlparse(self.path).path)
            with lock, open(options.log, "a") as log:
                log.write(f"GET {path} {self.headers.get('Range', '-')}\n")
            parts = path.strip("/").split("/")
            if parts[:2] == ["api", "models"] and len(parts) == 6 and parts[4] == "revision":
                return self.repository_info(parts[2] + "/" + parts[3], parts[5])
            if len(parts) == 5 and parts[2] == "resolve":
                self.send_response(302)
                self.send_header("Location", f"/cdn/{parts[0]}/{parts[1]}/{parts[4]}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if len(parts) == 4 and parts[0] == "cdn":
                return self.file(parts[1] + "/" + parts[2], parts[3])
            self.send_json(404, {"error": "not found"})

        def repository_info(self, repo: str, revision: str):
            folder = os.path.join(options.root, repo)
            if not os.path.isdir(folder) or revision not in ("main", COMMIT):
                return self.send_json(404, {"error": f"Repository {repo} not found"})
            siblings = []
            for name in sorted(os.listdir(folder)):
                data = open(os.path.join(folder, name), "rb").read()
                entry = {"rfilename": name, "blobId": git_blob_id(data), "size": len(data)}
                if name.endswith(".safetensors"):
                    entry["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
                siblings.append(entry)
            siblings.append({"rfilename": "pytorch_model.bin", "blobId": "0" * 40, "size": 1})  # never fetched
            self.send_json(200, {"id": repo, "sha": COMMIT, "siblings": siblings})

        def file(self, repo: str, name: str):
            full = os.path.join(options.root, repo, name)
            if not os.path.isfile(full):
                return self.send_json(404, {"error": "Entry not found"})
            data = bytearray(open(full, "rb").read())
            if name == options.corrupt:
                data[len(data) // 2] ^= 0xFF
            start = 0
            ranged = self.headers.get("Range", "")
            if ranged.startswith("bytes="):
                start = int(ranged[6:].split("-")[0])
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
            body = bytes(data[start:])
            self.send_response(206 if ranged else 200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            if ranged:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            key = repo + "/" + name
            if options.cut_after and not ranged and name.endswith(".safetensors") and key not in cut_done:
                with lock:
                    cut_done.add(key)
                self.wfile.write(body[: options.cut_after])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
