#!/usr/bin/env python3
"""Generate the near-duplicate test fixtures in fixtures/variants/.

Each variant is a "syndicated copy" of one of the real seed articles in
fixtures/seeds/, edited the way another site would republish it.  The edits
are fully deterministic (no randomness at all), so running

    python3 tests/make_variants.py

always regenerates byte-identical files, including fixtures/variants/README.md,
whose edit counts are computed here.  Standard library only.
"""

import os
import re
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEEDS = os.path.join(ROOT, "fixtures", "seeds")
OUT = os.path.join(ROOT, "fixtures", "variants")

SEED_000 = "000_bd77016b1ff7f277.txt"
SEED_003 = "003_9004b0353d6ebc11.txt"
SEED_004 = "004_e1f26045a6d7f475.txt"

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")  # U+0660..U+0669

# A word's "core" is the token without leading/trailing non-letters
# (punctuation, quotes, digits).  Letters are U+0621..U+064A; the harakat
# U+064B..U+0652 may follow a letter.
TOKEN_RE = re.compile(r"^([^\u0621-\u064A]*)(.*?)([^\u0621-\u064A\u064B-\u0652]*)$")


def read_seed(name):
    with open(os.path.join(SEEDS, name), "rb") as f:
        data = f.read()
    return data.decode("utf-8")


def write_out(name, text):
    if not text.endswith("\n"):
        text += "\n"
    data = text.encode("utf-8")
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    return len(data)


def split_token(tok):
    m = TOKEN_RE.match(tok)
    return m.group(1), m.group(2), m.group(3)


# ---------------------------------------------------------------------------
# 000_syndicated.txt
# ---------------------------------------------------------------------------

# New header of the republishing site (fictional) and its footer.
SYN_HEADER = [
    "بوابة الوادي الإخبارية",
    "الثلاثاء ١٢ نوفمبر ٢٠١٩ - ١٠:٣٥ ص",
    "كتب: أحمد عبد الرحمن",
]
SYN_FOOTER = [
    "جميع الحقوق محفوظة © ٢٠١٩ بوابة الوادي الإخبارية",
    "شارك الخبر: فيسبوك | تويتر | واتساب",
]
# 1-based line numbers in the seed.
SYN_ORIG_FOOTER_FROM = 25   # اترك تعليقاً / لن يتم نشر ... / زر الذهاب إلى الأعلى
SYN_DROP_LINE = 9           # "واختتمت فعاليات ورشة العمل التى تم عقدها بأكاديمية الشرطة ..."

# Words given harakat (first occurrence in the body only).  Keys are the
# words as they are spelt in the seed.
SYN_HARAKAT = {
    "اختتمت": "اِخْتَتَمَتْ",
    "وزارة": "وَزَارَةُ",
    "فعاليات": "فَعَالِيَّاتِ",
    "ورشة": "وَرْشَةِ",
    "عمل": "عَمَلٍ",
    "المنظمة": "الْمُنَظَّمَةِ",
    "للشرطة": "لِلشُّرْطَةِ",
    "الجنائية": "الْجِنَائِيَّةِ",
    "ذلك": "ذَلِكَ",
    "مجال": "مَجَالِ",
    "المجتمعات": "الْمُجْتَمَعَاتِ",
    "خبراء": "خُبَرَاءُ",
    "عدة": "عِدَّةِ",
    "توصيات": "تَوْصِيَاتٍ",
    "الخبرات": "الْخِبْرَاتِ",
}


