"""Scores `imgsearch duplicates --json` on the calibration set of make_photo_set.py: the pairs
of files in one output group against the pairs of files in one folder (the truth).

    score.py PHOTOS GROUPS.jsonl [LABEL]

Prints one JSON line: precision and recall over pairs, and for each variant kind the share of
those files grouped with their original.
"""
import itertools, json, sys
from collections import defaultdict
from pathlib import Path

photos, groups_file = Path(sys.argv[1]).resolve(), sys.argv[2]
label = sys.argv[3] if len(sys.argv) > 3 else "perceptual"
files = [p for p in photos.rglob("*") if p.is_file() and p.suffix != ".txt"]
truth = set()
by_folder = defaultdict(list)
for f in files:
    by_folder[f.parent.name].append(str(f))
for members in by_folder.values():
    truth.update(itertools.combinations(sorted(members), 2))
found = set()
group_of = {}
for number, line in enumerate(open(groups_file)):
    paths = sorted(p["path"] for p in json.loads(line)["photos"] if p["path"].startswith(str(photos)))
    found.update(itertools.combinations(paths, 2))
    for p in paths:
        group_of[p] = number
hits = len(found & truth)
kinds = defaultdict(lambda: [0, 0])
for folder, members in by_folder.items():
    original = next((m for m in members if Path(m).name.startswith("original")), None)
    for m in members:
        if m == original:
            continue
        kind = kinds[Path(m).name]
        kind[1] += 1
        kind[0] += int(original in group_of and group_of.get(m) == group_of[original])
print(json.dumps({
    "level": label, "pictures": len(by_folder), "files": len(files),
    "true_pairs": len(truth), "found_pairs": len(found),
    "precision": round(hits / len(found), 4) if found else None,
    "recall": round(hits / len(truth), 4) if truth else None,
    "grouped_with_original": {k: round(v[0] / v[1], 4) for k, v in sorted(kinds.items())},
}))
