#!/usr/bin/env python3
"""tiktoken as the oracle for our GLM-4 tokenizer (tests/tokenizer/test_tiktoken_oracle.cpp).

Writes OUT_DIR/oracle.json with, for each rank file, seeded random and adversarial strings and the ids
tiktoken itself gives them (encode_ordinary: GLM-4's reference tokenizer never turns text into special
tokens). Rank files:
  - every golden one passed on the command line (small: few merges);
  - one trained here by byte-level BPE on a seeded synthetic corpus, so multi-byte merges (CJK, emoji,
    accented Latin, long words) are exercised heavily;
  - a probe file whose merges join a prefix character to any UTF-8 lead byte, with texts that put every
    code point of planes 0-3 and 14 after a letter, a digit and a symbol: any code point our split pattern
    classifies differently (letter, number, whitespace) changes the ids.
Also: random byte strings and Python's bytes.decode("utf-8", errors="replace") of them, the rule our
decoder repairs invalid UTF-8 by.

Usage: tiktoken_oracle.py OUT_DIR SEED [golden tokenizer.model ...]
"""
import base64
import collections
import json
import os
import random
import sys

import tiktoken

PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
           r"|\s*[\r\n]+|\s+(?!\S)|\s+")

ENGLISH = ("the of and to in is that it for was on are as with his they at be this from have or one had by "
           "word but not what all were we when your can said there use an each which she do how their if will "
           "up other about out many then them these so some her would make like him into time has look two more "
           "write go see number no way could people my than first water been call who oil its now find long down "
           "day did get come made may part image photo describe detail question answer model token vision "
           "language invoice total receipt price table chart street sign menu restaurant cat dog car tree sky "
           "red green blue quickly beautiful unbelievable internationalization tokenizer GLM Transformer").split()
CHINESE = ("的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后"
           "小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长"
           "知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最"
           "间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市"
           "眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系图"
           "片描述详细内容猫窗台发票总金额文字识别请问这张图里有什么颜色")
JAPANESE = "日本語のテキストもすこしありますカタカナひらがな漢字東京大阪"
KOREAN = "한국어도조금있습니다안녕하세요감사합니다"
OTHER_WORDS = ["café", "naïve", "résumé", "Ünïcödé", "Straße", "ﬁnance", "Ωμέγα", "Привет", "мир", "مرحبا",
               "नमस्ते", "שלום", "ไทย", "Việt", "e\u0301", "a\u0308\u0304", "\u1100\u1161\u11a8", "İstanbul",
               "ǅemal", "ſtraße", "ﬀ", "K", "Å"]
EMOJI = ["😀", "🎉", "👍🏽", "👨‍👩‍👧‍👦", "🇨🇳", "🇺🇸", "❤️", "🏳️‍🌈", "🤖", "✅", "1️⃣", "🫠"]
SPACES = [" ", "  ", "\t", "\n", "\r\n", "\r", "\n\n", "\u00a0", "\u3000", "\u0085", "\u180e", "\u2028", "\u2029",
          "\u200b", "\u2009", "\u202f", "\u205f", "\u1680", "\x0b", "\x0c", " \n ", "\r\n\r\n", "   \n"]
PUNCT = list(".,;:!?()[]{}<>\"'`~@#$%^&*-_=+/\\|，。？！、：；（）《》“”‘’…—·¥€£")
SPECIAL_LOOKALIKES = ["<|user|>", "<|assistant|>", "<|endoftext|>", "[gMASK]", "<sop>", "<|begin_of_image|>",
                      "<|end_of_image|>", "<|system|>", "<eop>", "<|observation|>"]
CONTRACTIONS = ["'s", "'S", "'t", "'T", "'re", "'RE", "'Re", "'ve", "'VE", "'m", "'M", "'ll", "'LL", "'Ll", "'d",
                "'D", "'ſ", "’s", "''s", "'x", "'"]
# Letters and numbers new in Unicode 15.0-16.0 (piece_splitter.cpp), and neighbours of them.
NEW_CODE_POINTS = [0x1C89, 0x1C8A, 0xA7CB, 0xA7DC, 0x105C0, 0x10D4A, 0x10D40, 0x116D0, 0x11F50, 0x13460,
                   0x16100, 0x1E4F0, 0x2EBF0, 0x31350, 0x323AF, 0x323B0, 0x1CCF0, 0x1D2C0]


def random_code_point(rng):
    while True:
        plane = rng.choice([0, 0, 0, 0, 1, 1, 2, 3, 14, 15, 16])
        c = plane * 0x10000 + rng.randrange(0x10000)
        if not 0xD800 <= c < 0xE000:
            return chr(c)


def digits(rng):
    return "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 40)))