def make_syndicated():
    lines = read_seed(SEED_000).split("\n")
    dropped = lines[SYN_DROP_LINE - 1]
    body = lines[:SYN_ORIG_FOOTER_FROM - 1]
    # Drop the paragraph and the blank line after it.
    del body[SYN_DROP_LINE - 1:SYN_DROP_LINE + 1]
    while body and body[-1] == "":
        body.pop()

    # Tokenise the body: list of lines, each a list of tokens (words and the
    # whitespace between them, so the spacing is kept as it was).
    toks = [re.split(r"(\s+)", ln) if ln else [] for ln in body]
    words = [(i, j) for i, t in enumerate(toks) for j, w in enumerate(t)
             if w and not w.isspace()]

    stats = {"dropped": dropped, "harakat": [], "alef": [], "yaa": []}

    # 1. harakat: the first occurrence of each listed word.
    done = set()
    vocalised = set()
    for i, j in words:
        pre, core, post = split_token(toks[i][j])
        if core in SYN_HARAKAT and core not in done:
            done.add(core)
            vocalised.add((i, j))
            toks[i][j] = pre + SYN_HARAKAT[core] + post
            stats["harakat"].append(core)

    # 2. hamzated alef -> bare alef in every other word that has one.
    cands = [(i, j) for i, j in words if (i, j) not in vocalised
             and re.search("[أإ]", split_token(toks[i][j])[1])]
    for n, (i, j) in enumerate(cands):
        if n % 2 == 0:
            before = toks[i][j]
            toks[i][j] = before.replace("أ", "ا").replace("إ", "ا")
            stats["alef"].append(split_token(before)[1])
    stats["alef_cands"] = len(cands)

    # 3. word-final yaa -> alef maqsura in every other word ending in yaa.
    cands = [(i, j) for i, j in words if (i, j) not in vocalised
             and split_token(toks[i][j])[1].endswith("ي")]
    for n, (i, j) in enumerate(cands):
        if n % 2 == 0:
            pre, core, post = split_token(toks[i][j])
            toks[i][j] = pre + core[:-1] + "ى" + post
            stats["yaa"].append(core)
    stats["yaa_cands"] = len(cands)

    body = ["".join(t) for t in toks]

    # 4. Western digits -> Arabic-Indic digits.
    stats["digits"] = sum(ch.isascii() and ch.isdigit() for ch in "\n".join(body))
    body = [ln.translate(ARABIC_INDIC) for ln in body]

    out = SYN_HEADER + [""] + body + [""] + SYN_FOOTER
    return "\n".join(out) + "\n", stats


# ---------------------------------------------------------------------------
# 003_rewrapped.txt
# ---------------------------------------------------------------------------

REWRAP_WIDTH = 70
REWRAP_FOOTER = ["مقالات ذات صلة", "زر الذهاب إلى الأعلى"]
REWRAP_NEW_PARAGRAPH = (
    "ومن المنتظر أن يختتم الاجتماع أشغاله غدا الثلاثاء بإصدار جملة من "
    "التوصيات الرامية إلى تسريع تبادل المعلومات الجنائية بين الدول المشاركة. "
    "كما سيبحث المشاركون خلال الجلسات المغلقة سبل الاستفادة من قواعد بيانات "
    "الانتربول في تعقب المطلوبين والمقاتلين الإرهابيين الأجانب. "
    "وأكد المنظمون أن احتضان مراكش لهذا اللقاء يعكس الثقة التي تحظى بها "
    "المصالح الأمنية المغربية لدى المنظمة الدولية للشرطة الجنائية."
)


def change_quotes(text):
    counts = {"“": 0, "”": 0, '"': 0}
    counts["“"] = text.count("“")
    counts["”"] = text.count("”")
    text = text.replace("“", "«").replace("”", "»")
    out = []
    opening = True
    for ch in text:
        if ch == '"':
            counts['"'] += 1
            out.append("«" if opening else "»")
            opening = not opening
        else:
            out.append(ch)
    return "".join(out), counts


def make_rewrapped():
    text = read_seed(SEED_003)
    text, qcounts = change_quotes(text)
    paras = [ln for ln in text.split("\n") if ln.strip()]
    assert paras[-len(REWRAP_FOOTER):] == REWRAP_FOOTER, paras[-2:]
    paras = paras[:-len(REWRAP_FOOTER)] + [REWRAP_NEW_PARAGRAPH] + REWRAP_FOOTER
    out = []
    wrapped = 0
    for p in paras:
        if len(p) > REWRAP_WIDTH:
            wrapped += 1
            out.extend(textwrap.wrap(p, width=REWRAP_WIDTH,
                                     break_long_words=False,
                                     break_on_hyphens=False))
        else:
            out.append(p)
    stats = {"quotes": qcounts, "paras": len(paras), "wrapped": wrapped,
             "lines": len(out)}
    return "\n".join(out) + "\n", stats


# ---------------------------------------------------------------------------
# 004_truncated.txt
# ---------------------------------------------------------------------------

def make_truncated():
    with open(os.path.join(SEEDS, SEED_004), "rb") as f:
        data = f.read()
    half = len(data) / 2
    # Line boundaries: the offsets just after each newline.
    bounds = [i + 1 for i, b in enumerate(data) if b == 0x0A]
    cut = min(bounds, key=lambda b: (abs(b - half), b))
    kept = data[:cut]
    stats = {"size": len(data), "cut": cut, "lines": kept.count(b"\n"),
             "total_lines": data.count(b"\n") + (0 if data.endswith(b"\n") else 1)}
    return kept.decode("utf-8"), stats


# ---------------------------------------------------------------------------

