#!/usr/bin/python3
"""Runs imwire's codec vectors (vectors/codec/*.json) in plain Python.

Written from vectors/README.md alone, as an implementer in another language
would, with stock Debian packages only: python3-protobuf (the message classes,
generated from proto/ by protobuf-compiler's protoc into a temporary directory
at every run) and python3-lz4 (liblz4's block decoder).

Every case runs whole and, in the stream form, fed one byte at a time and cut
at random points; valid cases are also re-encoded. Cases that need a check a
stock protobuf runtime does not make ("needs": ["strict-wire"]) are skipped
knowingly and listed. Output is TAP; the last line is a plain summary.

    /usr/bin/python3 conformance/python/run-codec-vectors.py [--dir VECTORS_DIR]

Exit codes: 0 every case passed or was knowingly skipped, 1 a case failed,
2 usage error or a missing package.
"""

import argparse
import glob
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEBIAN = "apt-get install python3-protobuf protobuf-compiler python3-lz4"

# vectors/README.md, "Fields of a case": limits a case does not set.
DEFAULT_LIMITS = {"maxFrameBytes": 1048576, "maxBatchBytes": 4194304, "maxBatchFrames": 1024, "lz4Enabled": True}
# Checks this runner implements beyond its protobuf runtime ("needs").
IMPLEMENTED_NEEDS = set()
IMPLEMENTED_FEATURES = {"lz4"}

FRAME_TOO_LARGE, MALFORMED_FRAME, BAD_BATCH, BATCH_TOO_LARGE = 3503, 3504, 3505, 3506
TRANSPORT_LOSS = "transport loss"
BATCH_CODEC_NONE, BATCH_CODEC_LZ4_BLOCK = 1, 2


def fatal(message):
    print(f"Bail out! {message}")
    sys.exit(2)


def load_runtime():
    """Imports the Debian modules and generates the Frame class with protoc."""
    try:
        from google.protobuf import json_format, message  # noqa: F401
        import lz4.block  # noqa: F401
    except ImportError as err:
        fatal(f"{err.name} is missing for {sys.executable}: {DEBIAN} (and run Debian's /usr/bin/python3)")
    protoc = shutil.which("protoc")
    if protoc is None:
        fatal(f"protoc is missing: {DEBIAN}")
    out = tempfile.mkdtemp(prefix="imwire-py-")
    protos = sorted(glob.glob(os.path.join(ROOT, "proto", "imwire", "v1", "*.proto")))
    res = subprocess.run([protoc, "-I", os.path.join(ROOT, "proto"), f"--python_out={out}", *protos],
                         capture_output=True, text=True)
    if res.returncode != 0:
        fatal(f"protoc failed: {res.stderr.strip()}")
    sys.path.insert(0, out)
    from imwire.v1 import frame_pb2
    return frame_pb2.Frame


Frame = load_runtime()
from google.protobuf import json_format  # noqa: E402
from google.protobuf.message import DecodeError  # noqa: E402
import lz4.block  # noqa: E402


class Refused(Exception):
    """Decoding or expansion failed with a close code, or the stream was cut (TRANSPORT_LOSS)."""

    def __init__(self, close, why):
        super().__init__(f"{close}: {why}")
        self.close = close


class QuietStderr:
    """The C++ backend logs every string with invalid UTF-8 to file descriptor 2 before raising
    DecodeError; the exception is what counts, so that log is dropped."""

    def __enter__(self):
        sys.stderr.flush()
        self.saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)

    def __exit__(self, *exc):
        os.dup2(self.saved, 2)
        os.close(self.saved)


def parse_frame(data):
    """README "Parsing a frame": one Frame, or 3504."""
    try:
        with warnings.catch_warnings(), QuietStderr():
            # python-protobuf warns (and stops) at an end-group tag with no group
            # open; that case is marked strict-wire and skipped.
            warnings.simplefilter("ignore")
            return Frame.FromString(bytes(data))
    except DecodeError as err:
        raise Refused(MALFORMED_FRAME, f"not a Frame: {err}") from None