def fragment(rng):
    kind = rng.randrange(16)
    if kind == 0:
        return rng.choice(ENGLISH)
    if kind == 1:
        w = rng.choice(ENGLISH)
        return rng.choice([w.upper(), w.capitalize(), w])
    if kind == 2:
        return "".join(rng.choice(CHINESE) for _ in range(rng.randint(1, 12)))
    if kind == 3:
        return "".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 4)))
    if kind == 4:
        return digits(rng)
    if kind == 5:
        return "".join(rng.choice(SPACES) for _ in range(rng.randint(1, 5)))
    if kind == 6:
        return "".join(rng.choice(PUNCT) for _ in range(rng.randint(1, 4)))
    if kind == 7:
        return rng.choice(SPECIAL_LOOKALIKES)
    if kind == 8:
        return rng.choice(CONTRACTIONS)
    if kind == 9:
        return rng.choice(OTHER_WORDS)
    if kind == 10:
        return "".join(random_code_point(rng) for _ in range(rng.randint(1, 4)))
    if kind == 11:  # random bytes made valid, as a user's pasted mojibake would be
        raw = bytes(rng.randrange(256) for _ in range(rng.randint(1, 12)))
        return raw.decode("utf-8", errors="replace")
    if kind == 12:
        return "".join(rng.choice(JAPANESE + KOREAN) for _ in range(rng.randint(1, 8)))
    if kind == 13:
        return chr(rng.choice(NEW_CODE_POINTS)) * rng.randint(1, 3)
    if kind == 14:
        return "".join(rng.choice(["a", "1", "!", " ", "\u0301", "\u0300", "'", "\n"]) for _ in range(rng.randint(1, 8)))
    return rng.choice(ENGLISH) + rng.choice(CONTRACTIONS)


def random_texts(rng, count):
    texts = ["", " ", "\n", "\r\n", "a", "'s", "<|user|>", "\u180e", "\u00a0\u00a0x", "x\u3000\u3000",
             " \u0085 ", "1234567890123", "ſ", "'ſ", "a\u180eb", "\u2028\u2029", "   \n\n  \t"]
    while len(texts) < count:
        n = rng.choice([1, 2, 3, 5, 8, 15, 30])
        parts = [fragment(rng) for _ in range(n)]
        sep = rng.choice(["", " ", "", rng.choice(SPACES)])
        texts.append(sep.join(parts))
    # Long pieces: the long-piece merge path, and whitespace/digit runs far past any token.
    texts += ["a" * 3000, "ab" * 1500, " " * 2000 + "x", "\n" * 500, "7" * 1000, "中" * 800,
              "".join(rng.choice(CHINESE) for _ in range(2000)), "é" * 700, "😀" * 300,
              "".join(rng.choice("abcdefghij") for _ in range(4000))]
    return texts


def corpus(rng, size):
    out = []
    total = 0
    while total < size:
        kind = rng.randrange(6)
        if kind in (0, 1):  # an English sentence
            words = [rng.choice(ENGLISH) for _ in range(rng.randint(4, 16))]
            words[0] = words[0].capitalize()
            s = " ".join(words) + rng.choice([".", ".", "?", "!", ",", "'s", ":"]) + rng.choice([" ", "\n", " "])
        elif kind in (2, 3):  # a Chinese sentence
            s = "".join(rng.choice(CHINESE) for _ in range(rng.randint(5, 30))) + rng.choice("，。？！") + rng.choice(["", "\n"])
        elif kind == 4:
            s = rng.choice([f"def f{rng.randrange(100)}(x):\n    return x + {rng.randrange(1000)}\n",
                            f"Total: ${rng.randrange(10000)}.{rng.randrange(100):02d} ({rng.randrange(100)}%)\n",
                            "<html><body>" + rng.choice(ENGLISH) + "</body></html>\n",
                            rng.choice(OTHER_WORDS) + " " + rng.choice(EMOJI) + " "])
        else:
            s = "".join(rng.choice(JAPANESE + KOREAN) for _ in range(rng.randint(3, 12))) + " "
        out.append(s)
        total += len(s)
    return "".join(out)


