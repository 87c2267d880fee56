"""Data for the MCKD sequence tasks: treebank rows for constituency parsing, slot-tagging rows
for semantic parsing, and the labeled / unlabeled / test split (see docs/methods.md, MCKD).

Row format (every sequence task): {"id": str, "words": [str, ...], "target": str}, where target
is what the student generates. Parsing rows add "tags" (gold POS tags, which the metric needs to
remove punctuation), "tree" (the cleaned Penn tree as text, re-read by the evaluation with
constituency.parse_tree) and "article" (the document a sentence comes from, so a test set can
hold out whole documents); tagging rows have target = space-separated BIO tags, one per word.

Sources:
- load_treebank: any directory of Penn `.tree` files, e.g. CRAFT.
- generate_treebank: sentences from a small English grammar of this project, so the parsing
  task runs offline (no treebank ships on PyPI).
- generate_slot_tagging: ATIS-style flight queries from templates of this project, offline.
"""

import random
import re
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import TypeVar

from kdbench.errors import KDBenchError
from kdbench.trees import PUNCT_TAGS, Tree, clean, read_tree_file, tags, to_unlabeled, words

T = TypeVar("T")

# This project's choice: titles, section headings and citation lines are not sentences (CRAFT's
# headings are mostly one or two nouns such as "Results"), so they are dropped by default.
# CAPTION trees are kept: most are ordinary sentences or full noun phrases.
DEFAULT_DROP_ROOTS = frozenset({"TITLE", "HEADING", "CIT"})

_ASCII_SPACE = re.compile(r"[ \t\n\r\f\v]")


def tree_to_penn(tree: Tree) -> str:
    """One-line Penn bracketing of a tree, such that constituency.parse_tree reads it back.

    Brackets inside words become -LRB- / -RRB- (the Penn escapes), as Penn files already have
    them; a word or label with ASCII whitespace inside cannot be written and raises.
    """
    if _ASCII_SPACE.search(tree.label) or "(" in tree.label or ")" in tree.label:
        raise KDBenchError(f"label {tree.label!r} cannot be written as Penn text "
                           "(whitespace or bracket inside)")
    if tree.word is not None:
        if _ASCII_SPACE.search(tree.word) or not tree.word:
            raise KDBenchError(f"word {tree.word!r} cannot be written as Penn text "
                               "(empty or whitespace inside)")
        word = tree.word.replace("(", "-LRB-").replace(")", "-RRB-")
        return f"({tree.label} {word})"
    inner = " ".join(tree_to_penn(child) for child in tree.children)
    return f"({tree.label} {inner})" if tree.label else f"( {inner})"


def _content_words(tree_tags: Sequence[str]) -> int:
    return sum(tag not in PUNCT_TAGS for tag in tree_tags)


def _parse_row(tree: Tree, row_id: str, article: str) -> dict:
    tree_tags = tags(tree)
    return {"id": row_id, "words": words(tree), "target": to_unlabeled(tree), "tags": tree_tags,
            "tree": tree_to_penn(tree), "article": article}


