"""A conversation with a model, without the page: the history, one turn's generation, Stop.

A turn reuses the keys and values of everything the model already ran (Model.cached_ids), so
turn 2 prefills only its own tokens. When the chat no longer fits the context (with room for
the answer), its oldest turns are dropped, and `notice` says so. The system prompt is not one of
`messages`: it goes first in every prompt, and `system=""` leaves the template's own default.
Regenerate and edit cut the history back to a question (`cut`) and run it again; the cache
reuses whatever prefix the new prompt shares with what it holds.

The page (turn.py, history.py) shows what this produces; the tests and the benchmarks drive it directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..tokenizer import chat_template
from ..model.sampling import Sampling
from ..tokenizer.tokenizer import StreamDecoder


@dataclass
class ChatSession:
    model: object
    messages: list = field(default_factory=list)  # the chat so far: [{role, content}], user first
    system: str = ""  # the system prompt; "" leaves the template's default
    stop_requested: bool = False
    notice: str = ""  # what the page should say about the last prompt (a template that failed)

    @property
    def assistant(self) -> str:
        """How the page labels the model's turns: the model's own name."""
        return self.model.cfg.basename or "Assistant"

    def clear(self):
        self.messages = []

    def cut(self, index: int) -> str:
        """Drop the message at index (a question) and all after it; return the question's text,
        to run again (regenerate) or to edit and resend."""
        text = self.messages[index]["content"]
        del self.messages[index:]
        return text

    def last_question(self) -> int | None:
        """The index of the last question, or None before the first."""
        return next((i for i in range(len(self.messages) - 1, -1, -1) if self.messages[i]["role"] == "user"), None)

    def _rendered(self) -> list[dict]:
        return ([{"role": "system", "content": self.system}] if self.system else []) + self.messages

    def prompt_ids(self, text: str, mode: str, max_new: int = 0) -> list[int]:
        """The token ids of this turn: the text itself, or the whole chat rendered by its template
        (which writes its own BOS, as Hugging Face's apply_chat_template leaves it), without the
        oldest turns if it leaves too little room for an answer of max_new tokens."""
        tok = self.model.tok
        self.notice = ""
        if mode == "completion":
            return tok.encode(text)
        self.messages.append({"role": "user", "content": text})
        room = self.model.cmax - min(max_new, self.model.cmax // 4)
        dropped = 0
        while True:
            prompt, self.notice = chat_template.prompt(tok, self._rendered())
            ids = tok.encode(prompt, add_bos=False)
            if len(ids) <= room or len(self.messages) < 3:  # the new question always stays
                break
            del self.messages[0:2]  # the oldest question and its answer
            dropped += 1
        if dropped:
            said = f"the {dropped} oldest turn{'s' if dropped > 1 else ''} of the chat left it to fit the context of " \
                   f"{self.model.cmax} tokens"
            self.notice = f"{self.notice}; {said}" if self.notice else said
        return ids

    async def turn(self, text: str, mode: str, max_new: int, sampling: Sampling, on_text, on_prefill=None):
        """Generate one answer, calling `await on_text(piece, tokens so far)` as text arrives and
        on_prefill(done, total) as the prompt runs; returns (the prompt's token ids, the Generation)."""
        before = len(self.messages)
        try:
            return await self._turn(text, mode, max_new, sampling, on_text, on_prefill)
        except BaseException:  # a failed turn leaves no trace in the history
            del self.messages[before:]
            raise

    async def _turn(self, text: str, mode: str, max_new: int, sampling: Sampling, on_text, on_prefill):
        model = self.model
        ids = self.prompt_ids(text, mode, max_new)
        stream = StreamDecoder(model.tok)
        count = 0

        async def on_token(token: int):
            nonlocal count
            count += 1
            await on_text(stream.push(token), count)

        self.stop_requested = False
        result = await model.generate(ids, sampling, max_new, on_token, lambda: self.stop_requested,
                                      reuse_cache=True, on_prefill=on_prefill)
        await on_text(stream.flush(), count)
        if mode != "completion" and not result.generated_ids:  # stopped in the prefill: no answer, no turn
            self.messages.pop()
        elif mode != "completion":
            answer = model.tok.decode(result.generated_ids, skip_control=True)
            self.messages.append({"role": "assistant", "content": answer})
        return ids, result
