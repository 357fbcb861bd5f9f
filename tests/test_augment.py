"""zipsift.augment: sentence splitting, local/global augmentation, the OpenAI-compatible client over
real HTTP, and the nonsense-word reversal and syllogism datasets."""
import itertools
import re
import threading
import time

import pytest

from zipsift.augment import (GLOBAL_TEMPLATE, GenerationError, OpenAIChat, global_augment, local_augment,
                             nonsense_words, parse_inferences, reversal_dataset, sentence_examples,
                             split_sentences, syllogism_dataset)

from fake_openai import CONVERSE, FACT, FakeServer, reverse


@pytest.fixture
def server():
    s = FakeServer()
    yield s
    s.close()


def test_openai_chat_round_trip_sends_model_messages_and_key(server):
    chat = OpenAIChat(server.url, "tiny-model", api_key="sk-test", system="be brief", max_tokens=64)
    assert chat("Text: femp are bigger than glon.\nInferences:") == (
        "Inferences:\n- glon are smaller than femp.\n2. glon are smaller than femp.\n"
        "* Glon are smaller than femp.\n- femp are bigger than glon.\n")
    req = server.requests[0]
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["Authorization"] == "Bearer sk-test"
    assert req["body"]["model"] == "tiny-model" and req["body"]["max_tokens"] == 64
    assert req["body"]["messages"][0] == {"role": "system", "content": "be brief"}
    assert req["body"]["messages"][1]["role"] == "user"


def test_openai_chat_retries_server_errors_then_succeeds(server):
    server.fail_first = 2
    assert OpenAIChat(server.url, "m", max_retries=2, backoff=0)("hi") == "nothing follows"
    assert len(server.requests) == 3


def test_openai_chat_gives_up_after_its_retries(server):
    server.status = 503
    with pytest.raises(GenerationError, match="failed after 3 attempt"):
        OpenAIChat(server.url, "m", max_retries=2, backoff=0)("hi")


def test_openai_chat_does_not_retry_client_errors(server):
    server.status = 401
    with pytest.raises(GenerationError, match="HTTP 401"):
        OpenAIChat(server.url, "m", max_retries=5, backoff=0)("hi")
    assert len(server.requests) == 1


def test_openai_chat_times_out(server):
    server.delay = 1.0
    with pytest.raises(GenerationError, match="failed after 2 attempt.*[Tt]ime"):
        OpenAIChat(server.url, "m", timeout=0.2, max_retries=1, backoff=0)("hi")


def test_openai_chat_reports_a_malformed_response(server):
    server.raw = b'{"choices": []}'
    with pytest.raises(GenerationError, match="no choices"):
        OpenAIChat(server.url, "m")("hi")


def test_openai_chat_reports_connection_refused():
    s = FakeServer()
    url = s.url
    s.close()
    with pytest.raises(GenerationError, match="failed after 2 attempt"):
        OpenAIChat(url, "m", max_retries=1, backoff=0, timeout=2)("hi")


