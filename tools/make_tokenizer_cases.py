#!/usr/bin/env python3
"""Regenerates Tests/Fixtures/tokenizer_cases.json: strings and the ids BERT gives them.

    .venv/bin/python tools/make_tokenizer_cases.py

The reference is transformers' slow BertTokenizer(Tests/Fixtures/vocab.txt, do_lower_case=True)
called as tokenizer(text, truncation=True, max_length=512)["input_ids"]. The strings are
generated deterministically (fixed lists + a seeded RNG) and aim at the places a port goes
wrong: lower-casing and accent stripping (NFD + drop Mn), CJK splitting, punctuation,
control / zero-width / whitespace characters, [UNK] for words over 100 characters, and
truncation. Random strings draw only code points that Python's Unicode database (14.0)
assigns, and no surrogates, so the file is valid UTF-8 JSON.
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = True

import argparse
import json
import random
import unicodedata
from pathlib import Path

from blip2_reference import FIXTURES, bert_tokenizer, fetch_vocab

SEED = 1234

CAPTION_SUBJECTS = [
    "a dog", "two cats", "an old man", "a little girl", "a red car", "the eiffel tower",
    "a bowl of soup", "three horses", "a laptop", "a snowy mountain", "a bicycle", "my grandmother",
    "a group of friends", "an astronaut", "a cup of coffee", "a yellow taxi", "the golden gate bridge",
]
CAPTION_ACTIONS = [
    "sitting on", "running across", "standing next to", "lying under", "looking at", "parked near",
    "floating above", "painted on", "reflected in", "hidden behind",
]
CAPTION_PLACES = [
    "a wooden bench", "the beach at sunset", "a busy street", "a kitchen table", "the snow",
    "a green field", "an empty parking lot", "the river", "a cluttered desk", "the night sky",
]

FIXED = [
    # plain and cased
    "a photo of a dog",
    "A Photo Of A Dog",
    "A PHOTO OF A DOG",
    "The Quick Brown Fox Jumps Over The Lazy Dog.",
    "iPhone MacBook YouTube McDonald's",
    "don't won't can't it's y'all rock'n'roll",
    "U.S.A. e.g. i.e. Mr. Dr. St.",
    "state-of-the-art well-known self-driving",
    "C++ C# F# .NET node.js",
    "#sunset @friend $100 50% 3/4 a&b",
    # accents and Latin extensions
    "café", "naïve", "Ångström", "résumé", "CAFÉ", "Crème Brûlée", "São Paulo", "Zürich",
    "façade coöperate jalapeño piñata", "Æsir Œuvre ﬁne ﬂour", "Straße STRASSE ẞ", "Łódź Kraków Gdańsk",
    "Dvořák Škoda Žižkov", "Þór Ðóra", "ǅemal ǈuba ǋego",
    # German / French / Spanish / Turkish
    "Größere Bäume wachsen über den Flüssen.",
    "Où est la bibliothèque? À côté de l'église.",
    "¿Dónde está el baño? ¡Aquí!",
    "İstanbul ışık IŞIK ılık İĞNE ĞÜŞÇÖ",
    "ıi İI",
    # Greek (final sigma, tonos, dialytika)
    "Καλημέρα κόσμε",
    "ΟΔΟΣ ΟΔΟΣ. Σ σ ς",
    "ΐ ΰ Ϊ Ϋ ά έ ή ί ό ύ ώ",
    # Cyrillic
    "Привет, мир!",
    "ЁЛКА ёлка Йод йод",
    "Съешь же ещё этих мягких французских булок",
    # other scripts
    "مرحبا بالعالم",
    "שלום עולם",
    "नमस्ते दुनिया",
    "สวัสดีชาวโลก",
    "ქართული ენა",
    "Հայերեն",
    # CJK
    "我爱北京天安门",
    "一只猫坐在桌子上。",
    "東京タワーの写真",
    "ひらがな カタカナ 漢字",
    "ｶﾀｶﾅ ＡＢＣ １２３ ！？",
    "안녕하세요 세계",
    "한국어 텍스트 ㄱㄴㄷ ᄀᄁ",
    "豈 更 車 賈",  # CJK compatibility ideographs (NFD maps them to unified ones)
    "𠀀𠀁 𪜀 𫝀",  # CJK extensions B/C/D
    "〇 々 〆 ヶ",
    # emoji
    "I ❤️ NY",
    "👍 👍🏻 👍🏽 👍🏿",
    "👨‍👩‍👧‍👦 family",
    "🏳️‍🌈 🏴‍☠️",
    "🇺🇸🇯🇵🇩🇪 flags",
    "dog🐶cat🐱",
    "😀😃😄😁😆😅😂🤣",
    "☺ ☹ ✌ ✈ ☀ ★",
    "1️⃣ #️⃣ *️⃣",
    # punctuation runs
    "!!!", "...", "--", "a.b,c", "wow!!! really???", "(parentheses) [brackets] {braces} <angles>",
    "\"double\" 'single' `back`", "“curly” ‘quotes’ «guillemets» „low“", "em—dash en–dash ‐ hyphen",
    "…ellipsis…", "~^_|\\/", "¡¿§¶†‡•‰′″", "a...b", "end.", ".start", "a--b", "a_b_c",
    "ab:cd;ef", "x=y+z*2", "¬¦©®™°±µ·",
    # digits / decimals / dates / money
    "3.14159", "1,000,000", "2024-01-31", "31/12/1999", "12:30pm", "$19.99", "€5", "£10", "¥1000",
    "100km/h", "1st 2nd 3rd 4th", "0.0001", "-42", "1e10", "v1.2.3", "Ⅻ ½ ² ₃ ①",
    "٠١٢٣٤٥٦٧٨٩", "१२३",
    # URLs and e-mails
    "https://www.example.com/path?query=1&b=2#frag",
    "http://localhost:8080/",
    "www.github.com/user/repo",
    "john.doe+tag@example.co.uk",
    "mailto:someone@example.org",
    "file:///home/user/Pictures/IMG_0001.JPG",
    # control characters, tabs, newlines, odd whitespace
    "tab\tseparated\tvalues",
    "line one\nline two\r\nline three\rend",
    "bell\x07 null\x00 escape\x1b delete\x7f",
    "\x01\x02\x03abc\x1f",
    "vertical\x0btab form\x0cfeed",
    "next\x85line",
    "line\u2028separator paragraph\u2029separator",
    "no\u00a0break thin\u2009space ideographic\u3000space ogham\u1680space",
    "   leading and trailing   ",
    "many     spaces     between",
    # zero-width and format characters
    "zero\u200bwidth",
    "zero\u200cnon\u200djoiner",
    "word\u2060joiner",
    "\ufeffbyte order mark",
    "soft\u00adhyphen",
    "left\u200eright\u200fmarks",
    "\u202aembedded\u202c",
    # replacement character, private use, noncharacter-adjacent
    "bad \ufffd byte",
    "\ufffd\ufffd\ufffd",
    "private \ue000\uf8ff use",
    # combining marks
    "e\u0301",
    "cafe\u0301",
    "a\u0308o\u0308u\u0308",
    "n\u0303",
    "\u0301leading combining",
    "z\u0335\u0321\u0322a\u0336\u0317l\u0337\u0331g\u0338\u0326o\u0334\u0325",
    "\u0300\u0301\u0302",
    "q\u0307\u0323",
    "\u1e9b\u0323",
    # long words
    "a" * 100,
    "a" * 101,
    "x" * 150,
    "é" * 100,
    "é" * 101,
    "supercalifragilisticexpialidocious" * 4,
    "pneumonoultramicroscopicsilicovolcanoconiosis",
    "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch",
    "abc" * 40 + " short",
    # empty and whitespace only
    "",
    " ",
    "   ",
    "\t\n",
    "\u3000",
    "\u200b",
    # mixed scripts
    "hello世界мир",
    "abc123def",
    "Pokémon ポケモン 포켓몬 精灵宝可梦",
    "Tokyo東京Tōkyō",
    "naïve café 咖啡 кофе καφές",
    "a1b2c3 α1β2γ3",
    "COVID-19 SARS‑CoV‑2",
    "wi-fi Wi‑Fi WiFi",
]


def captions(rng: random.Random, n: int) -> list[str]:
    out = []
    for _ in range(n):
        s = f"{rng.choice(CAPTION_SUBJECTS)} {rng.choice(CAPTION_ACTIONS)} {rng.choice(CAPTION_PLACES)}"
        style = rng.randrange(4)
        if style == 1:
            s = s.capitalize() + "."
        elif style == 2:
            s = s.upper()
        elif style == 3:
            s = s.title() + "!"
        out.append(s)
    return out


# (first, last) code point of each block sampled for random strings.
BLOCKS = [
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x00FF),  # Latin-1 Supplement
    (0x0100, 0x024F),  # Latin Extended-A/B
    (0x0250, 0x02FF),  # IPA, spacing modifiers
    (0x0300, 0x036F),  # combining diacritics
    (0x0370, 0x03FF),  # Greek
    (0x0400, 0x04FF),  # Cyrillic
    (0x0590, 0x05FF),  # Hebrew
    (0x0600, 0x06FF),  # Arabic
    (0x0900, 0x097F),  # Devanagari
    (0x0E00, 0x0E7F),  # Thai
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x1E00, 0x1EFF),  # Latin Extended Additional
    (0x2000, 0x206F),  # General Punctuation
    (0x20A0, 0x20CF),  # Currency
    (0x2100, 0x214F),  # Letterlike
    (0x2190, 0x22FF),  # Arrows, math operators
    (0x2500, 0x257F),  # Box drawing
    (0x3000, 0x303F),  # CJK symbols and punctuation
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x4E00, 0x9FFF),  # CJK Unified
    (0xAC00, 0xD7A3),  # Hangul syllables
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF00, 0xFFEF),  # Halfwidth / fullwidth
    (0x1D400, 0x1D7FF),  # Mathematical alphanumerics
    (0x1F300, 0x1F64F),  # Emoji
    (0x1F900, 0x1F9FF),  # Supplemental symbols
    (0x20000, 0x2A6DF),  # CJK Extension B
]


def random_char(rng: random.Random, blocks: list[tuple[int, int]]) -> str:
    while True:
        lo, hi = rng.choice(blocks)
        c = chr(rng.randint(lo, hi))
        if unicodedata.category(c) not in ("Cn", "Cs"):
            return c


def random_strings(rng: random.Random, n: int) -> list[str]:
    out = []
    for i in range(n):
        # Half the strings mix every block, half stay within two or three.
        blocks = BLOCKS if i % 2 == 0 else rng.sample(BLOCKS, rng.randint(2, 3))
        chars = []
        for _ in range(rng.randint(1, 24)):
            r = rng.random()
            chars.append(" " if r < 0.15 else rng.choice("aeiouxyz0123456789.,!?'-") if r < 0.3 else random_char(rng, blocks))
        out.append("".join(chars))
    return out


def long_text(rng: random.Random) -> str:
    """Well over 512 tokens: exercises truncation to 511 tokens + [SEP]."""
    return " ".join(captions(rng, 120))


def build_cases(rng: random.Random) -> list[str]:
    texts = []
    texts += captions(rng, 60)
    texts += FIXED
    texts += random_strings(rng, 120)
    texts.append(long_text(rng))
    texts.append("word " * 600)
    texts.append("漢" * 600)
    # Literal special tokens would be matched by the tokenizer's added-token trie, which
    # imgsearch does not need to reproduce.
    specials = ("[cls]", "[sep]", "[pad]", "[unk]", "[mask]")
    return [t for t in texts if not any(s in t.lower() for s in specials)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixtures", type=Path, default=FIXTURES, help="output root (default: Tests/Fixtures)")
    args = parser.parse_args()

    tokenizer = bert_tokenizer(fetch_vocab(args.fixtures / "vocab.txt"))
    texts = build_cases(random.Random(SEED))
    assert len(set(texts)) == len(texts), "duplicate case"
    cases = [{"text": t, "ids": tokenizer(t, truncation=True, max_length=512)["input_ids"]} for t in texts]

    out = args.fixtures / "tokenizer_cases.json"
    body = ",\n".join(json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in cases)
    out.write_text("[\n" + body + "\n]\n", encoding="utf-8")
    n_unk = sum(100 in c["ids"] for c in cases)
    n_trunc = sum(len(c["ids"]) == 512 for c in cases)
    print(f"{out}: {len(cases)} cases, {n_unk} with [UNK], {n_trunc} truncated to 512")


if __name__ == "__main__":
    main()
