"""kb.retrieval.tokenizer: domain terms whole, question words dropped, one tokenisation for documents and queries."""
from __future__ import annotations

import pytest

from kb.retrieval.tokenizer import DOMAIN_TERMS_FILE, ChineseTokenizer, load_domain_terms, normalize, tokenize_batch

DOMAIN_TERMS = ("五个政治", "两个维护", "一岗双责", "三重一大", "民主集中制", "亲清政商关系")

POLICY_SENTENCES = (
    "坚持和加强党的全面领导，坚决维护以习近平同志为核心的党中央权威和集中统一领导。",
    "各级党委（党组）要切实履行全面从严治党主体责任，落实一岗双责，严格执行三重一大决策制度。",
    "考察分为准备与建组、通报与动员、自评与访谈、查阅与核实、分析与研判、总结与汇报、运用与反馈7个步骤。",
    "领导班子要坚持民主集中制，认真开展批评和自我批评，构建亲清政商关系，做到两个维护。",
    "对省管干部开展政治素质考察，建立政治素质档案，从五个政治方面把好政治关。",
    "市人民政府应当编制12345热线工作发展规划，推进12345热线工作标准化、规范化、智慧化建设。",
)


@pytest.fixture(scope="module")
def tokenizer() -> ChineseTokenizer:
    return ChineseTokenizer(segmenter="rjieba")


def test_domain_terms_file_holds_the_required_terms():
    terms = load_domain_terms(DOMAIN_TERMS_FILE)
    for term in DOMAIN_TERMS:
        assert term in terms


@pytest.mark.parametrize("term", DOMAIN_TERMS)
def test_dictionary_terms_stay_whole_in_documents(tokenizer, term):
    text = f"各级领导干部要把{term}的要求落到实处，持续推进。"
    assert term in tokenizer.tokenize(text)


@pytest.mark.parametrize("term", DOMAIN_TERMS)
def test_dictionary_terms_stay_whole_in_questions(tokenizer, term):
    assert term in tokenizer.tokenize(f"{term}是指什么？")
    assert term in tokenizer.content_terms(f"如何落实{term}？")


@pytest.mark.parametrize("word", ["什么", "哪些", "如何"])
def test_question_words_are_not_tokens(tokenizer, word):
    question = f"干部考察中{word}属于一岗双责的要求？"
    tokens = tokenizer.tokenize(question)
    assert word not in tokens
    assert word not in tokenizer.content_terms(question)
    # no bigram may carry the question word either
    assert not any(word in token for token in tokens)
    assert "一岗双责" in tokens


def test_function_words_are_not_content_terms(tokenizer):
    terms = tokenizer.content_terms("我们的考察组和班子成员是否进行了谈话？")
    assert "的" not in terms and "我们" not in terms and "进行" not in terms and "是否" not in terms
    assert "考察组" in terms or "考察" in terms
    assert "谈话" in terms


def test_same_tokens_for_documents_and_queries(tokenizer):
    """The one `tokenize` serves both sides: a question's words are found in the document's tokens."""
    document = "严格执行三重一大决策制度，落实一岗双责。"
    query = "三重一大决策制度怎么执行？"
    doc_tokens = set(tokenizer.tokenize(document))
    query_tokens = tokenizer.tokenize(query)
    assert query_tokens, "a real question must yield tokens"
    assert set(query_tokens) <= doc_tokens
    assert tokenizer.tokenize(document) == tokenizer.tokenize(document)  # deterministic
    # a document sentence used as a query gives exactly its document tokens
    assert tokenizer.tokenize(document) == ChineseTokenizer(segmenter="rjieba").tokenize(document)


def test_full_and_half_width_text_tokenise_alike(tokenizer):
    assert tokenizer.tokenize("ＡＢＣ１２３，落实一岗双责（试行）") == tokenizer.tokenize("abc123,落实一岗双责(试行)")
    assert normalize("ＡＢＣ１２３") == "abc123"


def test_bigrams_bridge_segmentation_differences(tokenizer):
    tokens = tokenizer.tokenize("县市区班子成员")
    assert "班子" in tokens and "成员" in tokens and "子成" in tokens


def test_punctuation_and_empty_text(tokenizer):
    assert tokenizer.tokenize("") == []
    assert tokenizer.tokenize("，。！？、；：") == []
    assert tokenizer.content_terms("什么？") == []


def test_ascii_words_and_numbers_are_tokens(tokenizer):
    tokens = tokenizer.tokenize("12345热线与ICP备案")
    assert "12345" in tokens
    assert "icp" in tokens


def test_unknown_segmenter_is_refused():
    with pytest.raises(ValueError, match="segmenter"):
        ChineseTokenizer(segmenter="thulac").tokenize("考察")


def test_tokenize_batch_matches_tokenize(tokenizer):
    assert tokenize_batch(list(POLICY_SENTENCES[:2])) == [tokenizer.tokenize(s) for s in POLICY_SENTENCES[:2]]


@pytest.mark.parametrize("sentence", POLICY_SENTENCES)
def test_jieba_and_rjieba_give_the_same_tokens(tokenizer, sentence):
    jieba_tokens = ChineseTokenizer(segmenter="jieba").tokenize(sentence)
    rjieba_tokens = tokenizer.tokenize(sentence)
    only_jieba = sorted(set(jieba_tokens) - set(rjieba_tokens))
    only_rjieba = sorted(set(rjieba_tokens) - set(jieba_tokens))
    assert jieba_tokens == rjieba_tokens, f"only jieba: {only_jieba}; only rjieba: {only_rjieba}"


@pytest.mark.parametrize(
    "one, other",
    [("GPT-3", "GPT3"), ("GPT 3", "gpt-3"), ("CBA2019-2020赛季", "CBA 2019-2020 赛季"), ("小米MIX3", "小米MIX 3"),
     ("PlayStation 4", "PlayStation4")],
)
def test_latin_and_digit_terms_meet_in_every_spelling(tokenizer, one, other):
    """A model or a season written with or without spaces, hyphens or glued to Chinese shares its
    joined form and its letter+digit form: "GPT-3" used to give only "gpt", so a question for it never
    reached a passage that writes GPT3."""
    joined = lambda s: {t for t in tokenizer.tokenize(s) if any(c.isdigit() for c in t) and any(c.isalpha() for c in t)}
    assert joined(one) & joined(other), (tokenizer.tokenize(one), tokenizer.tokenize(other))


def test_an_english_phrase_is_not_joined_into_one_token(tokenizer):
    tokens = tokenizer.tokenize("《头号玩家》（英语：Ready Player One Two Three）")
    assert "ready" in tokens and "player" in tokens
    assert not any(len(t) > 12 for t in tokens)
