"""lvstor-check: the offline checker (app/lvstor-check, doc/on-disk-format.md).

The SPDK-written fixture must pass; copies of it with one deliberate
corruption each must fail (exit 1) with a message naming what broke; the
transient states a crash may leave must only warn. Images are sparse
1 GiB files: the fixture's metadata (cluster 0) is decompressed once, and
each test writes its variant of those 4 MiB into a fresh sparse file.
"""

import json
import os
import struct
import subprocess

import pytest

from daemon_util import REPO, short_tmpdir

# LVSTOR_TOOLS_DIR=build-asan/bin runs the same tests on the sanitizer build.
BIN = os.environ.get("LVSTOR_TOOLS_DIR", os.path.join(REPO, "build", "bin"))
CHECK = os.path.join(BIN, "lvstor-check")
FIXTURE = os.environ.get("LVSTOR_FIXTURE",
                         os.path.join(REPO, "..", "shared", "fixtures", "spdk-lvs-4k.img.xz"))
TIMEOUT = 60
PAGE = 4096
MD_START = 4                  # metadata region page 0 (fixture layout, spec §9.2)
IMG_SIZE = 1 << 30
MD_BYTES = 4 << 20            # cluster 0 holds every metadata structure

# Fixture blobs (root page = low 32 bits of the id), see fixtures/README.md.
SUPER, VOL_A, VOL_THIN, SNAP_A, CLONE_A = 0, 1, 3, 5, 6
EP_SNAP_A, EP_VOL_THIN, EP_CLONE_A = 2, 4, 7   # extent pages


def blob_id(page):
    return 0x100000000 + page


def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


CRC_TABLE = _crc_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def test_crc32c_helper():
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(bytes(4092)) == 0xA732586E


@pytest.fixture(scope="module")
def fixture_md():
    """The first 4 MiB of the fixture (all of its metadata), as bytes."""
    if not os.path.exists(FIXTURE):
        pytest.skip("fixture %s not found" % FIXTURE)
    p = subprocess.run("xz -dc '%s' | head -c %d" % (FIXTURE, MD_BYTES), shell=True,
                       stdout=subprocess.PIPE, check=False, timeout=TIMEOUT)
    assert len(p.stdout) == MD_BYTES
    return p.stdout


@pytest.fixture
def tdir():
    d = short_tmpdir()
    yield d
    subprocess.run(["rm", "-rf", d])


class Image:
    """A writable copy of the fixture's metadata in a sparse 1 GiB file."""

    def __init__(self, path, md, size=IMG_SIZE):
        self.path = path
        self.md = bytearray(md)
        self.size = size

    def page_off(self, region_page):
        return (MD_START + region_page) * PAGE

    def fix_crc(self, off):
        struct.pack_into("<I", self.md, off + 4092, crc32c(bytes(self.md[off:off + 4092])))

    def write(self):
        with open(self.path, "wb") as f:
            f.write(self.md)
            f.truncate(self.size)
        return self.path


@pytest.fixture
def image(tdir, fixture_md):
    return Image(os.path.join(tdir, "lvs.img"), fixture_md)