def read_prefix(buf, pos):
    """A length prefix at buf[pos:]: (value, next pos), or None when the bytes end inside it."""
    value = 0
    for i in range(5):
        if pos + i >= len(buf):
            return None
        byte = buf[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if byte < 0x80:
            if value >= 1 << 32:
                raise Refused(MALFORMED_FRAME, "length prefix >= 2^32")  # [FRM-4]
            return value, pos + i + 1
    raise Refused(MALFORMED_FRAME, "length prefix longer than 5 bytes")  # [FRM-4]


class StreamDecoder:
    """README "Form stream": frames from a TCP stream that arrives in arbitrary pieces."""

    def __init__(self, max_frame_bytes):
        self.max = max_frame_bytes
        self.buf = bytearray()

    def push(self, chunk):
        self.buf += chunk
        frames, pos = [], 0
        while pos < len(self.buf):
            prefix = read_prefix(self.buf, pos)
            if prefix is None:
                break
            length, start = prefix
            if length > self.max:  # [FRM-3] from the prefix, before buffering the frame
                raise Refused(FRAME_TOO_LARGE, f"frame of {length} bytes announced")
            if len(self.buf) - start < length:
                break
            frames.append(parse_frame(self.buf[start:start + length]))
            pos = start + length
        del self.buf[:pos]
        return frames

    def end(self):
        if self.buf:  # [FRM-8] cut inside a frame: discarded, never decoded
            raise Refused(TRANSPORT_LOSS, f"stream ended inside a frame ({len(self.buf)} bytes held)")


def decode_frame_form(data, limits):
    """README "Form frame"."""
    if len(data) > limits["maxFrameBytes"]:
        raise Refused(FRAME_TOO_LARGE, f"frame of {len(data)} bytes")
    return [parse_frame(data)]


def check_lz4_offsets(block):
    """Walks the sequences of an LZ4 block and refuses a match offset of 0, which liblz4 1.9.4
    accepts (README "LZ4 blocks"). Other corruption is left to liblz4."""
    ip, end = 0, len(block)
    while ip < end:
        token = block[ip]
        ip += 1
        literals = token >> 4
        if literals == 15:
            while ip < end:
                literals += block[ip]
                ip += 1
                if block[ip - 1] != 255:
                    break
        ip += literals
        if ip >= end:
            return  # the last sequence has no match
        if ip + 2 > end:
            return  # truncated offset: liblz4 refuses it
        if block[ip] == 0 and block[ip + 1] == 0:
            raise Refused(BAD_BATCH, "LZ4 match offset 0")  # [BAT-6]
        ip += 2
        if token & 15 == 15:
            while ip < end and block[ip] == 255:
                ip += 1
            ip += 1


def decompress_lz4(block, length):
    """README batch step 6: exactly `length` bytes or 3505."""
    check_lz4_offsets(block)
    try:
        raw = lz4.block.decompress(block, uncompressed_size=length) if length > 0 else None
    except Exception as err:  # python-lz4 raises LZ4BlockError (and ValueError on odd input)
        raise Refused(BAD_BATCH, f"corrupt LZ4 block: {err}") from None
    if raw is None:
        if block != b"\x00":
            raise Refused(BAD_BATCH, "an empty output is the block 00")
        raw = b""
    if len(raw) != length:  # uncompressed_size is only a capacity to python-lz4
        raise Refused(BAD_BATCH, f"LZ4 block decodes to {len(raw)} bytes, not {length}")
    return raw


def expand_batch(b, limits):
    """README "Batch validation", steps 1 to 8, in order."""
    if b.codec not in (BATCH_CODEC_NONE, BATCH_CODEC_LZ4_BLOCK):
        raise Refused(BAD_BATCH, f"codec {b.codec}")  # 1 [BAT-2]
    if b.codec == BATCH_CODEC_LZ4_BLOCK and not limits["lz4Enabled"]:
        raise Refused(BAD_BATCH, "lz4 not negotiated")  # 2 [HS-6]
    if b.count == 0:
        raise Refused(BAD_BATCH, "count 0")  # 3 [BAT-3]
    if b.count > limits["maxBatchFrames"]:
        raise Refused(BATCH_TOO_LARGE, f"count {b.count}")  # 3 [BAT-5]
    if b.uncompressed_length > limits["maxBatchBytes"]:
        raise Refused(BATCH_TOO_LARGE, f"uncompressed_length {b.uncompressed_length}")  # 4 [BAT-5]
    if b.codec == BATCH_CODEC_NONE:
        if b.uncompressed_length != len(b.payload):
            raise Refused(BAD_BATCH, "uncompressed_length differs from the payload")  # 5 [BAT-4]
        raw = b.payload
    else:
        raw = decompress_lz4(b.payload, b.uncompressed_length)  # 6 [BAT-6]
    # 7: split like a TCP stream, then parse; ending inside a frame is the batch's fault here.
    spans, pos = [], 0
    while pos < len(raw):
        prefix = read_prefix(raw, pos)
        if prefix is None:
            raise Refused(BAD_BATCH, "payload ends inside a length prefix")  # [BAT-3]
        length, start = prefix
        if length > limits["maxFrameBytes"]:
            raise Refused(FRAME_TOO_LARGE, f"inner frame of {length} bytes")  # [BAT-11]
        if len(raw) - start < length:
            raise Refused(BAD_BATCH, "payload ends inside a frame")  # [BAT-3]
        spans.append((start, start + length))
        pos = start + length
    frames = [parse_frame(raw[s:e]) for s, e in spans[:b.count + 1]]  # [FRM-5]
    if len(spans) != b.count:
        raise Refused(BAD_BATCH, f"count {b.count}, payload holds {len(spans)} frames")  # 8 [BAT-3]
    if any(f.WhichOneof("body") == "batch" for f in frames):
        raise Refused(BAD_BATCH, "batch inside a batch")  # 8 [BAT-7]
    return frames


def to_json(frame):
    """Canonical proto3 JSON (README "Comparing frames"): python-protobuf's defaults are that form."""
    return json_format.MessageToDict(frame)


def run(case, chunks):
    """The outcome of one case with the bytes fed in `chunks` (None: decode in the case's own form)."""
    limits = {**DEFAULT_LIMITS, **case.get("limits", {})}
    try:
        if chunks is None and case["form"] == "frame":
            frames = decode_frame_form(bytes.fromhex(case["hex"]), limits)
        else:
            dec = StreamDecoder(limits["maxFrameBytes"])
            frames = []
            for chunk in chunks if chunks is not None else [bytes.fromhex(case["hex"])]:
                frames += dec.push(chunk)
            dec.end()
        expanded = []
        for f in frames:
            expanded += expand_batch(f.batch, limits) if f.WhichOneof("body") == "batch" else [f]
        return {"frames": [to_json(f) for f in frames], "expanded": [to_json(f) for f in expanded]}
    except Refused as err:
        return {"close": err.close, "why": str(err)}


def expected(case):
    if "error" in case:
        return {"close": TRANSPORT_LOSS if case["error"].get("transportLoss") else case["error"]["closeCode"]}
    return {"frames": case["frames"], "expanded": case.get("expandedFrames", case["frames"])}


def varint(n):
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def same(got, want):
    if "close" in want:
        return got.get("close") == want["close"]
    return got.get("frames") == want["frames"] and got.get("expanded") == want["expanded"]


def check(case):
    """Problems with one case; empty when it passes."""
    want = expected(case)
    data = bytes.fromhex(case["hex"])
    stream = data if case["form"] == "stream" else varint(len(data)) + data
    rnd = random.Random(case["id"])
    runs = [("whole", None), ("one byte at a time", [stream[i:i + 1] for i in range(len(stream))])]
    for k in range(3):
        cuts = sorted(rnd.sample(range(1, len(stream)), min(len(stream) - 1, rnd.randint(1, 8)))) if len(stream) > 1 else []
        runs.append((f"split at random points #{k}", [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)])]))
    problems = []
    for name, chunks in runs:
        got = run(case, chunks)
        if not same(got, want):
            shown = got.get("why") or json.dumps(got.get("frames"))[:300]
            problems.append(f"{name}: expected {json.dumps(want)[:300]}, got {shown}")
            break
    if "frames" in case and case.get("canonical", True):  # [FRM-11] re-encode
        frames = [json_format.ParseDict(j, Frame()).SerializeToString(deterministic=True) for j in case["frames"]]
        enc = frames[0] if case["form"] == "frame" else b"".join(varint(len(f)) + f for f in frames)
        if enc.hex() != case["hex"]:
            problems.append(f"re-encoded to {enc.hex()[:200]}, expected {case['hex'][:200]}")
    return problems