def load_treebank(directory: str | Path, min_words: int = 2, max_words: int | None = None, *,
                  drop_roots: Collection[str] = DEFAULT_DROP_ROOTS,
                  counts: dict[str, int] | None = None) -> list[dict]:
    """Parsing rows of every `*.tree` file of a directory (files sorted by name).

    Each tree is cleaned (constituency.clean: no -NONE- elements, no function tags); a tree is
    dropped when nothing is left, when its root label is in drop_roots, or when its number of
    non-punctuation words (POS tag not in PUNCT_TAGS) is outside [min_words, max_words]
    (max_words None: no upper bound). A sentence with fewer than two such words has no span to
    score and scores 1.0 whatever is predicted, hence the default min_words of 2.

    id = `<file stem>-<tree number in the file, from 1, counted before dropping>`, article =
    the file stem. If counts is given, it is filled with files, trees, one dropped_* count per
    reason (dropped_<ROOT> for each label of drop_roots) and kept, for a stage to log.
    """
    if min_words < 1:
        raise KDBenchError(f"min_words is {min_words}: expected at least 1")
    if max_words is not None and max_words < min_words:
        raise KDBenchError(f"max_words ({max_words}) is below min_words ({min_words})")
    directory = Path(directory)
    if not directory.is_dir():
        raise KDBenchError(f"treebank directory {directory} does not exist: expected a "
                           "directory of Penn .tree files")
    files = sorted(directory.glob("*.tree"))
    if not files:
        raise KDBenchError(f"treebank directory {directory} has no .tree files: expected Penn "
                           "trees, one file per document")
    tally = {"files": len(files), "trees": 0, "dropped_empty": 0,
             **{f"dropped_{label}": 0 for label in sorted(drop_roots)},
             "dropped_short": 0, "dropped_long": 0, "kept": 0}
    rows: list[dict] = []
    for path in files:
        for number, raw in enumerate(read_tree_file(path), start=1):
            tally["trees"] += 1
            tree = clean(raw)
            if tree is None:
                tally["dropped_empty"] += 1
                continue
            if tree.label in drop_roots:
                tally[f"dropped_{tree.label}"] += 1
                continue
            n = _content_words(tags(tree))
            if n < min_words:
                tally["dropped_short"] += 1
            elif max_words is not None and n > max_words:
                tally["dropped_long"] += 1
            else:
                rows.append(_parse_row(tree, f"{path.stem}-{number}", path.stem))
    tally["kept"] = len(rows)
    if counts is not None:
        counts.update(tally)
    if not rows:
        bound = "no limit" if max_words is None else max_words
        raise KDBenchError(f"no tree of {directory} is left after filtering: expected trees with "
                           f"{min_words} to {bound} non-punctuation words and a root label not "
                           f"in {sorted(drop_roots)} ({tally})")
    return rows


def split_by_article(rows: Sequence[dict], n_labeled: int, n_unlabeled: int, n_test: int,
                     seed: int) -> tuple[list[dict], list[dict], list[dict]]:
    """(labeled, unlabeled, test), disjoint, of the requested sizes, the same for the same rows
    and seed.

    The test set holds out whole articles: articles are drawn at random until they hold n_test
    sentences, then n_test of their sentences are sampled; their other sentences are used
    nowhere, so no article is shared between test and the rest. Labeled and unlabeled are
    sampled from the other articles' sentences. A row without "article" is its own article,
    which makes this a plain random split for such rows.
    """
    for name, value in (("n_labeled", n_labeled), ("n_unlabeled", n_unlabeled),
                        ("n_test", n_test)):
        if value < 0:
            raise KDBenchError(f"{name} is {value}: expected 0 or more")
    needed = n_labeled + n_unlabeled + n_test
    if len(rows) < needed:
        raise KDBenchError(f"{len(rows)} sentences, too few for {n_labeled} labeled + "
                           f"{n_unlabeled} unlabeled + {n_test} test")
    articles: dict[object, list[dict]] = {}
    for index, row in enumerate(rows):
        # A tuple key cannot collide with a real (string) article name.
        articles.setdefault(row.get("article", ("row", index)), []).append(row)
    order = list(articles)
    rng = random.Random(seed)
    rng.shuffle(order)
    held: list[dict] = []
    taken = 0
    while len(held) < n_test:
        held.extend(articles[order[taken]])
        taken += 1
    test = rng.sample(held, n_test)
    rest = [row for key in order[taken:] for row in articles[key]]
    if len(rest) < n_labeled + n_unlabeled:
        raise KDBenchError(
            f"the {taken} articles held out for {n_test} test sentences leave {len(rest)} "
            f"sentences, too few for {n_labeled} labeled + {n_unlabeled} unlabeled")
    train = rng.sample(rest, n_labeled + n_unlabeled)
    return train[:n_labeled], train[n_labeled:], test


