"""Chat prompts match the GGUF's Jinja template; sampling is seeded and honours top-k/top-p."""

import math
from array import array

import jinja2
import pytest

from pyapp.runtime.tokenizer import chat_template
from pyapp.runtime.model.sampling import Sampler, Sampling

SMOL_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")


@pytest.mark.parametrize("messages", [
    [{"role": "user", "content": "Hi"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "2+2?"}],
])
def test_chatml_render_equals_jinja(messages):
    want = jinja2.Template(SMOL_TEMPLATE).render(messages=messages, add_generation_prompt=True)
    assert chat_template.render(SMOL_TEMPLATE, messages) == want


LLAMA3_TEMPLATE = (  # Meta's Llama 3 Instruct template, with the {{- and | trim it uses
    "{{- bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + "
    "'<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")


def test_llama3_template_renders_the_documented_format():
    text = chat_template.render(LLAMA3_TEMPLATE, [{"role": "user", "content": " Hi \n"}], bos_token="<|begin_of_text|>")
    assert text == ("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                    "<|start_header_id|>assistant<|end_header_id|>\n\n")


def test_templates_get_what_hugging_face_gives_them():
    """trim_blocks and lstrip_blocks, loop controls, raise_exception and strftime_now."""
    template = ("{% for m in messages %}\n  {% if m.role == 'system' %}{% continue %}{% endif %}\n"
                "[{{ m.role }}]{{ m.content }}\n{% endfor %}{{ strftime_now('%Y') | length }}")
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    assert chat_template.render(template, messages) == "[user]U\n4"
    with pytest.raises(chat_template.ChatTemplateError, match="the template says: roles must alternate") as e:
        chat_template.render("{{ raise_exception('roles must alternate') }}", messages)
    assert e.value.fallback == "System: S\nUser: U\nAssistant:"


def test_a_template_that_fails_says_so_and_falls_back_to_plain_lines():
    with pytest.raises(chat_template.ChatTemplateError, match=r"does not render \(TemplateSyntaxError: .*\); a plain"):
        chat_template.render("{% for %}", [{"role": "user", "content": "Hi"}])
    assert chat_template.render("", [{"role": "user", "content": "Hi"}]) == "User: Hi\nAssistant:"


LOGITS = array("f", [1.0, 3.0, 2.5, -1.0, 0.0])


def test_top_k_one_is_greedy():
    s = Sampler(Sampling(temperature=1.5, top_k=1, seed=3))
    assert {s(LOGITS) for _ in range(50)} == {1}


def test_seeded_runs_repeat_and_seeds_differ():
    def draws(seed):
        s = Sampler(Sampling(temperature=1.0, top_k=0, seed=seed))
        return [s(LOGITS) for _ in range(40)]
    assert draws(7) == draws(7)
    assert draws(7) != draws(8)


def test_frequencies_follow_softmax():
    s = Sampler(Sampling(temperature=1.0, top_k=0, seed=11))
    n = 20000
    counts = [0] * len(LOGITS)
    for _ in range(n):
        counts[s(LOGITS)] += 1
    z = sum(math.exp(v) for v in LOGITS)
    for c, v in zip(counts, LOGITS):
        p = math.exp(v) / z
        assert abs(c / n - p) < 4 * math.sqrt(p * (1 - p) / n) + 1e-3


def test_top_p_keeps_the_nucleus():
    # softmax(LOGITS) = [.075, .553, .335, .010, .028]
    s = Sampler(Sampling(temperature=1.0, top_k=0, top_p=0.5, seed=5))
    assert {s(LOGITS) for _ in range(200)} == {1}  # .553 alone covers half the mass
    s = Sampler(Sampling(temperature=1.0, top_k=0, top_p=0.9, seed=5))
    assert {s(LOGITS) for _ in range(500)} == {1, 2, 0}  # .553 + .335 < .9, + .075 covers it


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="temperature"):
        Sampling(temperature=-1)
    with pytest.raises(ValueError, match="top_p"):
        Sampling(top_p=0)
    with pytest.raises(ValueError, match="min_p"):
        Sampling(min_p=1.5)
    with pytest.raises(ValueError, match="repeat_penalty"):
        Sampling(repeat_penalty=0)


def test_min_p_keeps_tokens_near_the_top():
    # softmax(LOGITS) relative to the top: [.135, 1, .607, .018, .050]
    s = Sampler(Sampling(temperature=1.0, top_k=0, min_p=0.5, seed=2))
    assert {s(LOGITS) for _ in range(300)} == {1, 2}
    s = Sampler(Sampling(temperature=1.0, top_k=0, min_p=0.1, seed=2))
    assert {s(LOGITS) for _ in range(800)} == {0, 1, 2}


def test_penalties_follow_llama_cpp():
    # token 1 seen twice: 3.0 / 2 - 2 * 0.5 - 0.25 = 0.25; token 3 (-1.0) seen once: -2.0 - 0.5 - 0.25
    s = Sampler(Sampling(temperature=1.0, top_k=1, repeat_penalty=2.0, frequency_penalty=0.5,
                         presence_penalty=0.25, seed=1))
    assert s(LOGITS, history=[1, 3, 1]) == 2          # 2.5 now leads
    assert s(LOGITS, history=[1, 3, 1, 4, 4, 4]) == 2
    s = Sampler(Sampling(temperature=1.0, top_k=1, repeat_penalty=2.0, repeat_last_n=2, seed=1))
    assert s(LOGITS, history=[1, 0, 4]) == 1          # 1 is outside the last 2 tokens


def test_logit_bias_bans_and_boosts():
    s = Sampler(Sampling(temperature=1.0, top_k=1, logit_bias={1: -math.inf}, seed=1))
    assert s(LOGITS) == 2
    s = Sampler(Sampling(temperature=1.0, top_k=1, logit_bias={4: 3.5}, seed=1))
    assert s(LOGITS) == 4


def test_ties_go_to_the_lower_id():
    s = Sampler(Sampling(temperature=1.0, top_k=1, seed=1))
    assert s(array("f", [0.5, 2.0, 2.0, 2.0])) == 1