def run(*args):
    return subprocess.run([CHECK] + [str(a) for a in args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=TIMEOUT)


def run_json(*args):
    p = run(*args, "--json")
    doc = json.loads(p.stdout)
    return p.returncode, doc


def errors(doc):
    return [i["message"] for i in doc["issues"] if i["severity"] == "error"]


def warnings(doc):
    return [i["message"] for i in doc["issues"] if i["severity"] == "warning"]


# ---- the good image ---------------------------------------------------------------------

def test_fixture_is_consistent(image):
    p = run(image.write())
    assert p.returncode == 0, p.stdout + p.stderr
    assert "consistent, 0 warning(s)" in p.stdout.splitlines()[0]
    assert "lvolstore 'lvsf'" in p.stdout
    assert "236 free" in p.stdout
    for name in ("vol_a", "snap_a", "clone_a", "vol_thin"):
        assert name in p.stdout


def test_fixture_json_report(image):
    rc, doc = run_json(image.write())
    assert rc == 0
    assert doc["consistent"] is True
    assert doc["errors"] == 0 and doc["warnings"] == 0
    s = doc["store"]
    assert s["bstype"] == "LVOLSTORE"
    assert s["clean"] is True
    assert s["cluster_size"] == 4194304
    assert s["data_clusters"] == 255
    assert s["free_clusters"] == 236
    assert s["md_start"] == 4 and s["md_len"] == 256
    assert s["lvolstore"] == {"name": "lvsf", "uuid": "78fbab11-9fb0-4d37-b304-e14456150389"}
    blobs = {b["name"]: b for b in doc["blobs"] if not b["super_blob"]}
    assert set(blobs) == {"vol_a", "snap_a", "clone_a", "vol_thin"}
    expect = {
        # name: (uuid, allocated, thin, read_only, parent)
        "vol_a": ("46e33bc9-522a-4f33-98b4-bf81c397f9d4", 0, True, False, "snap_a"),
        "snap_a": ("e1d8933d-c492-495c-95f4-f73a503f3540", 16, False, True, None),
        "clone_a": ("19b7cc25-0233-42bf-8aaa-11cd949197bc", 1, True, False, "snap_a"),
        "vol_thin": ("e0e52b3c-f7db-46b8-8bf7-fe21f227b207", 2, True, False, None),
    }
    for name, (uuid, alloc, thin, ro, parent) in expect.items():
        b = blobs[name]
        assert b["uuid"] == uuid
        assert b["num_clusters"] == 16
        assert b["allocated_clusters"] == alloc
        assert b["thin"] is thin and b["read_only"] is ro
        assert b["parent"] == (blobs[parent]["id_hex"] if parent else None)
    assert blobs["snap_a"]["clones"] == 2
    supers = [b for b in doc["blobs"] if b["super_blob"]]
    assert len(supers) == 1 and supers[0]["id"] == blob_id(SUPER)


def test_verbose_lists_details(image):
    p = run(image.write(), "--verbose")
    assert p.returncode == 0
    assert "internal SNAP = \"0x100000005\"" in p.stdout
    assert "info: layout" in p.stdout


def test_block_size_mismatch_only_warns(image):
    rc, doc = run_json(image.write(), "--block-size", 512)
    assert rc == 0
    assert any("io_unit_size 4096" in w for w in warnings(doc))


# ---- usage and I/O errors: exit 2 -----------------------------------------------------------

@pytest.mark.parametrize("args", [[], ["a", "b"], ["--bogus", "x"], ["--block-size", "1000", "x"],
                                  ["--block-size", "0", "x"]])
def test_usage_errors(args):
    assert run(*args).returncode == 2


def test_missing_image(tdir):
    p = run(os.path.join(tdir, "nope.img"))
    assert p.returncode == 2
    assert "No such file" in p.stderr


def test_directory_is_not_an_image(tdir):
    assert run(tdir).returncode == 2


# ---- superblock corruption -------------------------------------------------------------------

def test_zeroed_superblock(image):
    image.md[0:PAGE] = bytes(PAGE)
    rc, doc = run_json(image.write())
    assert rc == 1
    assert doc["consistent"] is False and doc["store"] is None
    assert any("all zeros" in e for e in errors(doc))


def test_superblock_bad_crc(image):
    image.md[100] ^= 0xFF
    rc, doc = run_json(image.write())
    assert rc == 1
    assert any("superblock: bad CRC" in e for e in errors(doc))


def test_image_smaller_than_store(image):
    image.size = IMG_SIZE // 2
    rc, doc = run_json(image.write())
    assert rc == 1
    assert any("larger than the device" in e for e in errors(doc))


def test_tiny_image(tdir):
    path = os.path.join(tdir, "tiny.img")
    with open(path, "wb") as f:
        f.write(b"SPDKBLOB")
    assert run(path).returncode == 1


# ---- blob corruption --------------------------------------------------------------------------

def flip_crc(image, region_page):
    image.md[image.page_off(region_page) + 4093] ^= 0x5A


def test_bad_crc_in_blob_root_page(image):
    flip_crc(image, VOL_THIN)
    p = run(image.write())
    assert p.returncode == 1
    assert "0x100000003" in p.stdout
    rc, doc = run_json(image.path)
    assert any("0x100000003: root page 3 has a bad CRC" in e for e in errors(doc))
    # The clean masks still list it: the mask comparison fails too.
    assert any("used blob id mask: bit 3" in e for e in errors(doc))


def test_bad_crc_in_extent_page(image):
    flip_crc(image, EP_VOL_THIN)
    rc, doc = run_json(image.write())
    assert rc == 1
    errs = errors(doc)
    assert any("blob 0x100000003: extent page 4" in e and "recovery load would reject" in e
               for e in errs)
    assert any("blob 0x100000003: fails to open" in e for e in errs)
    assert all(i["blob"] in (None, blob_id(VOL_THIN)) for i in doc["issues"]
               if i["severity"] == "error")


def test_bad_crc_in_snapshot_breaks_its_clones(image):
    flip_crc(image, SNAP_A)
    rc, doc = run_json(image.write())
    assert rc == 1
    errs = errors(doc)
    assert any("0x100000005: root page 5 has a bad CRC" in e for e in errs)
    for clone in (VOL_A, CLONE_A):
        assert any("blob 0x%x: parent snapshot 0x100000005 does not exist" % blob_id(clone) in e
                   for e in errs)


def ep_entry_off(image, ep_page, slot):
    # header 16, descriptor header 5, start_cluster_idx 4, then u32 entries
    return image.page_off(ep_page) + 16 + 5 + 4 + 4 * slot


def test_cluster_claimed_twice(image):
    off = ep_entry_off(image, EP_VOL_THIN, 0)
    clone_cluster = struct.unpack_from("<I", image.md, ep_entry_off(image, EP_CLONE_A, 1))[0]
    assert clone_cluster != 0
    struct.pack_into("<I", image.md, off, clone_cluster)
    image.fix_crc(image.page_off(EP_VOL_THIN))
    rc, doc = run_json(image.write())
    assert rc == 1
    assert any("cluster %d is claimed by blobs 0x100000003 and 0x100000006" % clone_cluster in e
               or "cluster %d is claimed by blobs 0x100000006 and 0x100000003" % clone_cluster
               in e for e in errors(doc))


def test_leaked_cluster_in_clean_mask(image):
    # vol_thin's slot 4 becomes unallocated, but the clean mask still has its cluster.
    cl = struct.unpack_from("<I", image.md, ep_entry_off(image, EP_VOL_THIN, 4))[0]
    struct.pack_into("<I", image.md, ep_entry_off(image, EP_VOL_THIN, 4), 0)
    image.fix_crc(image.page_off(EP_VOL_THIN))
    rc, doc = run_json(image.write())
    assert rc == 1
    assert any("used cluster mask: bit %d is set but the metadata does not use it" % cl in e
               for e in errors(doc))


def test_cluster_past_the_store(image):
    struct.pack_into("<I", image.md, ep_entry_off(image, EP_VOL_THIN, 4), 4000)
    image.fix_crc(image.page_off(EP_VOL_THIN))
    rc, doc = run_json(image.write())
    assert rc == 1
    assert any("past the store" in e for e in errors(doc))


def test_clean_mask_missing_a_cluster(image):
    # Clear the bit of vol_thin's first cluster in the used-cluster mask.
    cl = struct.unpack_from("<I", image.md, ep_entry_off(image, EP_VOL_THIN, 4))[0]
    mask = 2 * PAGE + 5
    image.md[mask + cl // 8] &= ~(1 << (cl % 8)) & 0xFF
    rc, doc = run_json(image.write())
    assert rc == 1
    assert any("used cluster mask: bit %d is clear but the metadata uses it" % cl in e
               for e in errors(doc))


def test_dirty_store_masks_are_not_compared(image):
    struct.pack_into("<I", image.md, 16, 0)          # clean = 0
    image.fix_crc(0)
    image.md[2 * PAGE:3 * PAGE] = bytes(PAGE)        # masks stale / zero, as after creation
    rc, doc = run_json(image.write())
    assert rc == 0, errors(doc)
    assert doc["store"]["clean"] is False
    assert any("dirty" in i["message"] for i in doc["issues"])


def test_broken_descriptor_length(image):
    # vol_a's root: make its first xattr claim more bytes than the page has.
    off = image.page_off(VOL_A) + 16 + 29
    assert image.md[off] == 2
    struct.pack_into("<I", image.md, off + 1, 5000)
    image.fix_crc(image.page_off(VOL_A))
    rc, doc = run_json(image.write())
    assert rc == 1
    assert any("0x100000001" in e and "runs past the page" in e for e in errors(doc))


def append_desc(image, region_page, desc):
    """Appends a descriptor after the last one of a page and fixes the CRC."""
    base = image.page_off(region_page) + 16
    o = 0
    while o + 5 <= 4072:
        t, ln = struct.unpack_from("<BI", image.md, base + o)
        if t == 0 and ln == 0:
            break
        o += 5 + ln
    assert o + len(desc) <= 4072
    image.md[base + o:base + o + len(desc)] = desc
    image.fix_crc(image.page_off(region_page))


def xattr_desc(dtype, name, value):
    return struct.pack("<BIHH", dtype, 4 + len(name) + len(value), len(name), len(value)) + \
        name + value


def test_unknown_descriptor_type(image):
    append_desc(image, VOL_A, struct.pack("<BI", 9, 2) + b"xx")
    rc, doc = run_json(image.write())
    assert rc == 1
    assert any("0x100000001" in e and "unknown descriptor type 9" in e for e in errors(doc))


def test_interrupted_snapshot_double_reference_only_warns(image):
    # snap_a carries SNAPTMP (an interrupted create) and clone_a's extent
    # page points at one of snap_a's clusters: the transient state of
    # spec §10.12, which the next load repairs.
    append_desc(image, SNAP_A, xattr_desc(4, b"SNAPTMP", struct.pack("<Q", blob_id(VOL_A))))
    snap_cluster = struct.unpack_from("<I", image.md, ep_entry_off(image, EP_SNAP_A, 0))[0]
    struct.pack_into("<I", image.md, ep_entry_off(image, EP_CLONE_A, 0), snap_cluster)
    image.fix_crc(image.page_off(EP_CLONE_A))
    rc, doc = run_json(image.write())
    assert rc == 0, errors(doc)
    w = warnings(doc)
    assert any("SNAPTMP" in m and "interrupted snapshot create" in m for m in w)
    assert any("cluster %d shared by blobs" % snap_cluster in m for m in w)


def test_double_reference_without_snapshot_op_is_an_error(image):
    snap_cluster = struct.unpack_from("<I", image.md, ep_entry_off(image, EP_SNAP_A, 0))[0]
    struct.pack_into("<I", image.md, ep_entry_off(image, EP_CLONE_A, 0), snap_cluster)
    image.fix_crc(image.page_off(EP_CLONE_A))
    rc, doc = run_json(image.write())
    assert rc == 1
    assert any("cluster %d is claimed by blobs" % snap_cluster in e for e in errors(doc))


def test_lvol_without_name(image):
    # Rename vol_thin's "name" xattr to "nome": the lvol layer rejects the store.
    off = image.page_off(VOL_THIN) + 16 + 29
    assert bytes(image.md[off + 9:off + 13]) == b"name"
    image.md[off + 10] = ord("o")
    image.fix_crc(image.page_off(VOL_THIN))
    rc, doc = run_json(image.write())
    assert rc == 1
    assert any("lvol 0x100000003: name missing" in e for e in errors(doc))


def test_stale_page_only_warns(image):
    # A valid non-root page nobody references: debris of a crash between
    # a commit and the zeroing of the old chain.
    page = bytearray(image.md[image.page_off(EP_VOL_THIN):image.page_off(EP_VOL_THIN) + PAGE])
    off = image.page_off(100)
    image.md[off:off + PAGE] = page
    rc, doc = run_json(image.write())
    assert rc == 0, errors(doc)
    assert any("unreferenced metadata page" in m for m in warnings(doc))


def test_random_corruption_never_crashes(image):
    """Random damage to the metadata, with and without fixed CRCs: the checker
    must always answer 0 or 1 (never crash, hang or hit a sanitizer)."""
    import random
    rnd = random.Random(4242)
    pristine = bytes(image.md)
    pages = [0, 1, 2, 3] + [image.page_off(p) // PAGE for p in range(8)]
    verdicts = set()
    for i in range(150):
        image.md = bytearray(pristine)
        for _ in range(rnd.randint(1, 6)):
            page = rnd.choice(pages)
            off = page * PAGE + rnd.choice([rnd.randrange(0, 128), rnd.randrange(0, PAGE)])
            if rnd.random() < 0.5:
                image.md[off] = rnd.randrange(256)
            else:
                struct.pack_into("<I", image.md, off - off % 4,
                                 rnd.choice([0, 1, 0xFFFFFFFF, rnd.randrange(1 << 32),
                                             rnd.randrange(300)]))
            if rnd.random() < 0.8:
                image.fix_crc(page * PAGE)
        p = run(image.write(), "--json")
        assert p.returncode in (0, 1), (i, p.returncode, p.stderr[-2000:])
        assert p.stderr == "", p.stderr[-2000:]
        doc = json.loads(p.stdout)
        assert doc["consistent"] == (p.returncode == 0)
        verdicts.add(p.returncode)
    assert verdicts == {0, 1}


def test_duplicate_lvol_names_only_warn(image):
    # clone_a renamed to vol_a in place (the value stays 64 NUL-padded bytes).
    off = image.page_off(CLONE_A) + 16 + 29
    assert bytes(image.md[off + 9:off + 13]) == b"name"
    image.md[off + 13:off + 20] = b"vol_a\0\0"
    image.fix_crc(image.page_off(CLONE_A))
    rc, doc = run_json(image.write())
    assert rc == 0, errors(doc)
    assert any("are both named 'vol_a'" in w for w in warnings(doc))