# The generated treebank's grammar. A symbol is a lexicon key (a preterminal: its tag is the part
# before ':'), a capitalised rule key (a node labelled with the part before ':', variants share
# the label: NP:he is an NP) or a lowercase rule key (a helper whose children are spliced into
# its parent, so NPs stay flat as in Penn: (NP (DT the) (JJ old) (NN dog))). Weights are relative.
_RULES: dict[str, list[tuple[float, list[str]]]] = {
    "S:top": [(10, ["subj", "VP", "."]),
              (1, ["PP", ",", "subj", "VP", "."]),
              (1.5, ["S", ",", "CC:clause", "S", "."])],
    "S": [(1, ["subj", "VP"])],
    "subj": [(8, ["NP"]), (2, ["NP:he"])],
    "obj": [(8, ["NP"]), (1.5, ["NP:him"])],
    "NP:he": [(1, ["PRP:subj"])],
    "NP:him": [(1, ["PRP:obj"])],
    "NP": [(5, ["DT:sg", "adjs", "NN"]),
           (3, ["DT:pl", "adjs", "NNS"]),
           (1, ["CD", "adjs", "NNS"]),
           (1.5, ["NNP"]),
           # NP attachment: with VP -> V obj PP below, the source of attachment ambiguity.
           (1.8, ["NP", "PP"]),
           (0.6, ["NP", "SBAR:rel"]),
           (0.3, ["NP", "CC", "NP"])],
    "adjs": [(6, []), (3, ["JJ"]), (1, ["JJ", "JJ"])],
    "PP": [(1, ["IN", "obj"])],
    "PP:to": [(1, ["TO", "obj"])],
    "ADVP": [(1, ["RB"])],
    "VP": [(3, ["VBD:intr"]),
           (1.5, ["VBD:intr", "PP"]),
           (1, ["VBD:intr", "ADVP"]),
           (4, ["VBD:tr", "obj"]),
           # VP attachment of a PP after the object: the same words as V [NP NP PP].
           (2.5, ["VBD:tr", "obj", "PP"]),
           (1.5, ["VBD:ditr", "obj", "NP"]),
           (1, ["VBD:ditr", "obj", "PP:to"]),
           (1, ["VBD:say", "SBAR"]),
           (0.3, ["VP", "CC:clause", "VP"])],
    "SBAR": [(1, ["IN:that", "S"])],
    # Relative clauses as cleaned Penn trees show them: the gap's trace is gone.
    "SBAR:rel": [(1, ["WHNP", "S:subjgap"]), (1, ["WHNP", "S:objgap"])],
    "WHNP": [(1, ["WDT"])],
    "S:subjgap": [(1, ["VP"])],
    "S:objgap": [(1, ["subj", "VP:gap"])],
    "VP:gap": [(2, ["VBD:tr"]), (1, ["VBD:tr", "PP"])],
}

_LEXICON: dict[str, list[str]] = {key: text.split() for key, text in {
    "DT:sg": "the the the a a this that every each another",
    "DT:pl": "the the these those some",
    "CD": "two three four five six ten",
    "NN": """dog cat bird horse cow girl boy man woman child teacher doctor student farmer
             driver artist friend neighbor king queen baker nurse pilot lawyer chef singer
             book letter box table chair bed window door house garden park river road car bus
             train boat ship hat coat bag key cup bottle picture map phone camera telescope
             ball kite apple cake bread city village school shop market office hill forest
             field lake bridge tower kitchen room yard song story idea gift plan ticket""",
    "NNS": """dogs cats birds horses cows girls boys men women children teachers doctors
              students farmers drivers artists friends neighbors bakers nurses pilots books
              letters boxes tables chairs windows doors houses gardens cars buses trains boats
              hats coats bags keys cups bottles pictures maps phones cameras balls apples cakes
              flowers trees stones shoes toys songs stories gifts tickets""",
    "NNP": "Anna Tom Maria John Sarah Peter Lucy David Emma Paul Kate Sam Laura Mark Nina Leo",
    "JJ": """old young big small tall short red blue green yellow black white happy sad angry
             quiet loud new famous strange lazy clever brave kind busy tired hungry heavy
             light dark bright warm cold wet dry empty full little large pretty ugly rich poor
             friendly nervous careful""",
    "VBD:intr": """arrived slept laughed smiled waited danced cried sang ran walked jumped
                   left stayed fell swam shouted worked played rested disappeared returned
                   stopped""",
    "VBD:tr": """saw found liked bought watched visited painted carried opened closed cleaned
                 followed helped noticed pushed pulled chased caught kicked held touched
                 washed fixed dropped broke met called needed wanted kept hid loved hated
                 admired missed""",
    "VBD:ditr": "gave sent showed handed offered brought sold lent told",
    "VBD:say": "said thought knew believed noticed heard claimed suggested remembered",
    "IN": "with near on in under behind from at beside across inside above below around by",
    "IN:that": "that",
    "TO": "to",
    "RB": "quickly slowly quietly loudly early again happily suddenly carefully",
    "CC": "and or",
    "CC:clause": "and but",
    "PRP:subj": "he she they we I you it",
    "PRP:obj": "him her them us me you it",
    "WDT": "that which",
    ",": ",",
    ".": ".",
}.items()}