def test_openai_chat_limits_requests_in_flight(server):
    server.delay = 0.05
    chat = OpenAIChat(server.url, "m", max_concurrency=2)
    threads = [threading.Thread(target=chat, args=("hi",)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(server.requests) == 8 and 1 <= server.max_in_flight <= 2


@pytest.mark.parametrize("kwargs, match", [
    ({"base_url": "localhost:8000"}, "http"), ({"model": ""}, "model"), ({"timeout": 0}, "timeout"),
    ({"max_retries": -1}, "max_retries"), ({"max_concurrency": 0}, "max_concurrency"), ({"max_tokens": 0}, "max_tokens"),
])
def test_openai_chat_rejects_bad_settings(kwargs, match):
    args = {"base_url": "http://127.0.0.1:1/v1", "model": "m", **kwargs}
    with pytest.raises(ValueError, match=match):
        OpenAIChat(**args)


def test_local_augment_over_http_yields_true_reversals_with_provenance(server):
    data = reversal_dataset(5, seed=1)
    chat = OpenAIChat(server.url, "m", max_concurrency=2)
    stats = {}
    out = list(local_augment(data["train"], chat, workers=3, stats=stats))
    # per fact: the reversal once (its exact copy, case variant and the source copy are dropped)
    assert [r["text"] for r in out] == [reverse(d["text"]) for d in data["train"]]
    assert [r["source_id"] for r in out] == [d["id"] for d in data["train"]]
    assert all(r["strategy"] == "local" and r["id"] == f"{r['source_id']}:local:0" for r in out)
    assert stats == {"sources": 5, "prompts": 5, "inferences_parsed": 20, "dropped_same_as_source": 5,
                     "dropped_exact_duplicate": 5, "dropped_near_duplicate": 5, "records": 5}


# -- parsing, dedup, strategies -----------------------------------------------------------------------

def test_parse_inferences_strips_markers_and_headings():
    out = 'Rephrasings:\n- A is B.\n  2) "C is D."\n\n(a) E is F.\n* G\nInferences:\nplain line'
    assert parse_inferences(out) == ["A is B.", "C is D.", "E is F.", "G", "plain line"]
    with pytest.raises(ValueError, match="str"):
        parse_inferences(None)


def test_near_duplicate_rule_keeps_a_reversal_and_its_contradiction():
    gen = lambda p: "glon are less dangerous than femp.\nglon are more dangerous than femp.\nGlon are less dangerous than femp!"
    out = [r["text"] for r in local_augment(["femp are more dangerous than glon."], gen)]
    assert out == ["glon are less dangerous than femp.", "glon are more dangerous than femp."]
    # exact-only deduplication keeps the punctuation variant
    assert len(list(local_augment(["femp are more dangerous than glon."], gen, near_threshold=None))) == 3


def test_exact_duplicates_are_dropped_across_sources():
    gen = lambda p: "shared inference."
    out = list(local_augment([{"id": "a", "text": "x."}, {"id": "b", "text": "y."}], gen))
    assert [(r["source_id"], r["text"]) for r in out] == [("a", "shared inference.")]


def test_local_augment_per_sentence_prompts_each_sentence():
    prompts = []

    def gen(p):
        prompts.append(p)
        return "inference about " + p.split("Text: ")[-1].split("\n")[0]

    out = list(local_augment([{"id": "d1", "text": "First one. Second one."}], gen, unit="sentence"))
    assert [p.split("Text: ")[-1].split("\n")[0] for p in prompts] == ["First one.", "Second one."]
    assert [r["id"] for r in out] == ["d1:local-sentence:0", "d1:local-sentence:1"]


def test_local_augment_keeps_input_order_with_many_workers():
    def gen(p):
        n = int(re.search(r"doc (\d+)", p.split("Text: ")[-1]).group(1))
        time.sleep(0.002 * (10 - n))  # later documents finish first
        return f"fact {n} holds."

    out = list(local_augment([f"doc {i}." for i in range(10)], gen, workers=4))
    assert [r["text"] for r in out] == [f"fact {i} holds." for i in range(10)]
    assert [r["source_id"] for r in out] == [str(i) for i in range(10)]


def test_user_template_is_used_verbatim():
    seen = []
    list(local_augment(["a fact."], lambda p: seen.append(p) or "", template="Q {x}: {text} {corpus}"))
    assert seen == ["Q {x}: a fact. {corpus}"]


@pytest.mark.parametrize("call, exc, match", [
    (lambda: list(local_augment(["x."], lambda p: "", template="no placeholder")), ValueError, r"\{text\}"),
    (lambda: list(local_augment(["x."], lambda p: 3)), ValueError, "must return str"),
    (lambda: list(local_augment([{"id": "d7", "text": "x."}], lambda p: 1 / 0)), GenerationError,
     "source 'd7': ZeroDivisionError"),
    (lambda: list(local_augment([{"body": "x"}], lambda p: "")), ValueError, "record 0 has no field 'text'"),
    (lambda: list(local_augment(["  "], lambda p: "")), ValueError, "record 0: the text is empty"),
    (lambda: list(local_augment(["x."], lambda p: "", unit="word")), ValueError, "unit"),
    (lambda: list(local_augment(["x."], lambda p: "", workers=0)), ValueError, "workers"),
    (lambda: list(local_augment(["x."], lambda p: "", near_threshold=2)), ValueError, "near_threshold"),
    (lambda: list(global_augment(["x."], lambda p: "", template="{text} only")), ValueError, r"\{corpus\}"),
    (lambda: list(global_augment(["x."], "not callable")), ValueError, "callable"),
])
def test_augment_rejects_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_global_augment_puts_the_corpus_and_the_document_in_context():
    prompts = []

    def gen(p):
        prompts.append(p)
        doc = p.split("Now consider this document:\n")[1].split("\n")[0]
        return f"{doc} links to the rest."

    docs = [{"id": f"d{i}", "text": f"fact number {i}."} for i in range(3)]
    out = list(global_augment(docs, gen))
    assert len(prompts) == 3
    assert all(all(f"[d{i}] fact number {i}." in p for i in range(3)) for p in prompts)
    assert [r["text"] for r in out] == [f"fact number {i}. links to the rest." for i in range(3)]
    assert {r["strategy"] for r in out} == {"global"}


def test_global_augment_chunks_a_corpus_larger_than_the_context():
    docs = [{"id": f"d{i}", "text": f"document {i} " + "x" * 40} for i in range(10)]
    prompts = []

    def gen(p):
        prompts.append(p)
        return "inference " + str(len(prompts))

    limit = len(GLOBAL_TEMPLATE) + 200
    stats = {}
    out = list(global_augment(docs, gen, max_context_chars=limit, near_threshold=None, stats=stats))
    chunks = stats["chunks"]
    assert chunks > 1 and len(prompts) == 10 * chunks
    assert all(len(p) <= limit for p in prompts)
    for k in range(10):  # each document sees every other document across its chunks
        mine = prompts[k * chunks:(k + 1) * chunks]
        assert all(any(f"[d{i}] " in p for p in mine) for i in range(10))
    assert len(out) == 10 * chunks and stats["records"] == len(out)
    with pytest.raises(ValueError, match="raise max_context_chars"):
        list(global_augment(docs, gen, max_context_chars=len(GLOBAL_TEMPLATE)))


# -- sentences -----------------------------------------------------------------------------------------

def test_split_sentences_independent_and_cumulative():
    doc = "Dr. Smith met J. Doe at 3.5 km. They talked! Did it work?\n\nA last line"
    assert split_sentences(doc) == ["Dr. Smith met J. Doe at 3.5 km.", "They talked!", "Did it work?", "A last line"]
    assert split_sentences(doc, "cumulative") == [
        "Dr. Smith met J. Doe at 3.5 km.", "Dr. Smith met J. Doe at 3.5 km. They talked!",
        "Dr. Smith met J. Doe at 3.5 km. They talked! Did it work?", doc]
    assert split_sentences("   ") == [] and split_sentences("no end") == ["no end"]


def test_split_sentences_rejects_bad_input():
    with pytest.raises(ValueError, match="mode"):
        split_sentences("a.", mode="sliding")
    with pytest.raises(ValueError, match="str"):
        split_sentences(None)


def test_sentence_examples_keep_provenance():
    out = list(sentence_examples([{"id": "d", "text": "One. Two."}], "cumulative"))
    assert out == [{"id": "d:split-cumulative:0", "text": "One.", "source_id": "d", "strategy": "split-cumulative"},
                   {"id": "d:split-cumulative:1", "text": "One. Two.", "source_id": "d",
                    "strategy": "split-cumulative"}]


# -- datasets ------------------------------------------------------------------------------------------

# Written for this test, independently of the generator's own list.
ENGLISH = set("""
able back bank bark best bird blob blue boat bold bond book boom boot brag brim bulk bump burn cake
camp card dark deep desk dirt dock doll door drag drip drop drum dump dusk dust fast feed feel film
find fish flag flat flip flop fold fond food fool foot fork form fund gasp gift glad glob glow gold
golf good grab grin grip gulf gulp kept kind king kiss lamp land last leaf lend lift limp link list
loan loft look loop lost loud lump mask mild milk mind mint mist mold moon must nail need nest pant
park past peak pink plan plod plot plum pond pool pump rank rest risk roof room root rust salt sand
silk sink skip slab slam slap slim slip slot slug snap snob soft spin spot stem step stop such tank
tent test tilt tomb tool trap trim trip tusk vast vent vest west wind yelp zest zinc zoom blast bland
blend blind blink brand drift drink frank front grand grant plant print spend stamp stand stink
storm stuff stump stunt train trend trick trunk trust twist brain grain plain stain strain drain
sweet sleep creek green greed bleed breed steep sheep sweep troop stoop spoon broom groom bloom
found sound round pound mound ground proud sprout trout snout stout
""".split())


def test_nonsense_words_are_distinct_pronounceable_and_not_english():
    words = nonsense_words(3000, seed=0)
    assert len(set(words)) == 3000
    assert not set(words) & ENGLISH
    assert all(4 <= len(w) <= 5 and w.isalpha() and w.islower() and re.search("[aeiou]", w) for w in words)
    assert nonsense_words(50, seed=3) == nonsense_words(50, seed=3) != nonsense_words(50, seed=4)


def test_nonsense_words_avoid_a_full_dictionary_when_the_machine_has_one():
    try:
        with open("/usr/share/dict/words") as f:
            dictionary = {w.strip().lower() for w in f if w.strip().isalpha()}
    except OSError:
        pytest.skip("no /usr/share/dict/words on this machine")
    assert not set(nonsense_words(3000, seed=0)) & dictionary


def test_reversal_dataset_tests_the_true_converse():
    data = reversal_dataset(200, seed=5)
    assert len(data["train"]) == len(data["test"]) == 200
    words = set()
    for doc, item in zip(data["train"], data["test"]):
        a, rel, b = FACT.match(doc["text"]).groups()
        words |= {a, b}
        assert item["source_id"] == doc["id"] and len(item["choices"]) == 2
        right = item["choices"][item["answer"]]
        wrong = item["choices"][1 - item["answer"]]
        assert right == f"{b} are {CONVERSE[rel]} than {a}."  # the converse
        assert wrong == f"{b} are {rel} than {a}."              # the contradiction
        assert item["correct"] == [item["answer"]]
    assert len(words) == 400 and not words & ENGLISH
    assert {i["answer"] for i in data["test"]} == {0, 1}, "the right answer's position must vary"
    assert reversal_dataset(20, seed=5) == reversal_dataset(20, seed=5) != reversal_dataset(20, seed=6)


# An independent model checker: a statement over terms is valid when it holds in every model (a set
# of non-empty Venn regions over the three terms) in which the premises hold (modern semantics).
REGIONS = list(itertools.product([False, True], repeat=3))
SENT = re.compile(r"^(All|Some|No) (\w+) are (\w+)\.$")


def holds(statement, model, index):
    q, x, y = statement
    both = [r for r in model if r[index[x]] and r[index[y]]]
    if q == "All":
        return all(r[index[y]] for r in model if r[index[x]])
    if q == "Some":
        return bool(both)
    return not both


def follows(premises, conclusion, index):
    models = [[r for r, keep in zip(REGIONS, mask) if keep] for mask in itertools.product([0, 1], repeat=8)]
    return all(holds(conclusion, m, index) for m in models if all(holds(p, m, index) for p in premises))


def test_syllogism_conclusions_follow_and_distractors_do_not():
    data = syllogism_dataset(30, seed=2)
    assert {i["mood"] for i in data["test"]} == {"barbara", "celarent", "darii"}
    words = set()
    for doc, item in zip(data["train"], data["test"]):
        premises = [SENT.match(s.strip() + ("" if s.strip().endswith(".") else ".")).groups()
                    for s in re.findall(r"[^.]+\.", doc["text"])]
        terms = sorted({t for _, x, y in premises for t in (x, y)})
        words |= set(terms)
        index = {t: i for i, t in enumerate(terms)}
        choices = [SENT.match(c).groups() for c in item["choices"]]
        assert len(set(item["choices"])) == 6
        assert {q for q, _, _ in choices} == {"All", "Some", "No"}
        valid = [i for i, c in enumerate(choices) if follows(premises, c, index)]
        assert valid == item["correct"] and item["answer"] in valid
        if item["mood"] == "barbara":
            assert len(valid) == 1
    assert len(words) == 90 and not words & ENGLISH


def test_datasets_reject_bad_input():
    with pytest.raises(ValueError, match="n_facts"):
        reversal_dataset(0, seed=1)
    with pytest.raises(ValueError, match="n must be"):
        syllogism_dataset(-1)
    with pytest.raises(ValueError, match="moods"):
        syllogism_dataset(3, moods=["ferio"])
    with pytest.raises(ValueError, match="only .* distinct nonsense words"):
        nonsense_words(10 ** 6)


def test_near_copies_of_the_source_are_dropped_as_copies():
    gen = lambda p: "Femp are more dangerous than glon!\nglon are less dangerous than femp."
    stats = {}
    out = [r["text"] for r in local_augment(["femp are more dangerous than glon."], gen, stats=stats)]
    assert out == ["glon are less dangerous than femp."]
    assert stats["dropped_same_as_source"] == 1 and stats["dropped_near_duplicate"] == 0
