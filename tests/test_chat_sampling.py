"""Chat prompts match the GGUF's Jinja template; the sampler chain (its host reference, the
GPU's algorithm) is seeded and honours top-k, top-p, min-p, the penalties and the bias."""

import math
import re
import struct

import jinja2
import numpy as np
import pytest

from pyapp import sampling_reference as ref
from pyapp.runtime.tokenizer import chat_template
from pyapp.runtime.model.sampling import Sampling
from pyapp.runtime.gpu import shaders
from pyapp.runtime.ops.fused.sample import BIAS, SETTINGS_BYTES, SETTINGS_FIELDS, pack_settings

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


LOGITS = np.array([1.0, 3.0, 2.5, -1.0, 0.0], np.float32)


def draws(s: Sampling, n: int, logits=LOGITS, history=(), seed=None):
    seed = s.seed if seed is None else seed
    return [ref.draw(logits, s, seed, p, history)[0] for p in range(n)]


def test_philox_matches_random123s_known_answers():
    assert ref.philox4x32([0, 0, 0, 0], 0).tolist() == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
    assert ref.philox4x32([0xFFFFFFFF] * 4, 2 ** 64 - 1).tolist() == [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]
    ctr = [0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344]
    assert ref.philox4x32(ctr, 0x299F31D0 << 32 | 0xA4093822).tolist() == [0xD16CFE09, 0x94FDCCEB, 0x5001E420,
                                                                              0x24126EA1]


def test_top_k_one_is_greedy():
    assert set(draws(Sampling(temperature=1.5, top_k=1, seed=3), 50)) == {1}


def test_seeded_runs_repeat_and_seeds_differ():
    s = Sampling(temperature=1.0, top_k=0)
    assert draws(s, 40, seed=7) == draws(s, 40, seed=7)
    assert draws(s, 40, seed=7) != draws(s, 40, seed=8)


def test_frequencies_follow_softmax():
    s = Sampling(temperature=1.0, top_k=0, seed=11)
    n = 20000
    counts = np.bincount(draws(s, n), minlength=len(LOGITS))
    p = np.exp(LOGITS.astype(np.float64)) / np.exp(LOGITS.astype(np.float64)).sum()
    assert np.allclose(ref.distribution(LOGITS, s), p)
    assert np.all(np.abs(counts / n - p) < 4 * np.sqrt(p * (1 - p) / n) + 1e-3)


def test_top_p_keeps_the_nucleus():
    # softmax(LOGITS) = [.075, .553, .335, .010, .028]
    assert set(draws(Sampling(temperature=1.0, top_k=0, top_p=0.5, seed=5), 200)) == {1}  # .553 covers half
    assert set(draws(Sampling(temperature=1.0, top_k=0, top_p=0.9, seed=5), 500)) == {1, 2, 0}  # + .075 covers it


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="temperature"):
        Sampling(temperature=-1)
    with pytest.raises(ValueError, match="top_p"):
        Sampling(top_p=0)
    with pytest.raises(ValueError, match="min_p"):
        Sampling(min_p=1.5)
    with pytest.raises(ValueError, match="repeat_penalty"):
        Sampling(repeat_penalty=0)
    with pytest.raises(ValueError, match="seed"):
        Sampling(seed=2 ** 64)


def test_min_p_keeps_tokens_near_the_top():
    # softmax(LOGITS) relative to the top: [.135, 1, .607, .018, .050]
    assert set(draws(Sampling(temperature=1.0, top_k=0, min_p=0.5, seed=2), 300)) == {1, 2}
    assert set(draws(Sampling(temperature=1.0, top_k=0, min_p=0.1, seed=2), 800)) == {0, 1, 2}


def test_penalties_follow_llama_cpp():
    # token 1 seen twice: 3.0 / 2 - 2 * 0.5 - 0.25 = 0.25; token 3 (-1.0) seen once: -2.0 - 0.5 - 0.25
    s = Sampling(temperature=1.0, top_k=1, repeat_penalty=2.0, frequency_penalty=0.5, presence_penalty=0.25, seed=1)
    assert ref.adjusted(LOGITS, s, [1, 3, 1]).tolist() == [1.0, 0.25, 2.5, -2.75, 0.0]
    assert draws(s, 1, history=[1, 3, 1]) == [2]          # 2.5 now leads
    assert draws(s, 1, history=[1, 3, 1, 4, 4, 4]) == [2]
    s = Sampling(temperature=1.0, top_k=1, repeat_penalty=2.0, repeat_last_n=2, seed=1)
    assert draws(s, 1, history=[1, 0, 4]) == [1]          # 1 is outside the last 2 tokens


def test_logit_bias_bans_and_boosts():
    assert draws(Sampling(temperature=1.0, top_k=1, logit_bias={1: -math.inf}, seed=1), 1) == [2]
    assert draws(Sampling(temperature=1.0, top_k=1, logit_bias={4: 3.5}, seed=1), 1) == [4]


def test_ties_go_to_the_lower_id():
    tied = np.array([0.5, 2.0, 2.0, 2.0], np.float32)
    assert draws(Sampling(temperature=1.0, top_k=1, seed=1), 20, tied) == [1] * 20
    assert set(draws(Sampling(temperature=1.0, top_k=2, seed=1), 200, tied)) == {1, 2}
    assert draws(Sampling(temperature=0.0, repeat_penalty=1.5, seed=1), 1, tied) == [1]


def test_settings_pack_as_the_shader_reads_them():
    s = Sampling(temperature=0.7, top_k=40, top_p=0.95, min_p=0.05, repeat_penalty=1.1, repeat_last_n=64,
                 logit_bias={9: -math.inf, 2: 1.5})
    words = pack_settings(s, 100, 2 ** 40 + 3)
    assert len(words) == SETTINGS_BYTES
    head = struct.unpack_from("<fIfffffIIIII", words)
    assert head[1] == 40 and head[7] == 64 and head[8:11] == (3, 2 ** 8, 2)
    assert struct.unpack_from("<IfIf", words, 48) == (2, 1.5, 9, -math.inf)  # (id, value), by id
    assert struct.unpack_from("<If", words, SETTINGS_BYTES - 8) == (0, 0.0)
    assert struct.unpack_from("<I", pack_settings(Sampling(temperature=1.0, repeat_last_n=64), 100, 1), 28) == (0,)
    for bad in ({100: 1.0}, {1: math.nan}, {i: 1.0 for i in range(BIAS + 1)}):
        with pytest.raises(ValueError, match="logit bias"):
            pack_settings(Sampling(temperature=1.0, logit_bias=bad), 100, 1)
    with pytest.raises(ValueError, match="repeat_last_n"):
        pack_settings(Sampling(temperature=1.0, repeat_last_n=5000, repeat_penalty=1.1), 100, 1)


def test_the_settings_fields_are_the_shaders_struct():
    """pack_settings writes the fields the shader's `Settings` struct declares, in its order."""
    body = re.search(r"struct Settings \{([^}]*)\}", shaders.load("sample")).group(1)
    fields = [line.split(":")[0].strip() for line in re.sub(r"//[^\n]*", "", body).split(",") if ":" in line]
    assert tuple(fields) == SETTINGS_FIELDS