_MAX_DEPTH = 40


class _Rejected(Exception):
    """A derivation ran past the word or depth limit; the caller draws another."""


def _expand(symbol: str, rng: random.Random, budget: list[int], depth: int) -> list[Tree]:
    """The nodes a symbol derives: one node, or a helper's spliced children. budget[0] counts
    the words still allowed, so a runaway recursion stops early instead of being finished."""
    if depth > _MAX_DEPTH:
        raise _Rejected
    label = symbol.split(":")[0]
    if symbol in _LEXICON:
        budget[0] -= 1
        if budget[0] < 0:
            raise _Rejected
        return [Tree(label, word=rng.choice(_LEXICON[symbol]))]
    alternatives = _RULES[symbol]
    _, body = rng.choices(alternatives, weights=[w for w, _ in alternatives])[0]
    kids = [node for child in body for node in _expand(child, rng, budget, depth + 1)]
    if symbol[0].islower():
        return kids
    return [Tree(label, tuple(kids))]


def generate_treebank(n: int, seed: int, *, sentences_per_article: int = 20,
                      min_words: int = 4, max_words: int = 20) -> list[dict]:
    """n distinct sentences of this project's English grammar, as parsing rows.

    Each has min_words to max_words non-punctuation words and ends with a period; PPs attach
    to nouns or to verbs, so `saw the man with the telescope` has two readings and only the
    tree says which. Rows are grouped in synthetic articles of sentences_per_article sentences
    (ids `gen<article>-<number>`) so split_by_article can hold out whole articles. The same n
    and seed give the same rows.
    """
    if n < 1 or sentences_per_article < 1:
        raise KDBenchError(f"n ({n}) and sentences_per_article ({sentences_per_article}) must "
                           "be at least 1")
    if not 1 <= min_words <= max_words:
        raise KDBenchError(f"word limits {min_words}..{max_words}: expected "
                           "1 <= min_words <= max_words")
    rng = random.Random(seed)

    def draw() -> tuple[str, Tree] | None:
        try:
            # The budget counts the final period too.
            (tree,) = _expand("S:top", rng, [max_words + 1], 0)
        except _Rejected:
            return None
        if not min_words <= _content_words(tags(tree)) <= max_words:
            return None
        return " ".join(words(tree)), tree

    trees = _draw_distinct(n, draw, f"sentences of {min_words} to {max_words} words")
    rows = []
    for index, tree in enumerate(trees):
        doc, number = divmod(index, sentences_per_article)
        rows.append(_parse_row(tree, f"gen{doc:05d}-{number + 1}", f"gen{doc:05d}"))
    return rows