def train_bpe(text, vocab_size):
    """Byte-level BPE on the split pieces of `text`: rank = merge order; the most frequent pair merges
    first, ties going to the smaller bytes. A lazy heap keeps each merge cheap."""
    import heapq
    import regex
    words = collections.Counter(m.encode("utf-8") for m in regex.findall(PATTERN, text))
    ranks = {bytes([b]): b for b in range(256)}
    seqs = [[bytes([b]) for b in w] for w in words]
    counts = list(words.values())
    pair_counts = collections.Counter()
    where = collections.defaultdict(set)
    for i, seq in enumerate(seqs):
        for a, b in zip(seq, seq[1:]):
            pair_counts[a, b] += counts[i]
            where[a, b].add(i)
    heap = [(-c, p) for p, c in pair_counts.items()]
    heapq.heapify(heap)
    while len(ranks) < vocab_size and heap:
        neg, best = heapq.heappop(heap)
        if pair_counts.get(best, 0) != -neg:
            continue  # stale
        if -neg < 2:
            break
        merged = best[0] + best[1]
        ranks[merged] = len(ranks)
        touched = set()
        for i in where.pop(best):
            seq = seqs[i]
            for a, b in zip(seq, seq[1:]):
                pair_counts[a, b] -= counts[i]
                touched.add((a, b))
            new = []
            k = 0
            while k < len(seq):
                if k + 1 < len(seq) and seq[k] == best[0] and seq[k + 1] == best[1]:
                    new.append(merged)
                    k += 2
                else:
                    new.append(seq[k])
                    k += 1
            seqs[i] = new
            for a, b in zip(new, new[1:]):
                pair_counts[a, b] += counts[i]
                where[a, b].add(i)
                touched.add((a, b))
        for p in touched:
            c = pair_counts.get(p, 0)
            if c <= 0:
                pair_counts.pop(p, None)
            elif p != best:
                heapq.heappush(heap, (-c, p))
        pair_counts.pop(best, None)
    return ranks


def write_ranks(path, ranks):
    with open(path, "w") as f:
        for token, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
            f.write(base64.b64encode(token).decode() + " " + str(rank) + "\n")


def read_ranks(path):
    ranks = {}
    with open(path, "rb") as f:
        for line in f.read().splitlines():
            if line:
                token, rank = line.split()
                ranks[base64.b64decode(token)] = int(rank)
    return ranks


def encoding(name, ranks):
    return tiktoken.Encoding(name=name, pat_str=PATTERN, mergeable_ranks=ranks, special_tokens={})


def probe_case_set(out_dir):
    ranks = {bytes([b]): b for b in range(256)}
    for prefix in b"a1!":
        for lead in range(0x80, 0x100):
            ranks[bytes([prefix, lead])] = len(ranks)
    path = os.path.join(out_dir, "probe.tiktoken")
    write_ranks(path, ranks)
    enc = encoding("probe", ranks)
    code_points = [c for c in list(range(0x40000)) + list(range(0xE0000, 0xE1000)) if not 0xD800 <= c < 0xE000]
    texts = []
    for prefix in "a1!":
        for i in range(0, len(code_points), 512):
            texts.append(" ".join(prefix + chr(c) for c in code_points[i:i + 512]))
    ids = enc.encode_ordinary_batch(texts, num_threads=1)
    return {"name": "unicode probe", "path": path, "cases": [{"text": t, "ids": i} for t, i in zip(texts, ids)]}


def main():
    out_dir, seed = sys.argv[1], int(sys.argv[2])
    golden = sys.argv[3:]
    rng = random.Random(seed)
    sets = []
    for k, path in enumerate(golden):
        enc = encoding(f"golden{k}", read_ranks(path))
        texts = random_texts(rng, 2000)
        sets.append({"name": path, "path": path,
                     "cases": [{"text": t, "ids": enc.encode_ordinary(t)} for t in texts]})
    trained = train_bpe(corpus(random.Random(seed + 1), 400_000), 6000)
    trained_path = os.path.join(out_dir, "trained.tiktoken")
    write_ranks(trained_path, trained)
    enc = encoding("trained", trained)
    texts = random_texts(rng, 4000) + [corpus(random.Random(seed + 2), 5000) for _ in range(20)]
    sets.append({"name": f"trained ({len(trained)} ranks)", "path": trained_path,
                 "cases": [{"text": t, "ids": enc.encode_ordinary(t)} for t in texts]})
    sets.append(probe_case_set(out_dir))

    repair = []
    fragments = [b"\xe4\xb8\xad", b"\xf0\x9f\x98\x80", b"\xc3\xa9", b"a", b"\xed\xa0\x80", b"\xe0\x80\x80",
                 b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\xff", b"\x80", b"\xf0\x9f", b"\xe4", b"\xc3"]
    for _ in range(3000):
        parts = []
        for _ in range(rng.randint(1, 8)):
            if rng.random() < 0.5:
                parts.append(rng.choice(fragments))
            else:
                parts.append(bytes(rng.randrange(256) for _ in range(rng.randint(1, 4))))
        raw = b"".join(parts)
        repair.append({"hex": raw.hex(), "text": raw.decode("utf-8", errors="replace")})

    with open(os.path.join(out_dir, "oracle.json"), "w", encoding="utf-8") as f:
        json.dump({"tiktoken": tiktoken.__version__, "seed": seed, "rank_files": sets, "utf8_repair": repair},
                  f, ensure_ascii=False)


if __name__ == "__main__":
    main()