def main():
    parser = argparse.ArgumentParser(description="Runs imwire's codec vectors with python3-protobuf and python3-lz4.")
    parser.add_argument("--dir", default=os.path.join(ROOT, "vectors", "codec"), help="codec vector directory")
    args = parser.parse_args()
    cases = []
    for path in sorted(glob.glob(os.path.join(args.dir, "*.json"))):
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
        if doc.get("kind") == "codec":
            cases += [(os.path.basename(path), c) for c in doc["cases"]]
    if not cases:
        fatal(f"no codec vectors in {args.dir}")
    print("TAP version 13")
    print(f"1..{len(cases)}")
    passed, failed, skipped = 0, [], []
    for n, (file, case) in enumerate(cases, 1):
        missing = [x for x in case.get("features", []) if x not in IMPLEMENTED_FEATURES]
        missing += [x for x in case.get("needs", []) if x not in IMPLEMENTED_NEEDS]
        if missing:
            # Informative: does the stock runtime alone get it right anyway?
            lenient = "error" in case and "close" not in run(case, None)
            note = "python-protobuf accepts these bytes" if lenient else "python-protobuf happens to refuse it"
            print(f"ok {n} - {case['id']} ({file}) # SKIP needs {', '.join(missing)}: {note}")
            skipped.append((case["id"], missing, note))
            continue
        problems = check(case)
        if problems:
            failed.append(case["id"])
            print(f"not ok {n} - {case['id']} ({file})")
            for p in problems:
                print(f"  # {p}")
        else:
            passed += 1
            print(f"ok {n} - {case['id']} ({file})")
    for case_id, missing, note in skipped:
        print(f"# knowingly skipped: {case_id} (needs {', '.join(missing)}; {note})")
    for case_id in failed:
        print(f"# failed: {case_id}")
    print(f"# {len(cases)} codec vectors: {passed} passed, {len(failed)} failed, {len(skipped)} skipped knowingly")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