def _draw_distinct(n: int, draw: Callable[[], tuple[str, T] | None], what: str) -> list[T]:
    """n items from draw() with distinct keys; draw returns (key, item), or None to reject.
    Rejections (length, duplicates) are common but bounded: give up rather than loop forever
    when n is beyond what the generator can produce."""
    items: list[T] = []
    seen: set[str] = set()
    attempts = 0
    while len(items) < n:
        attempts += 1
        if attempts > 50 * n + 1000:
            raise KDBenchError(f"only {len(items)} distinct {what} after {attempts - 1} draws: "
                               f"asked for {n}")
        drawn = draw()
        if drawn is None or drawn[0] in seen:
            continue
        seen.add(drawn[0])
        items.append(drawn[1])
    return items


# ATIS-style queries: lowercase words, slot types named as in ATIS. A template is words and
# {slot} fillers; [a|b|] picks one alternative (an empty one makes the group optional).
_CITIES = """boston|new york|san francisco|los angeles|denver|dallas|fort worth|atlanta|
pittsburgh|baltimore|philadelphia|washington|oakland|miami|orlando|tampa|charlotte|phoenix|
houston|detroit|chicago|seattle|cleveland|columbus|milwaukee|nashville|memphis|indianapolis|
minneapolis|st. paul|st. louis|kansas city|salt lake city|las vegas|san diego|san jose|
long beach|burbank|newark|cincinnati|toronto|montreal|westchester county|ontario"""

_FILLERS: dict[str, list[str]] = {key: [f.strip() for f in text.split("|")] for key, text in {
    "city_name": _CITIES,
    "depart_date.day_name": "monday|tuesday|wednesday|thursday|friday|saturday|sunday",
    "depart_date.month_name": "january|february|march|april|may|june|july|august|september|"
                              "october|november|december",
    "depart_date.day_number": "first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|"
                              "tenth|twelfth|fifteenth|twentieth|twenty first|twenty second|"
                              "twenty fifth|thirtieth",
    "depart_date.today_relative": "today|tomorrow|tonight",
    "period_of_day": "morning|afternoon|evening|night|early morning|late evening",
    "time": "8 am|9 am|10 am|noon|1 pm|2 pm|3 pm|5 pm|6 pm|7 pm|8 pm|10 pm|midnight|"
            "6 o'clock|8 o'clock",
    "time_relative": "before|after|around|earlier than|later than",
    "airline_name": "united|united airlines|delta|delta airlines|american airlines|us air|"
                    "continental|northwest|alaska airlines|twa|eastern airlines|lufthansa",
    "class_type": "first class|business class|economy|coach|thrift",
    "round_trip": "round trip|one way",
    "cost_relative": "cheapest|lowest|least expensive|most expensive",
    "flight_mod": "earliest|latest|first|last",
    "flight_stop": "nonstop|direct",
    "meal_description": "breakfast|lunch|dinner|a snack",
    "transport_type": "taxi|limousine|rental car|bus|air taxi",
}.items()}

# Slot types that share a filler list with others (every city slot names a city, every time
# slot a time).
_FILLER_OF = {"fromloc.city_name": "city_name", "toloc.city_name": "city_name",
              "stoploc.city_name": "city_name",
              "depart_time.period_of_day": "period_of_day",
              "arrive_time.period_of_day": "period_of_day",
              "depart_time.time": "time", "arrive_time.time": "time",
              "depart_time.time_relative": "time_relative",
              "arrive_time.time_relative": "time_relative"}

_FROM_TO = "[from {fromloc.city_name} to {toloc.city_name}|between {fromloc.city_name} and " \
           "{toloc.city_name}|to {toloc.city_name} from {fromloc.city_name}]"
_WHEN = "[on {depart_date.day_name}|{depart_date.today_relative}|on {depart_date.month_name} " \
        "{depart_date.day_number}|{depart_date.day_name} {depart_time.period_of_day}|" \
        "in the {depart_time.period_of_day}|leaving {depart_time.time_relative} " \
        "{depart_time.time}|]"