def readme(syn, rew, tru):
    def short(s, n=8):
        w = s.split()
        return " ".join(w[:n]) + (" …" if len(w) > n else "")

    q = rew["quotes"]
    qdesc = []
    if q["“"] or q["”"]:
        qdesc.append("%d “ → « and %d ” → »" % (q["“"], q["”"]))
    if q['"']:
        qdesc.append('%d straight " → « or » (alternating)' % q['"'])
    qtext = "; ".join(qdesc) if qdesc else "none (the seed has no quotes)"

    parts = [
        "# Near-duplicate variants of the seed articles",
        "",
        "These files are generated by `python3 tests/make_variants.py` from the "
        "seeds in `fixtures/seeds/`; do not edit them by hand. The script is "
        "deterministic and regenerates every file here, this README included, "
        "byte-identically. Each file is a \"syndicated copy\" of one seed, "
        "as another site would republish it.",
        "",
        "`000_syndicated.txt` (from `%s`): a new 3-line header (site name, "
        "date line, byline \"كتب: ...\") is added at the top; the original "
        "footer (seed lines %d-29: اترك تعليقاً / لن يتم نشر ... / زر الذهاب "
        "إلى الأعلى) is replaced by a 2-line footer (copyright line and share "
        "line); body paragraph at seed line %d (\"%s\") is dropped; "
        "%d of the %d body words containing أ/إ have them written as bare ا; "
        "%d of the %d words ending in ي have it written as ى (%s); "
        "%d words get harakat (first occurrence each: %s); "
        "all %d Western digit characters are written as Arabic-Indic digits (٠-٩), e.g. \"27 دولة\" → \"٢٧ دولة\" and \"G5\" → \"G٥\". "
        "The other paragraphs, including the leading \"...\" line, the "
        "\"لمزيد من الأخبار\" line and the URL line, and the blank lines between "
        "paragraphs are kept."
        % (SEED_000, SYN_ORIG_FOOTER_FROM, SYN_DROP_LINE, short(syn["dropped"]),
           len(syn["alef"]), syn["alef_cands"],
           len(syn["yaa"]), syn["yaa_cands"], "، ".join(syn["yaa"]),
           len(syn["harakat"]), "، ".join(syn["harakat"]), syn["digits"]),
        "",
        "`003_rewrapped.txt` (from `%s`): the blank lines between paragraphs "
        "are removed and every paragraph longer than %d characters (%d of "
        "them, the headline included) is hard-wrapped at %d characters on "
        "word boundaries, giving %d lines; quotes changed: %s (the "
        "parentheses around انتربول are left alone); one new 3-sentence "
        "paragraph about the meeting (the closing session and its "
        "recommendations) is added after the last body paragraph, before the "
        "footer lines \"مقالات ذات صلة\" / \"زر الذهاب إلى الأعلى\", which stay last."
        % (SEED_003, REWRAP_WIDTH, rew["wrapped"], REWRAP_WIDTH, rew["lines"],
           qtext),
        "",
        "`004_truncated.txt` (from `%s`): the first %d of the seed's %d "
        "bytes, i.e. its first %d of %d lines, cut at the line boundary "
        "nearest the middle by bytes; nothing else is changed (a final "
        "newline ends the file)."
        % (SEED_004, tru["cut"], tru["size"], tru["lines"], tru["total_lines"]),
        "",
        "The seeds end without a newline; every variant ends with one.",
    ]
    return "\n".join(parts) + "\n"


SEED_002 = "002_0b6d1692144c6f75.txt"
NEAR_IDENTICAL_NOTE = (
    "`002_near_identical.txt` (from `%s`): the same article as printed by a "
    "second site: the date line in Arabic-Indic digits, harakat on the first "
    "word of the title, and the word \"سعادة\" dropped from the first "
    "repeated paragraph and its copy. After normalisation the texts differ by "
    "those two words, so even SimHash at its default of 3 bits finds the pair."
    % SEED_002)


def make_near_identical():
    text = read_seed(SEED_002)
    text = text.replace("03-02-2020 05:11", "٠٣-٠٢-٢٠٢٠ ٠٥:١١", 1)
    text = text.replace("الأمانة العامة لمجلس", "الأَمَانَةُ العامة لمجلس", 1)
    text = text.replace("في الاجتماع سعادة اللواء", "في الاجتماع اللواء")
    return text if text.endswith("\n") else text + "\n"


def main():
    os.makedirs(OUT, exist_ok=True)
    syn_text, syn = make_syndicated()
    rew_text, rew = make_rewrapped()
    tru_text, tru = make_truncated()
    for name, text in (("000_syndicated.txt", syn_text),
                       ("003_rewrapped.txt", rew_text),
                       ("004_truncated.txt", tru_text),
                       ("002_near_identical.txt", make_near_identical()),
                       ("README.md", readme(syn, rew, tru) + "\n" + NEAR_IDENTICAL_NOTE + "\n")):
        size = write_out(name, text)
        print("%-20s %6d bytes" % (name, size))
    return 0


if __name__ == "__main__":
    sys.exit(main())