_TEMPLATES = [
    f"[show me|list|give me|please list|can you show me|i'd like to see] [the|] flights {_FROM_TO} "
    f"{_WHEN}",
    f"[i want|i need|i would like] [a|] [flight|flights|to fly] {_FROM_TO} {_WHEN}",
    f"what flights [go|are there|leave] {_FROM_TO} {_WHEN}",
    f"[list|show me] [all|] {{flight_stop}} flights {_FROM_TO} {_WHEN}",
    f"[show me|list|are there any] {{airline_name}} flights {_FROM_TO} {_WHEN}",
    f"i need a {{round_trip}} ticket {_FROM_TO} [in {{class_type}}|]",
    f"what is the {{cost_relative}} [fare|one way fare|round trip fare|flight] {_FROM_TO} "
    f"{_WHEN}",
    f"[what is|give me|show me] the {{flight_mod}} flight {_FROM_TO} {_WHEN}",
    f"[show me|i need|list] flights {_FROM_TO} [that stop|with a stop|stopping] in "
    "{stoploc.city_name}",
    f"[show me|list|what are] the {{class_type}} fares {_FROM_TO}",
    "[show me|list|what are the] flights [to|into|arriving in] {toloc.city_name} "
    "[arriving {arrive_time.time_relative} {arrive_time.time}|in the "
    "{arrive_time.period_of_day}|that arrive {arrive_time.time_relative} {arrive_time.time}]",
    "[what|which] airlines [fly|have flights] from {fromloc.city_name} to {toloc.city_name}",
    f"[do you have|is there] a flight {_FROM_TO} [that serves|with] {{meal_description}}",
    "[what ground transportation is available|how do i get downtown] in {city_name}",
    "how much does a {transport_type} cost in {city_name}",
    "[is there|i need] a {transport_type} [from the airport|] in {city_name}",
    f"{{depart_date.day_name}} {{depart_time.period_of_day}} flights {_FROM_TO}",
    "[i'd like to|i want to|i need to] [go|fly|travel] from {fromloc.city_name} to "
    "{toloc.city_name} [on {airline_name}|in {class_type}|{depart_date.today_relative}|] "
    "[arriving {arrive_time.time_relative} {arrive_time.time}|]",
]

_GROUP = re.compile(r"\[([^\[\]]*)\]")


def _fill(template: str, rng: random.Random) -> tuple[list[str], list[str]]:
    """The words and BIO tags of one draw of a template."""
    text = _GROUP.sub(lambda m: rng.choice(m.group(1).split("|")), template)
    sentence: list[str] = []
    bio: list[str] = []
    for token in text.split():
        if token.startswith("{"):
            slot = token[1:-1]
            filler = rng.choice(_FILLERS[_FILLER_OF.get(slot, slot)]).split()
            sentence.extend(filler)
            bio.extend([f"B-{slot}"] + [f"I-{slot}"] * (len(filler) - 1))
        else:
            sentence.append(token)
            bio.append("O")
    return sentence, bio


def generate_slot_tagging(n: int, seed: int, *, min_words: int = 1,
                          max_words: int | None = None) -> list[dict]:
    """n distinct ATIS-style travel queries of min_words to max_words words (None: no upper
    bound) as tagging rows: target = BIO slot tags, one per word (multi-word fillers such as
    `new york` are B- then I-). No "article": each row is its own for split_by_article. The same
    arguments give the same rows."""
    if n < 1:
        raise KDBenchError(f"n is {n}: expected at least 1")
    rng = random.Random(seed)

    def draw() -> tuple[str, tuple[list[str], list[str]]] | None:
        sentence, bio = _fill(rng.choice(_TEMPLATES), rng)
        if len(sentence) < min_words or max_words is not None and len(sentence) > max_words:
            return None
        return " ".join(sentence), (sentence, bio)

    return [{"id": f"slot-{k + 1}", "words": sentence, "target": " ".join(bio)}
            for k, (sentence, bio) in enumerate(_draw_distinct(n, draw, "queries"))]


def tag_set(rows: Sequence[dict]) -> list[str]:
    """Every tag of the rows' targets, sorted: the output vocabulary of a tagging task."""
    return sorted({tag for row in rows for tag in row["target"].split()})
